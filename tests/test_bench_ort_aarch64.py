"""`hlfgen bench --ort-aarch64`: onnxruntime's AArch64 library under qemu, counted and checked against the host's.

Runs only when onnxruntime-node's library is already in the cache (a `hlfgen bench --ort-aarch64` ran on
this machine) or HLF_TEST_ORT_AARCH64=1 asks for it (then it is fetched with npm): never downloads by default.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from hlfgen.bench import ort_aarch64
from hlfgen.bench.jobs import find_insn_count
from hlfgen.bench.report import format_markdown, summarize

ort = pytest.importorskip("onnxruntime")

needs_ort_a64 = [
    pytest.mark.skipif(
        not (ort_aarch64.is_set_up() or os.environ.get("HLF_TEST_ORT_AARCH64") == "1"),
        reason="onnxruntime-node not cached (set HLF_TEST_ORT_AARCH64=1 to fetch it with npm)",
    ),
    pytest.mark.skipif(bool(ort_aarch64.tools_missing()), reason="qemu-aarch64 or aarch64-linux-gnu-gcc missing"),
    pytest.mark.skipif(find_insn_count() is None, reason="bench/insn_count not found"),
]

T, I, H = 6, 10, 8


def _tiny_lstm(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    w = (rng.standard_normal((1, 4 * H, I)) * 0.3).astype(np.float32)
    r = (rng.standard_normal((1, 4 * H, H)) * 0.3).astype(np.float32)
    b = (rng.standard_normal((1, 8 * H)) * 0.1).astype(np.float32)
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], hidden_size=H)
    g = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, 1, I])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"), numpy_helper.from_array(b, "B")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return rng.standard_normal((T, 1, I)).astype(np.float32)


@pytest.fixture(scope="module")
def paths():
    return ort_aarch64.setup(download=os.environ.get("HLF_TEST_ORT_AARCH64") == "1")


def _needs_ort_a64(f):
    for mark in needs_ort_a64:
        f = mark(f)
    return f


@_needs_ort_a64
def test_outputs_match_host_onnxruntime(paths, tmp_path):
    model = tmp_path / "tiny.onnx"
    x = _tiny_lstm(model)
    got = ort_aarch64.run_outputs(paths, model, {"X": x}, tmp_path)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    want = dict(zip(names, sess.run(None, {"X": x})))
    assert sorted(got) == sorted(want)
    for n in names:
        assert got[n].shape == want[n].shape
        # different builds of the same kernels (AArch64 NEON vs host SIMD exp/tanh): last-bit differences
        np.testing.assert_allclose(got[n], want[n], rtol=1e-5, atol=1e-6)


@_needs_ort_a64
def test_count_is_positive_and_cached(paths, tmp_path):
    model = tmp_path / "tiny.onnx"
    x = _tiny_lstm(model)
    work = tmp_path / "w"
    res = ort_aarch64.count_insn(paths, model, x, T, work, find_insn_count())
    assert res["insn_per_step"] > 0 and not res["cached"]
    assert res["insn_setup"] > res["insn_per_step"] * T  # session creation dwarfs one run
    again = ort_aarch64.count_insn(paths, model, x, T, work, find_insn_count())
    assert again["cached"] and again["insn_per_step"] == res["insn_per_step"]
    # deterministic (no wall-clock-driven telemetry thread): a fresh count gives the same number
    fresh = ort_aarch64.count_insn(paths, model, x, T, tmp_path / "w2", find_insn_count())
    assert not fresh["cached"] and fresh["insn_per_step"] == res["insn_per_step"]


def test_report_column():
    """The summary's ratio, the markdown's two columns (no qemu: always runs)."""
    row = {
        "size": "lstm128",
        "scheme": "dense",
        "cf": None,
        "mode": "auto",
        "key": "lstm128-dense",
        "kernels": [],
        "weight_bytes": 1024,
        "us_per_step": {"median": 2.0, "min": 1.9, "max": 2.1},
        "eff_bw_gbs": 1.0,
        "probe_bw_gbs": 2.0,
        "insn_per_step": 900.0,
        "ort_a64_insn_per_step": 1000.0,
    }
    res = {"rows": [row], "config": {"sizes": ["lstm128"], "cfs": [], "steps": 35, "ort_aarch64": "1.30.0"}}
    (s,) = summarize(res)
    assert s["vs_ort_a64_insn"] == pytest.approx(0.9)
    res.update(
        summary=[s],
        targets=[],
        failures=[],
        phases={"models": 0, "builds": 0, "timing": 0, "total": 0},
        phase_detail={"generate_s": 0, "a73_generate_s": 0, "compile_s": 0, "a73_compile_s": 0, "slowest_compiles": []},
        machine={"cpu": "x", "cores": 2, "gcc": "gcc", "onnxruntime": "1", "tract": None},
    )
    res["config"].update(rounds=1, call_s=0.02, jobs=1, insn_steps=16)
    md = format_markdown(res)
    assert "ORT-aarch64 insn/step" in md and "| 1000 | 0.90 |" in md
