"""QDQ files (DequantizeLinear on int8/uint8 weight initializers) on the int8 kernels (hlfgen/qdq.py).

* `hlfgen check` passes against onnxruntime running the same QDQ file, with the tolerance of the
  activations' quantization only (the weights are the file's): dense and HLF-factored LSTMs, per
  tensor and per axis, int8 and uint8 (zero point 128), opsets 10, 13 and 21, sizes not multiples of
  8/16, a MatMul head whose factored weight is two QDQ factors (B·C never formed); the Cortex-A73 under qemu;
* the stored int8 values and scales are exactly the file's (unpacked here from the documented
  16-column-cell layout), the weight bytes are int8-sized (computed here), and a numpy LSTM with the
  file's integers and per-step quantized x and h is the same math (tight);
* unrepresentable cases (-128, an asymmetric zero point, a scale along the input axis) stay fp32 under
  --quantize auto, with a note naming the node; --quantize int8 re-quantizes them; --quantize none is
  onnxruntime's fp32 math.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hlfgen.build import compile_out, generate, run_runner
from hlfgen.check import check, random_inputs
from hlfgen.pack import panel_rows

HAVE_CROSS = shutil.which("aarch64-linux-gnu-gcc") is not None and shutil.which("qemu-aarch64") is not None
IR = {10: 5, 13: 7, 21: 10}  # ONNX IR version of each opset


class Q:
    """Random integer weights as a QDQ file stores them: integers, scale(s), zero point(s)."""

    def __init__(self, rng, shape, axis=None, dtype="int8", lo=60, neg128=False, zp=None):
        n = 1 if axis is None else shape[axis]
        lim = rng.integers(lo, 128, n)  # per-scale-group largest |q|: a re-quantization would change them
        lim_full = lim.reshape([n if a == axis else 1 for a in range(len(shape))]) if axis is not None else lim[0]
        q = np.clip(np.rint(rng.uniform(-1, 1, shape) * lim_full), -127, 127).astype(np.int32)
        if neg128:
            q.reshape(-1)[3] = -128
        zero = 0 if dtype == "int8" else 128 if zp is None else zp
        if zp is not None:  # an asymmetric zero point: the whole uint8 range
            q = rng.integers(0, 256, shape) - zero
        self.q, self.axis = q.astype(np.int32), axis
        self.scale = rng.uniform(2e-3, 8e-3, n).astype(np.float32)
        self.stored = (self.q + zero).astype(dtype)
        self.zp = None if dtype == "int8" else np.full(n, zero, dtype)
        if axis is None:
            self.scale, self.zp = self.scale[0], None if self.zp is None else self.zp[0]

    def value(self):
        s = (
            self.scale
            if self.axis is None
            else self.scale.reshape([-1 if a == self.axis else 1 for a in range(self.q.ndim)])
        )
        return (self.q.astype(np.float32) * s).astype(np.float32)

    def node(self, name, inits):
        inits.append(numpy_helper.from_array(self.stored, f"{name}_q"))
        inits.append(numpy_helper.from_array(np.asarray(self.scale, np.float32), f"{name}_s"))
        ins = [f"{name}_q", f"{name}_s"]
        if self.zp is not None:
            inits.append(numpy_helper.from_array(np.asarray(self.zp), f"{name}_z"))
            ins.append(f"{name}_z")
        kw = {} if self.axis is None else {"axis": self.axis}
        return helper.make_node("DequantizeLinear", ins, [name], **kw)


def _save(path, nodes, inits, n_in, outs, opset):
    g = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, n_in])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
        initializer=inits,
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR[opset]), str(path))


def dense_lstm(path, n_in=19, hid=37, axis=1, dtype="int8", opset=13, seed=0, head=0, **kw):
    """LSTM on DequantizeLinear W [1, 4H, I] and R [1, 4H, H] (axis 1: per gate row); head > 0 adds
    MatMul(Y, DQ(P)) with P [H, head] per column (axis 1, the output channel)."""
    rng = np.random.default_rng(seed)
    qs = {"W": Q(rng, (1, 4 * hid, n_in), axis, dtype, **kw), "R": Q(rng, (1, 4 * hid, hid), axis, dtype, **kw)}
    inits = [numpy_helper.from_array((rng.standard_normal((1, 8 * hid)) * 0.1).astype(np.float32), "B")]
    nodes = [qs["W"].node("W", inits), qs["R"].node("R", inits)]
    nodes.append(helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hid))
    outs = ["Y", "Y_h"]
    if head:
        qs["P"] = Q(rng, (hid, head), None if axis is None else 1, dtype)
        nodes.append(qs["P"].node("P", inits))
        nodes.append(helper.make_node("MatMul", ["Y", "P"], ["Z"]))
        outs.append("Z")
    _save(path, nodes, inits, n_in, outs, opset)
    return qs


def hlf_lstm(path, n_in=23, hid=29, k=6, dtype="int8", opset=13, seed=1):
    """HLF-factored LSTM: W = B_w·C_w (rank k), R = [A' (dense gate rows i, o); B_r·C_r (f, c)], each
    factor a DequantizeLinear (per tensor, per row, per column), and a MatMul head whose weight is
    the product of two QDQ factors.  All factors are QDQ: nothing is multiplied at build time."""
    rng = np.random.default_rng(seed)
    qs = {
        "Bw": Q(rng, (4 * hid, k), 0, dtype),  # per row of B: the kernels' rows
        "Cw": Q(rng, (k, n_in), None, dtype),
        "A": Q(rng, (2 * hid, hid), 0, dtype),
        "Br": Q(rng, (2 * hid, k), None, dtype),
        "Cr": Q(rng, (k, hid), 0, dtype),
        "Ph": Q(rng, (hid, k), None, dtype),  # head W = Ph·Pc [hid, 17]: the kernels' B is Pc^T, C is Ph^T
        "Pc": Q(rng, (k, 17), 1, dtype),  # per output channel (columns)
    }
    inits = [numpy_helper.from_array(np.array([0], np.int64), "ax0")]
    nodes = [q.node(n, inits) for n, q in qs.items()]
    nodes += [
        helper.make_node("MatMul", ["Bw", "Cw"], ["W2"]),
        helper.make_node("Unsqueeze", ["W2", "ax0"], ["W"]),
        helper.make_node("MatMul", ["Br", "Cr"], ["BCr"]),
        helper.make_node("Concat", ["A", "BCr"], ["R2"], axis=0),
        helper.make_node("Unsqueeze", ["R2", "ax0"], ["R"]),
        helper.make_node("LSTM", ["X", "W", "R"], ["Y", "Y_h"], hidden_size=hid),
        helper.make_node("MatMul", ["Ph", "Pc"], ["P"]),
        helper.make_node("MatMul", ["Y", "P"], ["Z"]),
    ]
    _save(path, nodes, inits, n_in, ["Y_h", "Z"], opset)
    return qs


def unpack_qs8(data, m, n, nr):
    """The int8 matrix of a packed array: element (i, j) at (i // nr) nr n16 + (j // 16) nr 16 + (i % nr) 16 + j % 16."""
    n16 = -(-n // 16) * 16
    out = np.zeros((m, n), np.int8)
    for i in range(m):
        for j in range(n):
            out[i, j] = data[(i // nr) * nr * n16 + (j // 16) * nr * 16 + (i % nr) * 16 + j % 16]
    return out


def int8_bytes(m, n, nr):
    """Packed int8 panels (rows padded to nr, columns to 16) plus one fp32 scale per padded row."""
    rows = -(-m // nr) * nr
    return rows * (-(-n // 16) * 16) + 4 * rows


def stored(gen):
    """{symbol: (int8 matrix, row scales)} of every int8 matrix of a build."""
    w = {a.symbol: a.data for a in gen.program.weights}
    nr = gen.program.nr
    return {
        m["symbol"]: (unpack_qs8(w[m["symbol"]], *m["shape"], nr), w[m["symbol"] + "_s"][: m["shape"][0]])
        for m in gen.program.matrices
        if m["dtype"] == "int8"
    }


def assert_all_int8(gen, qs):
    """Every matrix int8, int8-sized, its rows (integers and scales) rows or columns of the file's tensors."""
    nr = gen.program.nr
    mats = gen.program.matrices
    assert mats and all(m["dtype"] == "int8" and m["qdq"] == "int8" for m in mats), mats
    assert all(m["bytes"] == int8_bytes(*m["shape"], nr) for m in mats)
    known = set()  # (int8 row, scale) of every row and column of the file's tensors along which the scale is one
    for q in qs.values():
        nd, tensors = q.q.ndim, q.q.reshape((-1,) + q.q.shape[-2:])
        ax = None if q.axis is None else q.axis % nd
        s = lambda i: float(q.scale if ax is None else q.scale[i])  # noqa: E731
        for mat in tensors:
            if ax in (None, nd - 2):
                known |= {(row.astype(np.int8).tobytes(), s(i)) for i, row in enumerate(mat)}
            if ax in (None, nd - 1):
                known |= {(col.astype(np.int8).tobytes(), s(j)) for j, col in enumerate(mat.T)}
    for sym, (q8, scales) in stored(gen).items():
        for row, s in zip(q8, scales):
            assert (row.tobytes(), float(s)) in known, sym
    return sum(m["bytes"] for m in mats)


@pytest.mark.parametrize(
    "axis,dtype,opset",
    [(1, "int8", 13), (None, "uint8", 13), (1, "uint8", 21), (None, "int8", 21), (None, "int8", 10)],
)
def test_dense_lstm_int8_matches_onnxruntime(tmp_path, axis, dtype, opset):
    qs = dense_lstm(tmp_path / "m.onnx", axis=axis, dtype=dtype, opset=opset, head=11, seed=opset)
    gen = generate(tmp_path / "m.onnx", tmp_path / "out", max_seq_len=4)
    int8 = assert_all_int8(gen, qs)
    fp32 = sum(4 * m["shape"][0] * m["shape"][1] for m in gen.program.matrices)
    assert int8 < 0.5 * fp32  # 19 and 37 columns pad to 32 and 48; wide rows approach 0.25x
    # the LSTM's W and R are the file's tensors row for row
    q8 = stored(gen)
    for name in "WR":
        sym = next(s for s in q8 if s.startswith(f"l0_d0_{name}"))
        np.testing.assert_array_equal(q8[sym][0], qs[name].q[0])
        np.testing.assert_array_equal(q8[sym][1], np.broadcast_to(qs[name].scale, q8[sym][1].shape))
    rep = check(tmp_path / "m.onnx", seq_len=9, work_dir=tmp_path / "w")
    assert rep.ok, rep.format()
    assert rep.oracle.startswith("onnxruntime (basic graph optimizations") and rep.quant_atol
    err = max(r.max_abs for r in rep.rows)
    assert 1e-5 < err < 5e-2  # the activations' quantization: visible, small
    none = check(tmp_path / "m.onnx", seq_len=9, quantize="none", work_dir=tmp_path / "n")
    assert none.ok and not none.quant_atol, none.format()


def test_hlf_lstm_stays_factored_and_matches_onnxruntime(tmp_path):
    qs = hlf_lstm(tmp_path / "h.onnx")
    gen = generate(tmp_path / "h.onnx", tmp_path / "out", max_seq_len=4, weights="c")
    assert_all_int8(gen, qs)
    shapes = sorted(tuple(m["shape"]) for m in gen.program.matrices)
    # W: C (6x23) and B (116x6); R: A' (58x29), C (6x29), B (58x6); head: C = Ph^T (6x29), B = Pc^T (17x6)
    assert shapes == sorted([(6, 23), (116, 6), (58, 29), (6, 29), (58, 6), (6, 29), (17, 6)])
    code = (gen.out_dir / f"{gen.name}.c").read_text()
    assert "Algorithm 1 line 2" in code and "Algorithm 1 line 3" in code
    assert "hlf_qs8_gemm_acc(" in code and "hlf_qs8_gemv_acc(" in code
    assert "hlf_f32_gemv_acc(" not in code and "hlf_f32_gemm_acc(" not in code
    rep = check(tmp_path / "h.onnx", seq_len=8, work_dir=tmp_path / "w")
    assert rep.ok, rep.format()
    assert max(r.max_abs for r in rep.rows) > 1e-5


def test_rank_below_6_b_stays_fp32(tmp_path):
    """A B of rank k <= 5: 16 int8 columns and a scale per row exceed fp32's 4k bytes; it keeps the
    file's dequantized values (exact) on the fp32 kernels, everything else stays the file's int8."""
    qs = hlf_lstm(tmp_path / "h.onnx", k=3)
    gen = generate(tmp_path / "h.onnx", tmp_path / "out", max_seq_len=4)
    mats = gen.program.matrices
    assert {m["dtype"] for m in mats if m["shape"][1] == 3} == {"float32"}
    assert all(m["dtype"] == "int8" and m["qdq"] == "int8" for m in mats if m["shape"][1] != 3)
    w = {a.symbol: a.data for a in gen.program.weights}
    bw = next(m for m in mats if m["shape"] == [116, 3])
    nr = gen.program.nr  # fp32 panels: nr rows column by column (hlfgen/pack.py); the first panel's first column
    np.testing.assert_array_equal(w[bw["symbol"]][:nr], qs["Bw"].value()[:nr, 0])
    rep = check(tmp_path / "h.onnx", seq_len=6, work_dir=tmp_path / "w")
    assert rep.ok, rep.format()


def test_bidirectional_gru_per_axis_uint8(tmp_path):
    """GRU (linear_before_reset=0: R's rows split in two products), both directions, per gate row uint8."""
    rng = np.random.default_rng(7)
    n_in, hid = 13, 21
    qs = {"W": Q(rng, (2, 3 * hid, n_in), 1, "uint8"), "R": Q(rng, (2, 3 * hid, hid), 1, "uint8")}
    inits = [numpy_helper.from_array((rng.standard_normal((2, 6 * hid)) * 0.1).astype(np.float32), "B")]
    nodes = [qs["W"].node("W", inits), qs["R"].node("R", inits)]
    nodes.append(
        helper.make_node("GRU", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hid, direction="bidirectional")
    )
    _save(tmp_path / "g.onnx", nodes, inits, n_in, ["Y", "Y_h"], 13)
    gen = generate(tmp_path / "g.onnx", tmp_path / "out", max_seq_len=4)
    assert_all_int8(gen, qs)
    assert len(gen.program.matrices) == 6  # per direction: W, R's z and r rows, R's h rows (times r ⊙ h)
    rep = check(tmp_path / "g.onnx", seq_len=7, work_dir=tmp_path / "w")
    assert rep.ok, rep.format()


def _ref_lstm(qw, sw, qr, sr, B, x):
    """ONNX LSTM (i o f c) with the file's integer weights and x, h quantized per step (max|v| / 127)."""

    def qv(v):
        amax = np.float32(np.abs(v).max())
        return (np.zeros_like(v), np.float32(0)) if amax == 0 else (np.rint(v * (np.float32(127) / amax)), amax / 127)

    H = qr.shape[1]
    h, c = np.zeros(H), np.zeros(H)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for xt in x[:, 0]:
        (xq, xs), (hq, hs) = qv(xt.astype(np.float32)), qv(h.astype(np.float32))
        g = (sw * xs) * (qw @ xq) + (sr * hs) * (qr @ hq) + B[: 4 * H] + B[4 * H :]
        i, o, f, gc = sig(g[:H]), sig(g[H : 2 * H]), sig(g[2 * H : 3 * H]), np.tanh(g[3 * H :])
        c = f * c + i * gc
        h = o * np.tanh(c)
    return h


def test_same_math_as_the_files_integers(tmp_path):
    """A numpy LSTM on the file's integers and scales (not re-quantized: |q| < 127 in most rows) with
    x and h quantized per step: the build is that math within 1e-4."""
    qs = dense_lstm(tmp_path / "m.onnx", n_in=21, hid=27, axis=1, seed=5)
    gen = generate(tmp_path / "m.onnx", tmp_path / "out", max_seq_len=10)
    feeds = random_inputs(gen.model, 10, seed=3)
    out, _ = run_runner(compile_out(gen.out_dir, tmp_path / "b"), feeds, work_dir=tmp_path / "run")
    B = numpy_helper.to_array(next(t for t in onnx.load(tmp_path / "m.onnx").graph.initializer if t.name == "B"))[0]
    W, R = qs["W"], qs["R"]
    want = _ref_lstm(W.q[0], W.scale, R.q[0], R.scale, B, feeds["X"].astype(np.float64))
    assert np.abs(out["Y_h"].reshape(-1) - want).max() < 1e-4
    # re-quantizing the dequantized weights (max|row| / 127) would be another model
    requant = check(tmp_path / "m.onnx", seq_len=10, quantize="int8", work_dir=tmp_path / "i")
    assert requant.ok, requant.format()
    assert all(
        m["qdq"] == "int8" for m in generate(tmp_path / "m.onnx", tmp_path / "o2", quantize="int8").program.matrices
    )


@pytest.mark.parametrize(
    "case,why",
    [
        (dict(neg128=True), "holds -128"),
        (dict(dtype="uint8", zp=100, lo=127), "asymmetric zero point"),
        (dict(axis=2), "scale varies along the rows"),
    ],
)
def test_unrepresentable_stays_fp32_with_a_note(tmp_path, case, why):
    dense_lstm(tmp_path / "m.onnx", **case)
    gen = generate(tmp_path / "m.onnx", tmp_path / "out", max_seq_len=4)
    assert all(m["dtype"] == "float32" for m in gen.program.matrices)
    notes = gen.program.notes
    assert len(notes) == 2 and all(why in n for n in notes), notes
    assert any("DequantizeLinear 'W'" in n for n in notes) and any("DequantizeLinear 'R'" in n for n in notes)
    rep = check(tmp_path / "m.onnx", seq_len=6, work_dir=tmp_path / "w")
    assert rep.ok and not rep.quant_atol, rep.format()  # onnxruntime's fp32 math, the plain tolerance
    q = generate(tmp_path / "m.onnx", tmp_path / "q", max_seq_len=4, quantize="int8")
    assert all(m["dtype"] == "int8" and m["qdq"] == "refused" for m in q.program.matrices)
    assert all("re-quantized per row" in n for n in q.program.notes)


def test_cli_build_and_inspect(tmp_path):
    hlf_lstm(tmp_path / "h.onnx", dtype="uint8")
    env_py = [sys.executable, "-m", "hlfgen"]
    out = subprocess.run(
        env_py + ["build", str(tmp_path / "h.onnx"), "-o", str(tmp_path / "o")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "7 matrices stored int8 as the file's DequantizeLinear weights" in out.stdout
    ins = subprocess.run(
        env_py + ["inspect", str(tmp_path / "h.onnx"), "--quantize", "auto"], capture_output=True, text=True
    )
    assert ins.returncode == 0, ins.stderr
    rows = [line for line in ins.stdout.splitlines() if "DequantizeLinear integers" in line]
    assert len(rows) == 7 and all(" int8 " in r for r in rows)
    none = subprocess.run(
        env_py + ["inspect", str(tmp_path / "h.onnx"), "--quantize", "none"], capture_output=True, text=True
    )
    assert sum(" float32 " in line for line in none.stdout.splitlines()) == 7
    assert "DequantizeLinear integers" not in none.stdout


@pytest.mark.skipif(not HAVE_CROSS, reason="needs the aarch64 cross tools")
def test_cortex_a73_under_qemu(tmp_path):
    qs = hlf_lstm(tmp_path / "h.onnx", dtype="uint8", seed=4)
    gen = generate(tmp_path / "h.onnx", tmp_path / "out", max_seq_len=4, target="cortex-a73")
    assert gen.program.nr == panel_rows("cortex-a73")
    assert_all_int8(gen, qs)
    rep = check(tmp_path / "h.onnx", target="cortex-a73", seq_len=7, work_dir=tmp_path / "w")
    assert rep.ok, rep.format()
