"""Models quantized by onnxruntime's quantize_dynamic (com.microsoft DynamicQuantizeLSTM) compile to
the int8 kernels with onnxruntime's own math (hlfgen/qonnx.py, hlfgen/qlower.py): the outputs match
onnxruntime running the same quantized file within 2e-3 absolute (measured: ~1e-6), on the host and
the Cortex-A73 (qemu); per-tensor and per-channel scales, forward and bidirectional, an initial state
as a graph input.  Unsupported variants are one-line errors.
"""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hlfgen.build import generate
from hlfgen.check import check
from hlfgen.errors import HlfgenError

quantization = pytest.importorskip("onnxruntime.quantization")
HAVE_CROSS = shutil.which("aarch64-linux-gnu-gcc") is not None and shutil.which("qemu-aarch64") is not None
ORT_ATOL = 2e-3  # the bound for the same math (quant.ORT_DYNAMIC_ATOL); measured 2e-6 .. 4e-4


def _lstm(path, input_size, hidden, direction="forward", h0=False, batch=1, seed=0):
    rng = np.random.default_rng(seed)
    nd = 2 if direction == "bidirectional" else 1
    W = (rng.standard_normal((nd, 4 * hidden, input_size)) / np.sqrt(input_size)).astype(np.float32)
    R = (rng.standard_normal((nd, 4 * hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    B = (rng.standard_normal((nd, 8 * hidden)) * 0.1).astype(np.float32)
    ins = ["X", "W", "R", "B"] + (["", "h0"] if h0 else [])
    node = helper.make_node("LSTM", ins, ["Y", "Y_h", "Y_c"], hidden_size=hidden, direction=direction)
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", batch, input_size])]
    if h0:
        inputs.append(helper.make_tensor_value_info("h0", TensorProto.FLOAT, [nd, batch, hidden]))
    g = helper.make_graph(
        [node],
        "lstm",
        inputs,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")],
        initializer=[numpy_helper.from_array(a, n) for a, n in ((W, "W"), (R, "R"), (B, "B"))],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)


def _quantized(tmp_path, name, per_channel=False, **kw):
    src, dst = tmp_path / f"{name}.onnx", tmp_path / f"{name}_q.onnx"
    _lstm(src, **kw)
    quantization.quantize_dynamic(str(src), str(dst), per_channel=per_channel)
    assert any(n.op_type == "DynamicQuantizeLSTM" for n in onnx.load(dst).graph.node)
    return src, dst


CASES = {
    "forward": dict(input_size=32, hidden=64),
    "odd-sizes-per-channel": dict(input_size=13, hidden=29, per_channel=True),
    "bidirectional-h0": dict(input_size=17, hidden=23, direction="bidirectional", h0=True),
}


@pytest.mark.parametrize(
    "case,target",
    [(c, "host") for c in CASES]
    + [
        pytest.param(
            "odd-sizes-per-channel",
            "cortex-a73",
            marks=pytest.mark.skipif(not HAVE_CROSS, reason="needs the aarch64 cross tools"),
        )
    ],
)
def test_matches_onnxruntime_on_the_quantized_file(tmp_path, case, target):
    src, q = _quantized(tmp_path, case, **CASES[case])
    rep = check(q, target=target, seq_len=10, work_dir=tmp_path / "w")
    assert rep.ok, rep.format()
    assert rep.oracle == "onnxruntime"
    assert max(r.max_abs for r in rep.rows) <= ORT_ATOL
    gen = generate(q, tmp_path / "out", max_seq_len=4, target=target)
    code = (gen.out_dir / f"{gen.name}.c").read_text()
    assert "hlf_qu8_quantize" in code and "hlf_qs8_gemv_acc" in code and "hlf_f32_gemv_acc" not in code
    assert {m["dtype"] for m in gen.program.matrices} == {"int8"}


def test_unsupported_variants_are_one_line_errors(tmp_path):
    _, q = _quantized(tmp_path, "b2", input_size=8, hidden=16, batch=2)
    with pytest.raises(HlfgenError, match="batch 1 only"):
        generate(q, tmp_path / "out")
    _, q = _quantized(tmp_path, "zp", input_size=8, hidden=16)
    m = onnx.load(q)
    for init in m.graph.initializer:
        if init.name.endswith("zero_point") and init.name.startswith("W"):
            init.CopyFrom(numpy_helper.from_array(np.array([3], np.int8), init.name))
    onnx.save(m, tmp_path / "zp_bad.onnx")
    with pytest.raises(HlfgenError, match="zero_point is not 0"):
        generate(tmp_path / "zp_bad.onnx", tmp_path / "out2")


def test_quantize_dynamic_on_hlf_keeps_the_factors(tmp_path):
    """quantize_dynamic on an HLF file quantizes the factor products (MatMulInteger on constants, then a
    scalar Mul): they stay factored (not folded to dense) and the build matches onnxruntime on that file."""
    from hlfgen.example import write_example
    from hlfgen.inspect import inspect_model

    src, q = tmp_path / "hlf.onnx", tmp_path / "hlf_q.onnx"
    write_example(src, "lstm", input_size=20, hidden_size=33, compression=2.5, k=2, seed=5)
    quantization.quantize_dynamic(str(src), str(q))
    assert any(n.op_type == "MatMulInteger" for n in onnx.load(q).graph.node)
    mats = [m for layer in inspect_model(q)["layers"] for m in layer["matrices"]]
    assert all(m["structure"].startswith("HLF") for m in mats), mats
    rep = check(q, seq_len=6, work_dir=tmp_path / "w")
    assert rep.ok, rep.format()
