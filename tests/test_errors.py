"""Bad input: one line on stderr naming the node and the problem, exit 2, no traceback, OUT/ untouched."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

H, I = 8, 5


def _lstm_model(
    *,
    hidden=H,
    w_as_input=False,
    x_dtype=TensorProto.FLOAT,
    extra_nodes=(),
    lstm_attrs=None,
    y_name="Y",
    outputs=None,
    opset=14,
    w_shape=None,
):
    rng = np.random.default_rng(0)
    W = rng.standard_normal(w_shape or (1, 4 * H, I)).astype(np.float32)
    R = rng.standard_normal((1, 4 * H, H)).astype(np.float32)
    inits = [numpy_helper.from_array(R, "R")]
    inputs = [helper.make_tensor_value_info("X", x_dtype, ["T", 1, I])]
    if w_as_input:
        inputs.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, list(W.shape)))
    else:
        inits.append(numpy_helper.from_array(W, "W"))
    node = helper.make_node(
        "LSTM", ["X", "W", "R"], [y_name, "Y_h"], name="lstm_node", hidden_size=hidden, **(lstm_attrs or {})
    )
    outs = outputs or [
        helper.make_tensor_value_info(y_name, TensorProto.FLOAT, None),
        helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None),
    ]
    g = helper.make_graph([node, *extra_nodes], "g", inputs, outs, initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _hlfgen(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hlfgen", *args], capture_output=True, text=True, cwd=cwd)


def _assert_clean_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hlfgen: error: "), lines[0]
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def _bad_models():
    sin = helper.make_node("Sin", ["Y_h"], ["S"], name="sin_node")
    # a constant Reshape target where T belongs, with no single axis that can carry T (a pinned T on
    # one axis is accepted: tests/test_models_e2e.py::test_torch_dynamo_optimized)
    fixed_t = [
        helper.make_node("Constant", [], ["shape5"], value=numpy_helper.from_array(np.array([4, 4], np.int64))),
        helper.make_node("Reshape", ["Y", "shape5"], ["Yr"], name="reshape_node"),
    ]
    return {
        "fixed_seq_len_reshape": (
            _lstm_model(extra_nodes=fixed_t, outputs=[helper.make_tensor_value_info("Yr", TensorProto.FLOAT, None)]),
            ["reshape_node", "free dimension"],
        ),
        "unsupported_op": (
            _lstm_model(extra_nodes=[sin], outputs=[helper.make_tensor_value_info("S", TensorProto.FLOAT, None)]),
            ["sin_node", "Sin"],
        ),
        "bad_direction": (_lstm_model(lstm_attrs={"direction": "sideways"}), ["lstm_node", "sideways"]),
        "bad_activation": (_lstm_model(lstm_attrs={"activations": ["Gelu", "Tanh", "Tanh"]}), ["lstm_node", "Gelu"]),
        "bad_layout": (_lstm_model(lstm_attrs={"layout": 2}), ["lstm_node", "layout"]),
        "unknown_attr": (_lstm_model(lstm_attrs={"output_sequence": 1}), ["lstm_node", "output_sequence"]),
        "float64_input": (_lstm_model(x_dtype=TensorProto.DOUBLE), ["'X'", "double"]),
        "float16_input": (_lstm_model(x_dtype=TensorProto.FLOAT16), ["'X'", "float16"]),
        "runtime_weight": (_lstm_model(w_as_input=True), ["lstm_node", "W", "runtime graph input", "constant weights"]),
        "hidden_mismatch": (_lstm_model(hidden=10), ["lstm_node", "shape"]),
        "input_size_mismatch": (_lstm_model(w_shape=(1, 4 * H, I + 1)), ["lstm_node", "W", "shape"]),
        "wrong_directions": (_lstm_model(lstm_attrs={"direction": "bidirectional"}), ["lstm_node", "W", "shape"]),
    }


@pytest.mark.parametrize("case", sorted(_bad_models()))
def test_bad_model_build(case, tmp_path):
    model, needles = _bad_models()[case]
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    out = tmp_path / "out"
    proc = _hlfgen("build", str(path), "-o", str(out))
    _assert_clean_error(proc, *needles)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.onnx"]  # no temporary directory left behind


@pytest.mark.parametrize("command", ["check", "inspect"])
def test_bad_model_other_commands(command, tmp_path):
    path = tmp_path / "bad.onnx"
    onnx.save(_lstm_model(w_as_input=True), path)
    _assert_clean_error(_hlfgen(command, str(path)), "lstm_node", "constant weights")


def test_not_onnx(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a protobuf\n" * 10)
    _assert_clean_error(_hlfgen("build", str(path), "-o", str(tmp_path / "out")), "notes.onnx")
    assert not (tmp_path / "out").exists()


def test_truncated(tmp_path):
    good = tmp_path / "good.onnx"
    onnx.save(_lstm_model(), good)
    data = good.read_bytes()
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(data[: len(data) // 2])
    _assert_clean_error(_hlfgen("build", str(bad), "-o", str(tmp_path / "out")), "trunc.onnx")
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path):
    _assert_clean_error(_hlfgen("build", str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "out")), "no such file")


def test_existing_out_left_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    path = tmp_path / "bad.onnx"
    onnx.save(_lstm_model(hidden=10), path)
    _assert_clean_error(_hlfgen("build", str(path), "-o", str(out)))
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "mine"


def test_good_model_builds_into_existing_out(tmp_path):
    """The counterpart of the tests above: the same builder with valid settings succeeds."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    path = tmp_path / "good.onnx"
    onnx.save(_lstm_model(), path)
    proc = _hlfgen("build", str(path), "-o", str(out), "--name", "kws")
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert {
        "kws.c",
        "kws.h",
        "kws_run.c",
        "kws_weights.h",
        "CMakeLists.txt",
        "runtime",
        "toolchains",
        "keep.txt",
    } <= names


def test_bad_arguments(tmp_path):
    path = tmp_path / "good.onnx"
    onnx.save(_lstm_model(), path)
    _assert_clean_error(_hlfgen("build", str(path), "-o", str(tmp_path / "o"), "--name", "not-an-ident"), "--name")
    _assert_clean_error(_hlfgen("build", str(path), "-o", str(tmp_path / "o"), "--batch", "3"))  # model's batch is 1
    _assert_clean_error(_hlfgen("plan", "--shape", "256by256", "--compression", "2"), "--shape")
    proc = _hlfgen("build", str(path), "-o", str(tmp_path / "o"), "--batch", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
