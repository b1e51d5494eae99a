"""`hlfgen bench --quick`: it runs, writes the markdown and JSON, and its numbers hang together.

No timed assertions: times are only checked to be positive and finite.  The
AArch64 instruction counts are deterministic, so the HLF/dense instruction
ratio is checked against Eq. 5 computed here, independently of hlfgen.hlf.
The quick run also builds the fp16 and int8 variants of dense and HLF
(``--quantize none,fp16,int8``): their weight bytes are deterministic.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run away from the repo root (python -m would import the source tree instead of the installed
# hlfgen) and point the bench at bench/insn_count explicitly.
ENV = dict(os.environ, HLFGEN_BENCH_DIR=str(REPO_ROOT / "bench"))
HAVE_QEMU = bool(shutil.which("qemu-aarch64") and shutil.which("aarch64-linux-gnu-gcc"))


def _eq5_lstm_square(h: int, cf: Fraction, k: int = 1) -> float:
    """Eq. 4/5 for one h x h gate matrix (every W and R gate block of a square LSTM has this shape).

    j is the largest row count of the dense block with m·n / (j·n + k·(m - j + n)) >= cf;
    the operation reduction is m·n / (j·n + k·n + k·(m - j)).
    """
    m = n = h
    j = max(jj for jj in range(m) if Fraction(m * n, jj * n + k * (m - jj + n)) >= cf)
    return m * n / (j * n + k * n + k * (m - j))


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hlfgen",
            "bench",
            "--quick",
            "-o",
            str(out),
            "--rounds",
            "2",
            "--call-ms",
            "5",
            "--quantize",
            "none,fp16,int8",
        ],
        capture_output=True,
        text=True,
        cwd=out,
        env=ENV,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "bench.json").read_text()), (out / "benchmarks.md").read_text()


def _row(res, scheme):
    rows = [s for s in res["summary"] if s["scheme"] == scheme]
    assert len(rows) == 1, (scheme, rows)
    return rows[0]


def test_quick_writes_markdown_and_json(quick):
    out, res, md = quick
    assert res["config"]["sizes"] == ["lstm128"] and res["config"]["cfs"] == ["2.5"]
    assert {s["scheme"] for s in res["summary"]} - {"pruned-sparse"} == {"dense", "small", "lmf", "hlf", "pruned"}
    assert "## LSTM 128 (`lstm128`)" in md and "## Targets (issue 5)" in md and "## Phases" in md
    for scheme in ("dense", "small", "lmf", "hlf", "pruned"):
        assert f"| {scheme}" in md
    assert res["machine"]["cores"] >= 1 and res["machine"]["cpu"]
    assert not res["failures"]
    for phase in ("models", "builds", "timing", "total"):
        assert res["phases"][phase] >= 0
    # the pruned model was built with every sparse mode; "pruned" in the summary is the fastest of them
    modes = {r["mode"] for r in res["rows"] if r["scheme"] == "pruned"}
    assert modes == {"auto", "csr", "block"}
    fastest = min((r for r in res["rows"] if r["scheme"] == "pruned"), key=lambda r: r["us_per_step"]["median"])
    assert _row(res, "pruned")["us"] == fastest["us_per_step"]


def test_quick_times_and_ratios_are_sane(quick):
    _, res, _ = quick
    for s in res["summary"]:
        t = s["us"]
        assert 0 < t["min"] <= t["median"] <= t["max"] and math.isfinite(t["max"]), s
        assert 0 < s["speedup"] < math.inf
        assert s["eff_bw_gbs"] > 0 and (s["probe_bw_gbs"] is None or s["probe_bw_gbs"] > 0)
        for base in ("ort", "tract"):
            if f"vs_{base}" in s:
                assert 0 < s[f"vs_{base}"] < math.inf
    assert _row(res, "dense")["speedup"] == 1.0
    assert res["config"]["ort"] and "vs_ort" in _row(res, "hlf")
    # the unflagged (run-time dispatch) build is timed in the same rounds as the native one
    for scheme in ("dense", "hlf"):
        assert _row(res, scheme)["default_us"] > 0
    for s in res["summary"]:
        if "default_us" in s:
            assert s["default_vs_native"] == s["default_us"] / s["us"]["median"], s
    assert any(r.get("default_us_per_step") for r in res["rows"])
    # compression: every compressed scheme stores fewer weights than dense (bias and padding aside)
    dense_bytes = _row(res, "dense")["weight_bytes"]
    for scheme in ("small", "lmf", "hlf"):
        assert _row(res, scheme)["weight_bytes"] < dense_bytes / 2.5 * 1.3


def test_quick_eq5_and_instruction_counts(quick):
    _, res, _ = quick
    eq5 = _eq5_lstm_square(128, Fraction(5, 2))
    hlf = _row(res, "hlf")
    assert hlf["eq5"] == pytest.approx(eq5, rel=1e-9)
    if not HAVE_QEMU:
        pytest.skip("needs qemu-user and gcc-aarch64-linux-gnu")
    dense = _row(res, "dense")
    assert dense["insn_per_step"] > 128 * 128 * 8 * 0.25  # at least a fraction of an instruction per dense MAC
    ratio = hlf["insn_per_step"] / dense["insn_per_step"]
    # HLF runs the same activations and state updates as dense and its matrix work shrinks by Eq. 5 at best:
    # it cannot beat 1/Eq.5 (beyond rounding), and it must beat dense.
    assert 0.95 / eq5 <= ratio < 1.0, (ratio, 1 / eq5)
    assert hlf["insn_speedup"] == pytest.approx(1 / ratio)
    # the instruction-count targets are evaluated from these numbers
    t = [t for t in res["targets"] if t["target"] == "HLF speed-up >= 0.8x Eq. 5 (aarch64 insns)"]
    assert len(t) == 1 and t[0]["value"] == pytest.approx(hlf["insn_speedup"] / eq5, rel=1e-9)
    for t in res["targets"]:
        assert t["met"] in (True, False, None)
        if t["met"] is False:
            assert t["miss_factor"] > 1


def test_two_layer_model_matches_onnxruntime(tmp_path):
    """The stacked 2-layer models (PTB-medium's shape, here tiny) compile and agree with onnxruntime."""
    from conftest import assert_parity
    from hlfgen.bench import Size, make_model

    size = Size("t", "gru", 12, 16, layers=2)
    for scheme, cf in (("hlf", "2.5"), ("small", "2.5")):
        path = tmp_path / f"{scheme}.onnx"
        make_model(size, scheme, cf, 1, path)
        assert_parity(path, seq_len=5)  # the runner against onnxruntime run here, not check()'s own verdict


def test_report_only_rerenders_from_json(quick):
    out, res, md = quick
    (out / "benchmarks.md").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "hlfgen", "bench", "--report-only", "-o", str(out), "--no-plot"],
        capture_output=True,
        text=True,
        cwd=out,
        env=ENV,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = (out / "benchmarks.md").read_text()
    assert again.split("## Phases")[0] == md.split("## Phases")[0]


def _qrow(res, scheme, weights):
    rows = [e for e in res["quantized"] if e["scheme"] == scheme and e["weights"] == weights]
    assert len(rows) == 1, (scheme, weights, res["quantized"])
    return rows[0]


def test_quick_quantized_rows_and_ratios(quick):
    """--quantize: fp32, fp16 and int8 rows of dense and HLF, their ratios from the rows' measured fields."""
    _, res, md = quick
    assert res["config"]["quantize"] == ["none", "fp16", "int8"]
    assert "## Quantized weights" in md
    assert {(e["scheme"], e["weights"]) for e in res["quantized"]} == {
        (s, w) for s in ("dense", "hlf") for w in ("fp32", "fp16", "int8")
    }
    rows = {r["key"]: r for r in res["rows"]}
    for e in res["quantized"]:
        key = f"lstm128_{e['scheme']}" + ("_cf2p5" if e["cf"] else "")
        r, b = rows[key + ("" if e["quantize"] == "none" else "_" + e["quantize"])], rows[key]
        assert r["quantize"] == e["quantize"] and b["quantize"] == "none"
        wb = "a73_weight_bytes" if e["bytes_target"] == "cortex-a73" else "weight_bytes"
        assert e["weight_bytes"] == r[wb] and e["bytes_vs_fp32"] == r[wb] / b[wb]
        assert e["host_bytes_vs_fp32"] == r["weight_bytes"] / b["weight_bytes"]
        assert e["time_vs_fp32"] == r["us_per_step"]["median"] / b["us_per_step"]["median"] > 0
        if HAVE_QEMU:
            assert e["insn_vs_fp32"] == r["insn_per_step"] / b["insn_per_step"] > 0
            # the estimated board time of each build (the qemu plugin's cache model), against its fp32 build's
            assert e["a73_us"] == r["a73_us_per_step"] and e["a73_bound"] == r["a73"]["bound"]
            assert e["a73_vs_fp32"] == r["a73_us_per_step"] / b["a73_us_per_step"] > 0
        row_md = f"| LSTM 128 | {e['scheme']} | {e['cf_label']} | {e['weights']} | {e['weight_bytes']:,} |"
        assert row_md in md
    # the fp32 summary is unchanged by the quantized builds (one row per scheme, fp32 bytes)
    assert _row(res, "hlf")["weight_bytes"] == rows["lstm128_hlf_cf2p5"]["weight_bytes"]
    if not HAVE_QEMU:
        pytest.skip("the byte bounds are the cortex-a73 build's (needs gcc-aarch64-linux-gnu and qemu-user)")
    # Structural (deterministic) bounds on the cortex-a73 build.  fp16 shares fp32's unpadded panels
    # (only the fp32 biases keep fp16 above 0.5x); int8's 16-column cells sit in zero-padded 8-row panels,
    # so HLF's 49-row dense blocks take 56 rows: int8 HLF 0.293x at LSTM 128, dense 0.261x.
    assert _qrow(res, "hlf", "int8")["bytes_vs_fp32"] < 0.3
    assert _qrow(res, "hlf", "fp16")["bytes_vs_fp32"] < 0.52
    assert _qrow(res, "dense", "int8")["bytes_vs_fp32"] < 0.27
    assert _qrow(res, "dense", "fp16")["bytes_vs_fp32"] < 0.51
    # fp16 runs more AArch64 instructions than fp32 (widening; docs/quantization.md).  int8 runs fewer for
    # dense (0.90x at LSTM 128); for HLF at LSTM 128 it ran 0.82x of fp32 before issue 11's fp32 kernels
    # and 0.998x since (bench/quant.py, T = 8: 25468 vs 25514 per step; the per-step quantization of h and t
    # and the activations do not shrink): bounded, not claimed below 1 (0.84-0.85x at LSTM 512 and 650 x 2).
    for scheme in ("dense", "hlf"):
        assert 1 < _qrow(res, scheme, "fp16")["insn_vs_fp32"]
    assert _qrow(res, "dense", "int8")["insn_vs_fp32"] < 1
    assert _qrow(res, "hlf", "int8")["insn_vs_fp32"] < 1.05


def test_report_of_a_bench_json_without_quantize(quick):
    """A bench.json from before --quantize (no quantized rows, no quantize fields) renders as before."""
    import copy

    from hlfgen.bench import format_markdown, summarize, summarize_quantized

    _, res, md = quick
    old = copy.deepcopy(res)
    old["rows"] = [r for r in old["rows"] if r["quantize"] == "none"]
    for r in old["rows"]:
        del r["quantize"], r["matrix_bytes"]
        r.pop("a73_weight_bytes", None)
    del old["config"]["quantize"], old["quantized"]
    assert summarize(old) == res["summary"]
    assert summarize_quantized(old) == []
    again = format_markdown(old)  # no "quantized" key at all
    assert "Quantized weights" not in again
    assert again.split("## Targets")[1] == md.split("## Targets")[1]


def test_quick_a73_estimate(quick):
    """Every scheme has an estimated HiKey 960 time; the dense LSTM 128 step streams R from L2, not DRAM."""
    _, res, md = quick
    if not HAVE_QEMU:
        pytest.skip("needs qemu-user and gcc-aarch64-linux-gnu")
    assert "| A73 µs est. |" in md
    for s in res["summary"]:
        assert 0 < s["a73_us"] < math.inf and s["a73_bound"] in ("issue", "fpsimd", "ldst", "branch", "memory"), s
        # never faster than issuing its instructions two per cycle at 2.36 GHz
        assert s["a73_us"] >= s["insn_per_step"] / 2 / 2.36e9 * 1e6 * (1 - 1e-9), s
    dense = next(r for r in res["rows"] if r["scheme"] == "dense")
    a = dense["a73"]
    r_bytes = 4 * 128 * 128 * 4  # the four recurrent gate matrices, fp32, read every step
    assert a["l2_bytes_per_step"] + a["dram_bytes_per_step"] >= 0.9 * r_bytes, a  # 512 KiB of weights > L1D
    assert a["dram_bytes_per_step"] < 0.1 * r_bytes, a  # ... but < L2: warm steps stay out of DRAM
    assert a["compute_us_per_step"] > 0 and a["memory_us_per_step"] > 0
