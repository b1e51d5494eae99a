"""Softmax and LogSoftmax on runtime float32 data.

opset >= 13: normalized over one axis (default -1).  opset < 13: the input is
coerced to 2-D at `axis` (default 1) and normalized over the flattened
trailing block [axis:].  Both are an [outer, n, inner] problem for
hlf_f32_softmax.  A normalization that spans the sequence axis T cannot run
one step at a time: such a node marks the model non-streamable.
"""

from __future__ import annotations

from ..ir import Node, TensorInfo
from . import OpContext, register
from .. import dims as D
from .util import dim_product, norm_axis, require_float


@register("Softmax", "LogSoftmax")
def softmax(ctx: OpContext):
    x = ctx.info(0)
    require_float(ctx, x.dtype)
    shape = list(x.shape)
    rank = len(shape)
    if rank == 0:
        raise ctx.error("input is a scalar")
    if ctx.opset < 13:
        axis = norm_axis(ctx, int(ctx.attrs.get("axis", 1)), rank)
        reduced = shape[axis:]
        outer, n, inner = dim_product(shape[:axis], ctx), dim_product(reduced, ctx), 1
    else:
        axis = norm_axis(ctx, int(ctx.attrs.get("axis", -1)), rank)
        reduced = [shape[axis]]
        outer, n, inner = dim_product(shape[:axis], ctx), shape[axis], dim_product(shape[axis + 1 :], ctx)
    out = TensorInfo(ctx.output(), "float32", x.shape)
    attrs = {
        "onnx_op": ctx.op,
        "outer": outer,
        "n": n,
        "inner": inner,
        "log": int(ctx.op == "LogSoftmax"),
        "axis": axis,
    }
    if any(isinstance(d, D.Dim) for d in reduced):
        attrs["no_stream"] = True  # normalizes over time steps
    return [Node(ctx.label, "softmax", [x.name], [out.name], attrs)], [out]
