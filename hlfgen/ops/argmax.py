"""ArgMax and ArgMin on runtime float32 data: int64 indices along one axis.

keepdims (default 1) keeps the reduced axis with extent 1; select_last_index
picks the last of equal extremes.  Reducing over the sequence axis T makes
the model non-streamable.
"""

from __future__ import annotations

from ..ir import Node, TensorInfo
from . import OpContext, register
from .. import dims as D
from .util import dim_product, norm_axis, require_float


@register("ArgMax", "ArgMin")
def argmax(ctx: OpContext):
    x = ctx.info(0)
    require_float(ctx, x.dtype)
    shape = list(x.shape)
    if not shape:
        raise ctx.error("input is a scalar")
    axis = norm_axis(ctx, int(ctx.attrs.get("axis", 0)), len(shape))
    keep = int(ctx.attrs.get("keepdims", 1))
    out_shape = shape[:axis] + ([1] if keep else []) + shape[axis + 1 :]
    out = TensorInfo(ctx.output(), "int64", tuple(out_shape))
    attrs = {
        "onnx_op": ctx.op,
        "axis": axis,
        "outer": dim_product(shape[:axis], ctx),
        "n": shape[axis],
        "inner": dim_product(shape[axis + 1 :], ctx),
        "last": int(ctx.attrs.get("select_last_index", 0)),
        "is_min": int(ctx.op == "ArgMin"),
    }
    if isinstance(shape[axis], D.Dim):
        attrs["no_stream"] = True  # reduces over time steps
    return [Node(ctx.label, "argmax", [x.name], [out.name], attrs)], [out]
