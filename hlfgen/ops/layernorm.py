"""LayerNormalization (opset 17) on runtime float32 data.

Normalized over the trailing axes from `axis` (default -1):
Y = (X - mean) / sqrt(var + epsilon) * Scale + B, mean and the biased
variance per row of the [outer, n] view (accumulated in double, as
onnxruntime).  Scale and B: constants that broadcast to X[axis:] (expanded
at build time), or runtime tensors of exactly that shape.  The optional
outputs Mean and InvStdDev have shape X[:axis] + [1] * (rank - axis).
stash_type is accepted (computation is float32 with double sums).
"""

from __future__ import annotations

import numpy as np

from .. import dims as D
from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import const_float, fmt, norm_axis, require_float


def _param(ctx: OpContext, i: int, what: str, norm_shape: list, weights: dict):
    if not ctx.input(i):
        return None
    if ctx.is_runtime(i):
        info = ctx.info(i)
        require_float(ctx, info.dtype, what)
        if D.prod(list(info.shape)) != D.prod(norm_shape):
            raise ctx.error(
                f"runtime {what} of shape {fmt(info.shape)} must have the normalized shape {fmt(norm_shape)}"
            )
        return ["t", info.name]
    arr = const_float(ctx, ctx.const(i, what), what)
    if any(isinstance(d, D.Dim) for d in norm_shape):
        if arr.size != 1:
            raise ctx.error(f"a constant {what} over the symbolic normalized shape {fmt(norm_shape)} must be a scalar")
        raise ctx.error(f"normalizing over the symbolic shape {fmt(norm_shape)} is not supported")
    try:
        full = np.broadcast_to(arr, tuple(int(d) for d in norm_shape))
    except ValueError:
        raise ctx.error(f"{what} of shape {fmt(arr.shape)} does not broadcast to {fmt(norm_shape)}") from None
    weights[what] = np.ascontiguousarray(full, np.float32).reshape(-1)
    return ["w", what]


@register("LayerNormalization")
def layernorm(ctx: OpContext):
    x = ctx.info(0)
    require_float(ctx, x.dtype)
    shape = list(x.shape)
    if not shape:
        raise ctx.error("input is a scalar")
    axis = norm_axis(ctx, int(ctx.attrs.get("axis", -1)), len(shape))
    norm_shape = shape[axis:]
    weights: dict = {}
    scale = _param(ctx, 1, "scale", norm_shape, weights)
    if scale is None:
        raise ctx.error("Scale (input 1) is required")
    bias = _param(ctx, 2, "bias", norm_shape, weights)
    stat_shape = tuple(shape[:axis] + [1] * (len(shape) - axis))
    outs = [TensorInfo(ctx.output(0), "float32", x.shape)]
    for i in (1, 2):
        if ctx.output(i):
            outs.append(TensorInfo(ctx.output(i), "float32", stat_shape))
    attrs = {
        "outer": D.prod(shape[:axis]),
        "n": D.prod(norm_shape),
        "axis": axis,
        "epsilon": float(ctx.attrs.get("epsilon", 1e-5)),
        "scale": scale,
        "bias": bias,
        "mean": ctx.output(1) or None,
        "inv_std": ctx.output(2) or None,
    }
    inputs = [x.name] + [p[1] for p in (scale, bias) if p and p[0] == "t"]
    return [
        Node(ctx.label, "layernorm", list(dict.fromkeys(inputs)), [o.name for o in outs], attrs, weights=weights)
    ], outs
