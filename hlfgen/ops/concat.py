"""Concat of runtime tensors (and constants) along one axis.

Each input's block of every outer index is copied into its place
(hlf_concat_part).  Along a symbolic axis the extents add up as
expressions (T + T = 2 * T, T + 1); concatenating along a symbolic axis
marks the model non-streamable.
"""

from __future__ import annotations

import numpy as np

from ..ir import Node, TensorInfo
from . import OpContext, register
from .. import dims as D
from .util import ELEM_SIZE, const_float, dim_product, fmt, norm_axis


@register("Concat")
def concat(ctx: OpContext):
    names = list(ctx.node.input)
    runtime = [ctx.info(i) for i, nm in enumerate(names) if nm and ctx.is_runtime(i)]
    dtype = runtime[0].dtype
    if any(r.dtype != dtype for r in runtime):
        raise ctx.error("inputs have different dtypes: " + ", ".join(sorted({r.dtype for r in runtime})))
    rank = len(runtime[0].shape)
    axis = norm_axis(ctx, int(ctx.attrs["axis"]), rank)
    parts, weights = [], {}
    for i, nm in enumerate(names):
        if not nm:
            continue
        if ctx.is_runtime(i):
            shape, src = list(ctx.info(i).shape), ("t", nm)
        else:
            if dtype != "float32":
                raise ctx.error(f"a constant input to a Concat of {dtype} runtime data is not supported")
            arr = const_float(ctx, ctx.const(i), f"input {i}")
            shape, src = list(arr.shape), ("w", f"p{i}")
            weights[f"p{i}"] = arr.reshape(-1) if arr.size else np.zeros(1, np.float32)
        if len(shape) != rank:
            raise ctx.error(f"input {i} has rank {len(shape)}, input 0 rank {rank}")
        parts.append((shape, src))
    ref = parts[0][0]
    for shape, _ in parts:
        if any(a != b for k, (a, b) in enumerate(zip(shape, ref)) if k != axis):
            raise ctx.error(f"shapes {fmt(ref)} and {fmt(shape)} differ off the concatenation axis {axis}")
    along = [s[axis] for s, _ in parts if not (isinstance(s[axis], int) and s[axis] == 0)]
    total = sum(along, 0)
    out_shape = list(ref)
    out_shape[axis] = total
    elem = ELEM_SIZE[dtype]
    items = [
        {"src": src, "chunk": dim_product(s[axis:], ctx)}
        for s, src in parts
        if not (isinstance(dim_product(s[axis:]), int) and dim_product(s[axis:]) == 0)
    ]
    attrs = {
        "onnx_op": "Concat",
        "axis": axis,
        "outer": dim_product(ref[:axis], ctx),
        "row": dim_product(out_shape[axis:], ctx),
        "elem": elem,
        "parts": items,
    }
    if isinstance(total, D.Dim):
        attrs["no_stream"] = True  # joins sequences along time
    out = TensorInfo(ctx.output(), dtype, tuple(out_shape))
    inputs = list(dict.fromkeys(r.name for r in runtime))
    return [Node(ctx.label, "concat", inputs, [out.name], attrs, weights=weights)], [out]
