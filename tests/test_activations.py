"""Accuracy of every ONNX activation the generated code uses, against libm in double precision.

Host (gcc, clang) and AArch64 (portable and NEON builds, under qemu).  Also
the claims in runtime/hlf_activations.h's header comment.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "c" / "activations_driver.c"

# Maximum error allowed: absolute where |f| <= 1, relative beyond (alpha 0.7, beta 1.3).
LIMITS = {
    "Sigmoid": 2e-7,
    "Tanh": 2.5e-7,
    "ScaledTanh": 2.5e-7,
    "Elu": 2e-7,
    "Softplus": 1e-6,
    "HardSigmoid": 1e-7,
    "Softsign": 1e-7,
    "LeakyRelu": 1.2e-7,
    "ThresholdedRelu": 0.0,
    "Affine": 1.2e-7,
    "Relu": 0.0,
}
# onnxruntime maps NaN to 0 in these two (max(0, x) and x >= alpha ? x : 0).
NAN_TO_ZERO = {"Relu", "ThresholdedRelu"}

BUILDS = {
    "host-gcc": (["gcc"], []),
    "host-clang": (["clang"], []),
    "aarch64-portable": (["aarch64-linux-gnu-gcc", "-static", "-mcpu=cortex-a73"], []),
    "aarch64-neon": (["aarch64-linux-gnu-gcc", "-static", "-mcpu=cortex-a73"], ["-DHLF_USE_NEON"]),
}


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_activation_accuracy(build, tmp_path):
    cc, defs = BUILDS[build]
    if not shutil.which(cc[0]) or (build.startswith("aarch64") and not shutil.which("qemu-aarch64")):
        pytest.skip(f"{cc[0]} / qemu-aarch64 not installed")
    exe = tmp_path / "act"
    subprocess.run(
        [
            *cc,
            "-O3",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-ffp-contract=fast",
            "-fno-trapping-math",
            *defs,
            f"-I{ROOT / 'runtime'}",
            str(DRIVER),
            "-lm",
            "-o",
            str(exe),
        ],
        check=True,
    )
    cmd = (["qemu-aarch64"] if build.startswith("aarch64") else []) + [str(exe)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    results = {}
    for line in out.splitlines():
        name, err, bad, nan_ok = line.split()
        results[name] = (float(err), int(bad), int(nan_ok))
    assert set(results) == set(LIMITS)
    for name, (err, bad, nan_ok) in results.items():
        assert not bad, f"{name}: wrong value at an infinity or a NaN output ({build})"
        assert err <= LIMITS[name], f"{name}: max abs error {err:.3g} > {LIMITS[name]:.3g} ({build})"
        assert bool(nan_ok) != (name in NAN_TO_ZERO), f"{name}: NaN handling differs from onnxruntime ({build})"
