"""Regression tests of issue 12's silently wrong results and wrongly refused models,
each against onnxruntime (tests/conftest.py's oracle)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_parity


def _lstm_weights(rng, inp, hidden):
    return [
        numpy_helper.from_array(rng.normal(0, 0.4, (1, 4 * hidden, n)).astype(np.float32), name)
        for name, n in (("W", inp), ("R", hidden))
    ]


def test_pytorch_sliced_h0_with_unnamed_batch_axis(tmp_path):
    """h0[0:1] of a [layers, ?, H] input (PyTorch's per-layer slice; the batch axis has no name):
    refused before ('dimension 1 is symbolic and neither the sequence nor the batch axis')."""
    rng = np.random.default_rng(1)
    inp, hidden = 5, 7
    ints = [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("st", 0), ("en", 1), ("ax", 0))]
    nodes = [helper.make_node("Slice", [s, "st", "en", "ax"], [s + "_0"], name=f"slice_{s}") for s in ("h0", "c0")]
    nodes.append(
        helper.make_node("LSTM", ["X", "W", "R", "", "", "h0_0", "c0_0"], ["Y", "Y_h"], hidden_size=hidden, name="lstm")
    )
    ins = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["seq", "batch", inp])]
    ins += [helper.make_tensor_value_info(s, TensorProto.FLOAT, [2, None, hidden]) for s in ("h0", "c0")]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("Y", "Y_h")]
    g = helper.make_graph(nodes, "g", ins, outs, initializer=_lstm_weights(rng, inp, hidden) + ints)
    path = tmp_path / "h0.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], ir_version=8), str(path))
    assert_parity(path, batch=3, seq_len=4, work_dir=tmp_path / "w")


def test_factor_shared_under_a_transpose_keeps_each_gates_C(tmp_path):
    """Gates written Transpose(MatMul(Ct_g, Bt)) sharing Bt: W_g = Bt^T·Ct_g^T, one B and four
    different C.  The segments' keys were the shared input's name, so every gate used gate 0's C
    (max error ~0.5).  Now: four C blocks, and parity with onnxruntime."""
    from hlfgen.reader import read_model

    rng = np.random.default_rng(3)
    inp, hid, k = 9, 6, 2
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (k, hid)).astype(np.float32), "Bt")]
    nodes, gates = [], []
    for g in range(4):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.5, (inp, k)).astype(np.float32), f"Ct{g}"))
        nodes.append(helper.make_node("MatMul", [f"Ct{g}", "Bt"], [f"m{g}"]))
        nodes.append(helper.make_node("Transpose", [f"m{g}"], [f"w{g}"], perm=[1, 0]))
        gates.append(f"w{g}")
    inits.append(numpy_helper.from_array(np.array([0], np.int64), "ax0"))
    inits.append(numpy_helper.from_array(rng.normal(0, 0.4, (1, 4 * hid, hid)).astype(np.float32), "R"))
    nodes.append(helper.make_node("Concat", gates, ["w_all"], axis=0))
    nodes.append(helper.make_node("Unsqueeze", ["w_all", "ax0"], ["W"]))
    nodes.append(helper.make_node("LSTM", ["X", "W", "R"], ["Y", "Y_h"], hidden_size=hid, name="lstm"))
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, inp])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("Y", "Y_h")],
        initializer=inits,
    )
    path = tmp_path / "shared.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], ir_version=8), str(path))
    segs = read_model(path).layers[0].W[0].segments
    assert len({s.c_key for s in segs}) == 4, [s.c_key for s in segs]
    assert_parity(path, seq_len=5, work_dir=tmp_path / "w")
