"""examples/nmt: an encoder and a decoder-step graph, compiled by hlfgen and linked into one C
program with a greedy decoding loop, decode the same tokens as PyTorch's greedy decode."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nmt" / "deploy.py"
HAVE_A64 = bool(shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "target",
    [
        "host",
        pytest.param(
            "cortex-a73", marks=pytest.mark.skipif(not HAVE_A64, reason="needs gcc-aarch64-linux-gnu and qemu-user")
        ),
    ],
)
def test_greedy_decode_equals_pytorch(target, tmp_path):
    # A few training steps: the decode is not yet a reversal, but argmax ties are as rare as
    # with a trained model, and the tokens still depend on every weight and every step's state.
    proc = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "-o",
            str(tmp_path),
            "--target",
            target,
            "--steps",
            "40",
            "--sentences",
            "12",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["same_as_pytorch"] == report["sentences"] == 12, report
    # both graphs kept their HLF factors (hlfgen.torch.export verified them) and the program links both
    for name in ("nmt_enc", "nmt_dec"):
        assert (tmp_path / name / f"{name}.h").is_file()
