"""Hand-made ONNX graphs for the tensor-operator parity tests (tests/test_ops_*.py).

Every graph starts with an LSTM over X [T, B, I] (random weights), so the
operators under test see runtime data with the symbolic extents T and B:
``y`` is Y squeezed to [T, B, H], ``yb`` its batch-first view [B, T, H].
Sizes are not multiples of the vector widths (H = 7, I = 5).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H, I = 7, 5
DT = {"float32": TensorProto.FLOAT, "int64": TensorProto.INT64, "int32": TensorProto.INT32, "bool": TensorProto.BOOL}


class G:
    """A graph under construction: X -> LSTM -> y [T,B,H], yb [B,T,H]."""

    def __init__(self, opset: int = 18, seed: int = 0):
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.count = 0
        self.input("X", "float32", ["T", "B", I])
        w = self.init("W", self.rng.normal(0, 0.5, (1, 4 * H, I)))
        r = self.init("R", self.rng.normal(0, 0.4, (1, 4 * H, H)))
        b = self.init("Bias", self.rng.normal(0, 0.2, (1, 8 * H)))
        self.nodes.append(helper.make_node("LSTM", ["X", w, r, b], ["Y"], hidden_size=H, name="lstm"))
        if opset < 13:
            self.y = self.op("Squeeze", "Y", axes=[1])
        else:
            self.y = self.op("Squeeze", "Y", self.const("ax1", np.array([1], np.int64)))
        self.yb = self.op("Transpose", self.y, perm=[1, 0, 2])

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def init(self, base: str, arr) -> str:
        arr = np.asarray(arr)
        arr = arr.astype(np.float32) if arr.dtype == np.float64 else arr
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    const = init

    def input(self, name: str, dtype: str, shape) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, DT[dtype], shape))
        return name

    def op(self, op_type: str, *inputs, n_out: int = 1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=outs[0], **attrs))
        return outs[0] if n_out == 1 else outs

    def output(self, name: str, as_name: str | None = None) -> None:
        """Mark a tensor as a graph output (its type comes from shape inference)."""
        out = as_name or f"out_{len(self.outputs)}"
        self.nodes.append(helper.make_node("Identity", [name], [out], name=f"id_{out}"))
        self.outputs.append(out)

    def model(self, checked: bool = True) -> onnx.ModelProto:
        """The model; checked=False skips onnx's shape inference and checker (graphs they refuse)."""
        out_type = TensorProto.UNDEFINED if checked else TensorProto.FLOAT
        graph = helper.make_graph(
            self.nodes,
            "ops_test",
            self.inputs,
            [helper.make_tensor_value_info(o, out_type, None) for o in self.outputs],
            self.inits,
        )
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8
        if not checked:
            return m
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        outs = {v.name: v for v in list(m.graph.value_info) + list(m.graph.output)}
        del m.graph.output[:]
        m.graph.output.extend(outs[o] for o in self.outputs)
        onnx.checker.check_model(m, full_check=True)
        return m

    def save(self, path, checked: bool = True) -> str:
        onnx.save(self.model(checked), str(path))
        return str(path)


def feeds(g: G, T: int, B: int, extra: dict | None = None, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed + T)
    out = {"X": rng.normal(0, 1, (T, B, I)).astype(np.float32)}
    out.update(extra or {})
    return out
