"""Cast of runtime data between float32, int32 and int64.

A cast to the same type is a view.  Otherwise each element is converted as
C does (float -> int truncates toward zero, as onnxruntime).  Other types
(double, float16, bool, ...) are not supported on runtime data.
"""

from __future__ import annotations

import onnx

from ..ir import Node, TensorInfo
from . import OpContext, register

TYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT32: "int32", onnx.TensorProto.INT64: "int64"}


@register("Cast")
def cast(ctx: OpContext):
    x = ctx.info(0)
    to = int(ctx.attrs.get("to", 0))
    dtype = TYPES.get(to)
    if dtype is None:
        name = onnx.TensorProto.DataType.Name(to).lower() if to in onnx.TensorProto.DataType.values() else str(to)
        raise ctx.error(f"Cast to {name} is not supported on runtime data (float32, int32, int64)")
    out = TensorInfo(ctx.output(), dtype, x.shape)
    if dtype == x.dtype:
        return [Node(ctx.label, "view", [x.name], [out.name], {"onnx_op": "Cast"}, alias=True)], [out]
    return [Node(ctx.label, "cast", [x.name], [out.name], {"from": x.dtype, "to": dtype})], [out]
