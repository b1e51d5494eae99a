"""The default host build's run-time kernel dispatch (runtime/hlf_dispatch.h).

One generated model, built the default way (no flags) and with
HLF_NATIVE=ON: the default library holds every instruction-set variant of the
kernels, each variant this CPU runs (chosen through the dispatcher's
HLF_MAX_ISA cap) gives onnxruntime's outputs, and the same binary runs on a
CPU without AVX (qemu-x86_64 -cpu qemu64, SSE2 only).  Kernel-level parity
of every variant: tests/test_neon_kernels.py and tests/test_sparse.py
(dispatch-* variants).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from hlfgen.build import compile_out, generate
from hlfgen.check import oracle_outputs, random_inputs
from hlfgen.example import write_example
from test_neon_kernels import IS_X86_64, ISA_CPU_FLAGS, cpu_flags

ATOL, RTOL = 1e-4, 1e-3
NAME = "disp"
pytestmark = pytest.mark.skipif(not IS_X86_64 or shutil.which("gcc") is None, reason="needs an x86-64 host with gcc")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dispatch")
    model = tmp / "m.onnx"
    # hidden 37: panels of 16 rows with a partial last one; HLF k = 2.
    write_example(model, kind="lstm", input_size=13, hidden_size=37, compression=2.5, k=2, seed=5)
    gen = generate(model, tmp / "out", name=NAME, max_seq_len=11)
    default = compile_out(gen.out_dir, tmp / "build-default", werror=True)
    native = compile_out(gen.out_dir, tmp / "build-native", werror=True, native=True)
    feeds = random_inputs(gen.model, 11, seed=7)
    expected, _ = oracle_outputs(model, feeds)
    return tmp, default, native, feeds, expected


def _run(exe, feeds, work, prefix=(), env=None):
    work.mkdir(parents=True, exist_ok=True)
    args = []
    for i, (name, arr) in enumerate(feeds.items()):
        np.save(work / f"in{i}.npy", arr)
        args += ["--input", f"{name}={work / f'in{i}.npy'}"]
    out = work / "out"
    out.mkdir(exist_ok=True)
    proc = subprocess.run(
        [*prefix, str(exe), *args, "--out-dir", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return {p.stem: np.load(p) for p in out.glob("*.npy")}


def _check(outs, expected):
    assert set(expected) <= set(outs)
    for name, exp in expected.items():
        np.testing.assert_allclose(outs[name], exp, atol=ATOL, rtol=RTOL)


def _symbols(exe):
    return subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout


def test_default_build_holds_every_variant(built):
    """Every kernel in every ISA behind the dispatcher (runtime/hlf_dispatch.h); the runtime's
    names (hlf_<id>_<variant>_, hlfgen/namespace.py) say which variant they belong to."""
    _, default, native, _, _ = built
    syms = _symbols(default)
    for isa in ("sse2", "avx2", "avx512f", "dispatch"):
        for kernel in ("gemv_acc_16x1", "gemm_acc_16x1", "spmv_csr_acc", "spmm_bcsr_acc", "sigmoid", "tanh"):
            assert re.search(rf" hlf_[0-9a-f]{{8}}_dispatch_f32_{kernel}__{isa}\n", syms), (kernel, isa)
    assert re.search(r" hlf_[0-9a-f]{8}_dispatch_kernels_isa\n", syms)
    # -march=native compiles one set, no dispatch.
    native_syms = _symbols(native)
    assert "__avx2" not in native_syms and "_dispatch_" not in native_syms
    assert re.search(r" hlf_[0-9a-f]{8}_scalar_f32_gemv_acc_16x1__scalar\n", native_syms)


@pytest.mark.parametrize("isa", ["sse2", "avx2", "avx512f"])
def test_each_variant_matches_onnxruntime(built, isa):
    tmp, default, _, feeds, expected = built
    if not ISA_CPU_FLAGS[isa] <= cpu_flags():
        pytest.skip(f"this CPU has no {isa}")
    _check(_run(default, feeds, tmp / f"run-{isa}", env={"HLF_MAX_ISA": isa}), expected)


def test_native_build_matches_onnxruntime(built):
    tmp, _, native, feeds, expected = built
    _check(_run(native, feeds, tmp / "run-native"), expected)


def test_default_build_runs_without_avx(built):
    """The same binary on an SSE2-only x86-64 CPU (qemu's qemu64 model)."""
    if shutil.which("qemu-x86_64") is None:
        pytest.skip("needs qemu-x86_64")
    tmp, default, _, feeds, expected = built
    _check(_run(default, feeds, tmp / "run-qemu64", prefix=("qemu-x86_64", "-cpu", "qemu64")), expected)


@pytest.mark.parametrize("quantize", ["fp16", "int8"])
def test_quantized_kernels_dispatch(built, quantize):
    """--quantize: the fp16/int8 kernels are dispatched too; every variant gives the
    -march=native build's outputs (the quantized math is the same; the quantization
    error itself is tested by tests/test_quantize.py)."""
    tmp, _, _, feeds, _ = built
    model = tmp / "m.onnx"
    gen = generate(model, tmp / f"out-{quantize}", name=NAME, max_seq_len=11, quantize=quantize)
    default = compile_out(gen.out_dir, tmp / f"build-{quantize}", werror=True)
    native = compile_out(gen.out_dir, tmp / f"build-{quantize}-native", werror=True, native=True)
    want = _run(native, feeds, tmp / f"run-{quantize}-native")
    for isa in ("sse2", "avx2", "avx512f"):
        if not ISA_CPU_FLAGS[isa] <= cpu_flags():
            continue
        got = _run(default, feeds, tmp / f"run-{quantize}-{isa}", env={"HLF_MAX_ISA": isa})
        for name, exp in want.items():
            np.testing.assert_allclose(got[name], exp, atol=1e-5, rtol=1e-4, err_msg=f"{quantize} {isa} {name}")
