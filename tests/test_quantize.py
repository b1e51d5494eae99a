"""hlfgen build --quantize fp16|int8, end to end.

* `hlfgen check --quantize` (the fp32 model in onnxruntime, the tolerance
  widened by the quantization's effect) passes for HLF LSTM / GRU
  (bidirectional) models and a dense LSTM with a MatMul head, on the host and
  on the Cortex-A73 (NEON kernels, qemu);
* tight oracles for the same math: fp16 against onnxruntime running the model
  with its weight matrices rounded to fp16; int8 against a numpy LSTM written
  here (per-row int8 weights, x and h quantized per step);
* the generated code keeps Algorithm 1 factored (separate C and B calls, B·C
  never formed) and the weights shrink as they should; bad modes are one-line
  errors; `hlfgen inspect --quantize` lists each matrix's dtype and bytes.
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
from hlfgen.check import check, compare, oracle_outputs, random_inputs
from hlfgen.errors import HlfgenError
from hlfgen.example import write_example

HAVE_CROSS = shutil.which("aarch64-linux-gnu-gcc") is not None and shutil.which("qemu-aarch64") is not None
TARGETS = [
    "host",
    pytest.param("cortex-a73", marks=pytest.mark.skipif(not HAVE_CROSS, reason="needs the aarch64 cross tools")),
]


def _dense_lstm_head(path, input_size=19, hidden=37, out=11, seed=0):
    """LSTM (dense) -> Squeeze -> MatMul by a constant -> Add: a linear node after the layer."""
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((1, 4 * hidden, input_size)) / np.sqrt(input_size)).astype(np.float32)
    R = (rng.standard_normal((1, 4 * hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    B = (rng.standard_normal((1, 8 * hidden)) * 0.1).astype(np.float32)
    P = (rng.standard_normal((hidden, out)) / np.sqrt(hidden)).astype(np.float32)
    pb = (rng.standard_normal(out) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hidden),
        helper.make_node("Squeeze", ["Y", "ax"], ["Ys"]),
        helper.make_node("MatMul", ["Ys", "P"], ["Z0"]),
        helper.make_node("Add", ["Z0", "pb"], ["Z"]),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (B, "B"), (P, "P"), (pb, "pb"))]
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "ax"))
    g = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, input_size])],
        [
            helper.make_tensor_value_info("Z", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None),
        ],
        initializer=inits,
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)
    return W[0], R[0], B[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("qmodels")
    m = {"hlf_lstm": d / "hlf_lstm.onnx", "hlf_bigru": d / "hlf_bigru.onnx", "head": d / "head.onnx"}
    write_example(m["hlf_lstm"], "lstm", input_size=24, hidden_size=37, compression=2.5, k=2, seed=3)
    write_example(
        m["hlf_bigru"], "gru", input_size=17, hidden_size=29, compression=2.5, k=1, seed=4, direction="bidirectional"
    )
    _dense_lstm_head(m["head"])
    return m


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("mode", ["fp16", "int8"])
def test_check_passes(models, mode, target, tmp_path):
    names = ["hlf_lstm", "head"] if target == "host" else ["hlf_lstm"]
    for name in names:
        rep = check(models[name], target=target, quantize=mode, seq_len=9, work_dir=tmp_path / name)
        assert rep.ok, f"{name}:\n{rep.format()}"
        # the tolerance is the quantization's, not a blanket one: small against outputs in [-1, 1]
        assert 0 < max(rep.quant_atol.values()) < (2e-2 if mode == "fp16" else 0.2)
        if mode == "int8":  # and the int8 build does differ from fp32 (it is not running fp32 weights)
            assert max(r.max_abs for r in rep.rows) > 1e-4


def test_check_gru_bidirectional_int8(models, tmp_path):
    rep = check(models["hlf_bigru"], quantize="int8", seq_len=7, work_dir=tmp_path)
    assert rep.ok, rep.format()


def _rounded_fp16_twin(src, dst):
    proto = onnx.load(src)
    for init in proto.graph.initializer:
        if init.data_type == TensorProto.FLOAT and sum(d > 1 for d in init.dims) >= 2:
            a = numpy_helper.to_array(init)
            init.CopyFrom(numpy_helper.from_array(a.astype(np.float16).astype(np.float32), init.name))
    onnx.save(proto, dst)


@pytest.mark.parametrize("name", ["hlf_lstm", "head"])
def test_fp16_is_the_fp16_rounded_model(models, name, tmp_path):
    """fp16 storage, fp32 arithmetic: the outputs are those of the model with fp16-rounded weights (fp32 tolerance)."""
    twin = tmp_path / "twin.onnx"
    _rounded_fp16_twin(models[name], twin)
    gen = generate(models[name], tmp_path / "out", max_seq_len=8, quantize="fp16")
    feeds = random_inputs(gen.model, 8, seed=1)
    expected, _ = oracle_outputs(twin, feeds)
    outputs, _ = run_runner(compile_out(gen.out_dir, tmp_path / "b"), feeds, work_dir=tmp_path / "run")
    rows = compare({k: outputs[k] for k in expected}, expected)
    assert all(r.ok for r in rows), rows
    plain, _ = oracle_outputs(models[name], feeds)  # and the rounding is visible against fp32
    assert max(float(np.abs(plain[k] - expected[k]).max()) for k in expected) > 1e-6


def _q_rows(a):
    s = np.abs(a).max(axis=1) / np.float32(127)
    q = np.clip(np.rint(a / np.where(s > 0, s, 1)[:, None]), -127, 127)
    return q, s.astype(np.float32)


def _q_vec(v):
    amax = np.float32(np.abs(v).max())
    if amax == 0:
        return np.zeros_like(v), np.float32(0)
    return np.rint(v * (np.float32(127) / amax)), amax / np.float32(127)


def _int8_lstm(W, R, B, x):
    """ONNX LSTM (gates i o f c, zero initial state) with int8 weights per row and x, h quantized per step."""
    H = R.shape[1]
    qW, sW = _q_rows(W)
    qR, sR = _q_rows(R)
    h, c = np.zeros(H), np.zeros(H)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    ys = []
    for xt in x[:, 0]:
        xq, xs = _q_vec(xt.astype(np.float32))
        hq, hs = _q_vec(h.astype(np.float32))
        g = (sW * xs) * (qW @ xq) + (sR * hs) * (qR @ hq) + B[: 4 * H] + B[4 * H :]
        i, o, f, gc = sig(g[:H]), sig(g[H : 2 * H]), sig(g[2 * H : 3 * H]), np.tanh(g[3 * H :])
        c = f * c + i * gc
        h = o * np.tanh(c)
        ys.append(h.copy())
    return np.array(ys)


@pytest.mark.parametrize("target", TARGETS)
def test_int8_is_the_same_math(models, target, tmp_path):
    W, R, B = _dense_lstm_head(tmp_path / "m.onnx", input_size=21, hidden=45, out=5, seed=9)
    gen = generate(tmp_path / "m.onnx", tmp_path / "out", max_seq_len=12, quantize="int8", target=target)
    feeds = random_inputs(gen.model, 12, seed=2)
    exe = compile_out(gen.out_dir, tmp_path / "b", target=target)
    outputs, _ = run_runner(exe, feeds, target=target, work_dir=tmp_path / "run")
    want = _int8_lstm(W, R, B, feeds["X"].astype(np.float64))
    got = outputs["Y_h"].reshape(-1)
    assert np.abs(got - want[-1]).max() < 1e-4
    fp32 = oracle_outputs(tmp_path / "m.onnx", feeds)[0]["Y_h"].reshape(-1)
    assert np.abs(fp32 - want[-1]).max() > 1e-3  # the simulation is not the fp32 model


def test_generated_code_stays_factored(models, tmp_path):
    gen = generate(models["hlf_lstm"], tmp_path / "out", max_seq_len=4, quantize="int8", weights="c")
    code = (gen.out_dir / f"{gen.name}.c").read_text()
    assert "hlf_f32_gemv_acc" not in code and "hlf_f32_gemm_acc" not in code
    assert "Algorithm 1 line 2" in code and "Algorithm 1 line 3" in code
    # h is quantized once per step for all its int8 products; t = C·h only when some B·t is int8
    narrow_b = all(m["shape"][1] < 11 for m in gen.program.matrices if "_B" in m["symbol"])
    assert code.count("hlf_qs8_quantize(1,") == (1 if narrow_b else 2)
    fp32 = generate(models["hlf_lstm"], tmp_path / "o32", max_seq_len=4)
    fp16 = generate(models["hlf_lstm"], tmp_path / "o16", max_seq_len=4, quantize="fp16")
    # every factor is stored separately in each form (no B·C): same matrices, same shapes
    assert [m["shape"] for m in fp32.program.matrices] == [m["shape"] for m in gen.program.matrices]
    # int8 where its 16-column cells and row scales cost less than fp16 (n >= 11), else fp16 (an HLF B of rank 2)
    for m in gen.program.matrices:
        assert m["dtype"] == ("int8" if m["shape"][1] >= 11 else "float16"), m
    assert any(m["dtype"] == "float16" for m in gen.program.matrices)
    # fp16 and fp32 share the unpadded panel layout: exactly 2 and 4 bytes per weight
    from hlfgen.pack import packed_size

    for m16, m32 in zip(fp16.program.matrices, fp32.program.matrices):
        assert m16["bytes"] == 2 * m16["shape"][0] * m16["shape"][1] == 2 * packed_size(*m16["shape"]), m16
        assert m32["bytes"] == 4 * m32["shape"][0] * m32["shape"][1], m32
    # int8 (16-column cells in zero-padded panels) against fp32 in the same padded panels
    fp32_padded = fp32.program.weight_bytes + sum(
        4 * packed_size(*m["shape"], fp32.program.nr, compact=False) - m["bytes"] for m in fp32.program.matrices
    )
    assert gen.program.weight_bytes < 0.45 * fp32_padded


def test_bad_mode_and_inspect(models):
    with pytest.raises(HlfgenError, match="--quantize"):
        generate(models["head"], "/tmp/never-written-q", quantize="int4")
    proc = subprocess.run(
        [sys.executable, "-m", "hlfgen", "inspect", str(models["hlf_lstm"]), "--quantize", "int8"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "int8" in proc.stdout and "bytes" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "hlfgen", "build", str(models["head"]), "-o", "/tmp/never-q", "--quantize", "int4"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _half_model(tmp_path, kind="lstm"):
    """An LSTM/GRU whose W, R, B are float16 initializers cast to float (what a float16 converter
    that keeps the recurrent op in fp32 writes)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    n_in, hid = 16, 24
    gates = 4 if kind == "lstm" else 3
    inits, nodes = [], []
    for name, shape in (("W", (1, gates * hid, n_in)), ("R", (1, gates * hid, hid)), ("B", (1, 2 * gates * hid))):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.4, shape).astype(np.float16), name + "16"))
        nodes.append(helper.make_node("Cast", [name + "16"], [name], to=TensorProto.FLOAT))
    nodes.append(helper.make_node(kind.upper(), ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hid))
    graph = helper.make_graph(
        nodes,
        "half",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 2, n_in])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("Y", "Y_h")],
        initializer=inits,
    )
    path = tmp_path / f"half_{kind}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8), str(path))
    return path


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float16_weights_build_fp16_and_match_onnxruntime_exactly(kind, tmp_path):
    """--quantize auto (the default) stores a float16 model's weights as fp16: half the bytes of
    --quantize none, and onnxruntime's own math on the file (fp16 -> fp32 is exact), so the plain
    fp32 tolerance holds with no quantization allowance."""
    from hlfgen.build import generate
    from hlfgen.check import check

    path = _half_model(tmp_path, kind)
    auto = generate(path, tmp_path / "auto", batch=2, max_seq_len=5)
    fp32 = generate(path, tmp_path / "fp32", batch=2, max_seq_len=5, quantize="none")
    assert auto.program.quantize == "fp16" and fp32.program.quantize == "none"
    assert auto.program.weight_bytes < 0.6 * fp32.program.weight_bytes  # matrices halve, biases stay fp32
    report = check(path, seq_len=5, batch=2, work_dir=tmp_path / "check")
    assert report.ok and not report.quant_atol, report.rows


def test_qdq_weights_are_folded_and_match_onnxruntime(tmp_path):
    """A QDQ file (DequantizeLinear on int8 weight initializers, per tensor for W, per output row for R)
    built with --quantize none is folded to the dequantized fp32 values and matches onnxruntime on the
    same file within the fp32 tolerance (the int8 kernels on the file's integers: tests/test_qdq.py)."""
    from onnx import TensorProto, helper, numpy_helper

    from hlfgen.check import check

    rng = np.random.default_rng(8)
    n_in, hid = 7, 13
    qw = rng.integers(-127, 128, (1, 4 * hid, n_in)).astype(np.int8)
    qr = rng.integers(-127, 128, (1, 4 * hid, hid)).astype(np.int8)
    inits = [
        numpy_helper.from_array(qw, "qW"),
        numpy_helper.from_array(np.float32(0.004), "sW"),
        numpy_helper.from_array(qr, "qR"),
        numpy_helper.from_array(rng.uniform(1e-3, 5e-3, 4 * hid).astype(np.float32), "sR"),
        numpy_helper.from_array(np.zeros(4 * hid, np.int8), "zR"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["qW", "sW"], ["W"]),
        helper.make_node("DequantizeLinear", ["qR", "sR", "zR"], ["R"], axis=1),
        helper.make_node("LSTM", ["X", "W", "R"], ["Y", "Y_h"], hidden_size=hid),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, n_in])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("Y", "Y_h")],
        initializer=inits,
    )
    path = tmp_path / "qdq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    report = check(path, seq_len=6, quantize="none", work_dir=tmp_path / "w")
    assert report.ok and not report.quant_atol, report.format()
