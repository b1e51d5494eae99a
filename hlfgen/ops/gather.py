"""Gather on runtime data.

Two uses in exported models:

* an embedding: a constant float table indexed by runtime int32/int64 token
  ids (nn.Embedding);
* runtime data indexed by constant indices, e.g. ``y[:, -1]`` (the last time
  step).  On the sequence axis the extent is T, so a negative index resolves
  at run time (-1 -> T-1).

The output is data.shape[:axis] + indices.shape + data.shape[axis+1:]
(ONNX Gather).  Indices may be negative (ONNX: counted from the end).  An
index outside [-n, n-1] (a bad token id, or -2 with T = 1) makes
<name>_run()/<name>_step() return -1 (runtime hlf_gather_i64/_i32).

Streaming: gathering along T is per step only for the index -1 (the current
step is the last one); any other index along T marks the model
non-streamable.
"""

from __future__ import annotations

import numpy as np

from ..ir import Node, TensorInfo
from . import OpContext, register
from .. import dims as D
from .util import ELEM_SIZE, const_float, dim_product, norm_axis


@register("Gather")
def gather(ctx: OpContext):
    attrs = {}
    weights = {}
    inputs = []
    if ctx.is_runtime(0):
        data = ctx.info(0)
        dshape, dtype = list(data.shape), data.dtype
        attrs["data"] = ("t", data.name)
        inputs.append(data.name)
    else:
        table = ctx.const(0, "data")
        if table.dtype.kind != "f":
            raise ctx.error(
                f"a constant table of dtype {table.dtype} indexed by runtime data is not supported (float32 only)"
            )
        table = const_float(ctx, table, "data")
        dshape, dtype = list(table.shape), "float32"
        weights["table"] = table.reshape(-1) if table.size else np.zeros(1, np.float32)
        attrs["data"] = ("w", "table")
    if not dshape:
        raise ctx.error("data is a scalar")
    axis = norm_axis(ctx, int(ctx.attrs.get("axis", 0)), len(dshape))
    n = dshape[axis]

    if ctx.is_runtime(1):
        idx = ctx.info(1)
        if idx.dtype not in ("int32", "int64"):
            raise ctx.error(f"indices have dtype {idx.dtype}; expected int32 or int64")
        ishape = list(idx.shape)
        if isinstance(n, int) and n > 0 and idx.int_range is None:
            idx.int_range = (0, n)  # valid ids (a graph input's random test values)
        attrs["idx"] = ("t", idx.name, idx.dtype)
        inputs.append(idx.name)
        nidx = dim_product(ishape, ctx)
        if isinstance(n, D.Dim):
            attrs["no_stream"] = True  # runtime indices into the time steps
    else:
        vals = np.asarray(ctx.const(1, "indices"))
        if vals.dtype.kind not in "iu":
            raise ctx.error(f"indices have dtype {vals.dtype}; expected int32 or int64")
        ishape = list(vals.shape)
        flat = [int(v) for v in vals.reshape(-1)]
        if isinstance(n, int) and any(not -n <= v < n for v in flat):
            bad = next(v for v in flat if not -n <= v < n)
            raise ctx.error(f"index {bad} is out of range for axis {axis} of extent {n}")
        attrs["idx"] = ("c", flat or [0])
        nidx = len(flat)
        if isinstance(n, D.Dim) and not (D.as_symbol(n) and flat and all(v == -1 for v in flat)):
            attrs["no_stream"] = True  # picks time steps other than the last
        elif isinstance(n, D.Dim):
            attrs["last_step"] = True  # a summary of the sequence (ops/stream.py)
    out_shape = dshape[:axis] + ishape + dshape[axis + 1 :]
    attrs.update(
        {
            "outer": dim_product(dshape[:axis], ctx),
            "n": n,
            "inner": dim_product(dshape[axis + 1 :], ctx),
            "nidx": nidx,
            "elem": ELEM_SIZE[dtype],
            "axis": axis,
            "embedding": attrs["data"][0] == "w",
        }
    )
    out = TensorInfo(ctx.output(), dtype, tuple(out_shape))
    return [Node(ctx.label, "gather", inputs, [out.name], attrs, weights=weights)], [out]
