"""ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare.

axes: the attribute (before opset 13 for ReduceSum, 18 for the others) or
the constant second input; empty or absent axes reduce everything, or with
noop_with_empty_axes=1 leave the input unchanged.  keepdims (default 1)
keeps reduced axes with extent 1; the data is the same either way.
float32, int32 and int64 (integer Mean truncates, as onnxruntime).
Runtime hlf_*_reduce on the coalesced problem (ops/util.coalesce: neighbour
axes reduced alike are merged).  Reducing over a symbolic axis (time steps)
marks the model non-streamable.
"""

from __future__ import annotations

import numpy as np

from .. import dims as D
from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import coalesce, norm_axis

REDUCE = {
    "ReduceSum": 0,
    "ReduceMean": 1,
    "ReduceMax": 2,
    "ReduceMin": 3,
    "ReduceProd": 4,
    "ReduceL1": 5,
    "ReduceL2": 6,
    "ReduceSumSquare": 7,
}
AXES_INPUT_SINCE = {"ReduceSum": 13}  # the others: 18
FN = {"float32": "f32", "int64": "i64", "int32": "i32"}


@register(*REDUCE)
def reduce(ctx: OpContext):
    x = ctx.info(0)
    if x.dtype not in FN:
        raise ctx.error(f"input has dtype {x.dtype}; expected float32, int32 or int64")
    if ctx.op == "ReduceL2" and x.dtype != "float32":
        raise ctx.error("ReduceL2 of an integer tensor is not supported")
    shape = list(x.shape)
    rank = len(shape)
    if ctx.opset >= AXES_INPUT_SINCE.get(ctx.op, 18):
        if ctx.input(1) and ctx.is_runtime(1):
            raise ctx.error("axes must be a constant (runtime axes are not supported)")
        axes = ctx.const(1, "axes")
        axes = [] if axes is None else [int(v) for v in np.ravel(axes)]
    else:
        axes = [int(v) for v in ctx.attrs.get("axes", [])]
    keep = int(ctx.attrs.get("keepdims", 1))
    if not axes and int(ctx.attrs.get("noop_with_empty_axes", 0)):
        out = TensorInfo(ctx.output(), x.dtype, x.shape)
        return [Node(ctx.label, "view", [x.name], [out.name], {"onnx_op": ctx.op}, alias=True)], [out]
    red = sorted({norm_axis(ctx, a, rank, "axis") for a in axes}) if axes else list(range(rank))
    if len(red) != len(axes) and axes:
        raise ctx.error(f"axes {axes} repeat an axis")
    rmask = sum(1 << i for i in red)
    out_shape = (
        [1 if i in red else d for i, d in enumerate(shape)]
        if keep
        else [d for i, d in enumerate(shape) if i not in red]
    )
    dims, (mask,) = coalesce(shape, [rmask])
    if not dims:
        dims, mask = [1], 0
    attrs = {
        "onnx_op": ctx.op,
        "code": REDUCE[ctx.op],
        "fn": FN[x.dtype],
        "dims": dims,
        "rmask": mask,
        "axes": red,
        "keepdims": keep,
    }
    if any(isinstance(shape[i], D.Dim) for i in red):
        attrs["no_stream"] = True  # reduces over time steps (or another run-time axis)
    out = TensorInfo(ctx.output(), x.dtype, tuple(out_shape))
    return [Node(ctx.label, "reduce", [x.name], [out.name], attrs)], [out]
