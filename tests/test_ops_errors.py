"""Unsupported uses of the tensor operators: one HlfgenError naming the node, the operator and what is missing."""

from __future__ import annotations

import numpy as np
import pytest
from ops_graphs import G

from hlfgen.errors import HlfgenError
from hlfgen.reader import read_model


def i64(g, v):
    return g.const("c", np.array(v, np.int64))


CASES = {
    "topk_k_too_big": (lambda g: g.op("TopK", g.yb, i64(g, [8]), n_out=2, axis=2), "TopK", "exceeds the extent 7"),
    "reduce_runtime_axes": (
        lambda g: g.op("ReduceSum", g.yb, g.input("axes", "int64", [1])),
        "ReduceSum",
        "axes must be a constant",
    ),
    "scatter_reduction": (
        lambda g: g.op("ScatterElements", g.yb, g.op("Cast", g.yb, to=7), g.yb, axis=2, reduction="bogus"),
        "ScatterElements",
        "reduction 'bogus'",
    ),
    "split_symbolic_axis": (
        lambda g: g.op("SequenceAt", g.op("SplitToSequence", g.yb, axis=1), i64(g, 0)),
        "SplitToSequence",
        "symbolic axis 1",
    ),
    "not_of_float": (lambda g: g.op("Not", g.yb), "Not", "takes a bool tensor"),
    "and_of_float": (lambda g: g.op("And", g.yb, g.yb), "And", "takes bool tensors"),
    "matmul_mismatch": (lambda g: g.op("MatMul", g.yb, g.yb), "MatMul", "cannot multiply"),
    "layernorm_bad_scale": (
        lambda g: g.op("LayerNormalization", g.yb, g.const("s", np.ones(3, np.float32))),
        "LayerNormalization",
        "does not broadcast",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_names_node_and_problem(case, tmp_path):
    build, op, text = CASES[case]
    g = G(opset=18)
    out = build(g)
    g.output(out if isinstance(out, str) else out[0])
    path = g.save(tmp_path / "m.onnx", checked=False)  # onnx's checker refuses some of these graphs itself
    with pytest.raises(HlfgenError) as e:
        read_model(path, dims={"B": 3}, max_dims={"T": 9})
    msg = str(e.value)
    assert "\n" not in msg and op in msg and text in msg, msg
