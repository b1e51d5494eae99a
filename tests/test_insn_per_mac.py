"""Deterministic instruction counts of a whole compiled step under qemu (not a timing)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "insn_per_mac.py"

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-aarch64") and shutil.which("aarch64-linux-gnu-gcc") and shutil.which("gcc")),
    reason="needs qemu-user and gcc-aarch64-linux-gnu",
)


def _bench():
    spec = importlib.util.spec_from_file_location("insn_per_mac", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dense_lstm256_step_within_target(tmp_path):
    """The dense step of a 256x256 LSTM executes at most 0.40 instructions per MAC (0.343 measured, GCC 12;
    issue 11's target for the recurrent GEMV alone is 0.40)."""
    bench = _bench()
    model = tmp_path / "dense.onnx"
    bench.dense_model(model, "lstm", 256, 256)
    res = bench.measure(model, tmp_path / "w", steps=4)
    assert res["macs_per_step"] == 4 * 256 * (256 + 256)
    assert res["insn_per_mac"] <= 0.40, res
    # The multiply-adds are there: 4 MACs per FMLA, so at least MACs/4 of them.
    assert res["histogram_per_step"]["fmla"] >= res["macs_per_step"] / 4


def test_hlf_step_executes_fewer_instructions(tmp_path):
    """HLF at compression 2.5 runs Algorithm 1: far fewer instructions than the dense step."""
    from hlfgen.example import write_example

    bench = _bench()
    dense, hlf = tmp_path / "dense.onnx", tmp_path / "hlf.onnx"
    bench.dense_model(dense, "lstm", 128, 128)
    write_example(hlf, kind="lstm", input_size=128, hidden_size=128, compression=2.5, k=1)
    d = bench.measure(dense, tmp_path / "d", steps=4)
    h = bench.measure(hlf, tmp_path / "h", steps=4)
    assert h["macs_per_step"] < d["macs_per_step"] / 2.4
    # 1.79x with padded panels, 1.68x after the dense kernels lost their PRFMs (ecb1cb5); short panels as
    # LD1-LD4 dot products and rank-1 B·t as an axpy (issue 11) give 1.95x (T = 16).
    assert h["insn_per_step"] < d["insn_per_step"] / 1.85, (d, h)
