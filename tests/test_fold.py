"""fold.fold_node on symbolic values (fast tier): each result, with the symbols given values, equals
onnx.reference on the same node over concrete inputs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

from hlfgen import dims as D
from hlfgen import fold

B = D.sym("B")
ENV = {"B": 3}
OPSET = [helper.make_opsetid("", 18)]


def _concrete(v):
    if isinstance(v, fold.Fill):
        return np.full([D.evaluate(d, ENV) for d in v.shape], v.value)
    if isinstance(v, D.Dim):
        return np.int64(D.evaluate(v, ENV))
    if isinstance(v, np.ndarray) and v.dtype == object:
        return np.vectorize(lambda d: D.evaluate(d, ENV), otypes=[np.int64])(v)
    return v


def _reference(node, vals):
    names = [f"i{k}" for k in range(len(vals))]
    n2 = helper.make_node(node.op_type, names, ["o"], **{a.name: helper.get_attribute_value(a) for a in node.attribute})
    ins = [
        helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.shape(v))
        for nm, v in zip(names, vals)
    ]
    m = helper.make_model(
        helper.make_graph([n2], "g", ins, [helper.make_value_info("o", onnx.TypeProto())]), opset_imports=OPSET
    )
    return ReferenceEvaluator(m).run(None, {nm: np.asarray(v) for nm, v in zip(names, vals)})[0]


CASES = {
    "shape_of_fill_slice": (
        helper.make_node("Shape", ["x"], ["y"], start=2, end=3),
        [fold.Fill(np.float32(0), (2, B, 6))],
    ),
    "shape_of_fill": (helper.make_node("Shape", ["x"], ["y"]), [fold.Fill(np.float32(0), (2, B, 6))]),
    "size_of_fill": (helper.make_node("Size", ["x"], ["y"]), [fold.Fill(np.float32(1), (B, 5))]),
    "cast_bare_extent": (helper.make_node("Cast", ["x"], ["y"], to=onnx.TensorProto.INT64), [B]),
    "castlike_to_extent": (
        helper.make_node("CastLike", ["x", "t"], ["y"]),
        [np.array(0, np.int32), fold.sym_array([B]).reshape(())],
    ),
    "castlike_of_extents": (
        helper.make_node("CastLike", ["x", "t"], ["y"]),
        [fold.sym_array([B, 4]), np.array(1, np.int64)],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_symbolic_fold_equals_reference(case):
    node, vals = CASES[case]
    out = fold.fold_node(node, vals, {a.name: helper.get_attribute_value(a) for a in node.attribute}, 18, case, OPSET)[
        0
    ]
    expected = _reference(node, [_concrete(v) for v in vals])
    got = np.asarray(_concrete(out))
    assert got.shape == expected.shape and np.array_equal(got.astype(expected.dtype), expected), (got, expected)
