"""Expand of runtime data to a shape (ONNX: numpy broadcasting of the input
and the shape), e.g. a batch-1 state to the build's batch.  The target shape
may hold symbolic extents (Shape(X) arithmetic).  Per element, so it streams.  An
Expand that changes nothing is a view.
"""

from __future__ import annotations

from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import ELEM_SIZE, MAX_RANK, broadcast, coalesce, full_mask


@register("Expand")
def expand(ctx: OpContext):
    x = ctx.info(0)
    target = ctx.shape_const(1, "shape")
    out_shape = broadcast(ctx, list(x.shape), target)
    out = TensorInfo(ctx.output(), x.dtype, tuple(out_shape))
    if list(out_shape) == list(x.shape):
        return [Node(ctx.label, "view", [x.name], [out.name], {"onnx_op": "Expand"}, alias=True)], [out]
    dims, (mask,) = coalesce(out_shape, [full_mask(list(x.shape), out_shape)])
    if not dims:
        dims, mask = [1], 0
    if len(dims) > MAX_RANK:
        raise ctx.error(f"more than {MAX_RANK} broadcast axes")
    return [
        Node(
            ctx.label,
            "expand",
            [x.name],
            [out.name],
            {"onnx_op": "Expand", "dims": dims, "full": mask, "elem": ELEM_SIZE[x.dtype], "out_shape": out_shape},
        )
    ], [out]
