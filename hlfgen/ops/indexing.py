"""TopK, ScatterElements and Range on runtime data.

TopK: the k largest (or smallest) along `axis`, values and int64 indices,
sorted with ties by the lower index (the ONNX rule; sorted=0 allows any
order and gets this one).  k may be a symbolic extent (K = Shape(x)[0], as
in PyTorch's unsorted pack_padded_sequence); k > n at run time makes
<name>_run() return -1.
ScatterElements (and opset < 11 Scatter): out = data with
out[..., indices[p], ...] = updates[p] along `axis`, reduction none, add,
mul, max or min; negative indices count from the end; an index out of range
returns -1.  data may be a constant or a single-valued tensor of symbolic
shape (zeros_like).
Range(start, limit, delta) with a symbolic limit or start (arange(S)): the
length ceil((limit - start) / delta) is an extent; the values are computed
at run time (accumulated, as onnxruntime).
"""

from __future__ import annotations

import numpy as np

from .. import dims as D
from ..ir import Node, TensorInfo
from . import OpContext, register
from .operands import ELEM, operand
from .util import fmt, norm_axis

FN = {"float32": "f32", "int64": "i64", "int32": "i32"}
REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "max": 3, "min": 4}


@register("TopK")
def topk(ctx: OpContext):
    x = ctx.info(0)
    if x.dtype not in FN:
        raise ctx.error(f"input has dtype {x.dtype}; expected float32, int32 or int64")
    shape = list(x.shape)
    if not shape:
        raise ctx.error("input is a scalar")
    axis = norm_axis(ctx, int(ctx.attrs.get("axis", -1)), len(shape))
    if ctx.opset < 10:
        k = int(ctx.attrs["k"])
    else:
        if ctx.is_runtime(1):
            raise ctx.error("K must be a constant or an extent of the input's shape (a runtime K is not supported)")
        ks = ctx.shape_const(1, "K")
        if not ks or len(ks) != 1:
            raise ctx.error("K must hold one value")
        k = ks[0]
    n = shape[axis]
    if isinstance(k, int) and isinstance(n, int) and k > n:
        raise ctx.error(f"K = {k} exceeds the extent {n} of axis {axis}")
    out_shape = tuple(shape[:axis] + [k] + shape[axis + 1 :])
    vals = TensorInfo(ctx.output(0), x.dtype, out_shape)
    idx = TensorInfo(ctx.output(1), "int64", out_shape)
    if not vals.name or not idx.name:
        raise ctx.error("both outputs (Values, Indices) must be named")
    outs = [vals, idx]
    attrs = {
        "outer": D.prod(shape[:axis]),
        "n": n,
        "inner": D.prod(shape[axis + 1 :]),
        "k": k,
        "axis": axis,
        "largest": int(ctx.attrs.get("largest", 1)),
        "sorted": int(ctx.attrs.get("sorted", 1)),
        "fn": FN[x.dtype],
    }
    if isinstance(n, D.Dim):
        attrs["no_stream"] = True
    return [Node(ctx.label, "topk", [x.name], [o.name for o in outs], attrs)], outs


@register("ScatterElements", "Scatter")
def scatter_elements(ctx: OpContext):
    weights: dict = {}
    inline: dict = {}
    if not ctx.is_runtime(0) and not ctx.is_runtime(2) and not ctx.is_runtime(1):  # pragma: no cover - folded
        raise ctx.error("no runtime input")
    data = operand(ctx, 0, "data", weights, inline)
    upd = operand(ctx, 2, "upd", weights, inline, want=data.dtype)
    idx = operand(ctx, 1, "idx", weights, inline)
    if idx.dtype not in ("int32", "int64"):
        raise ctx.error(f"indices have dtype {idx.dtype}; expected int32 or int64")
    if data.dtype not in ELEM:
        raise ctx.error(f"data has dtype {data.dtype}")
    if upd.broadcast_one or idx.broadcast_one:
        raise ctx.error("indices and updates of symbolic shape holding one value are not supported")
    rank = len(data.shape)
    if rank == 0 or len(idx.shape) != rank or list(upd.shape) != list(idx.shape):
        raise ctx.error(
            f"data {fmt(data.shape)}, indices {fmt(idx.shape)} and updates {fmt(upd.shape)} must have "
            "one rank, indices and updates one shape"
        )
    axis = norm_axis(ctx, int(ctx.attrs.get("axis", 0)), rank)
    red = ctx.attrs.get("reduction", b"none")
    red = red.decode() if isinstance(red, bytes) else str(red)
    if red not in REDUCTIONS:
        raise ctx.error(f"reduction '{red}' is not supported ({', '.join(REDUCTIONS)})")
    out = TensorInfo(ctx.output(), data.dtype, tuple(data.shape))
    attrs = {
        "elem": ELEM[data.dtype],
        "reduction": REDUCTIONS[red],
        "rank": rank,
        "dims": list(data.shape),
        "idims": list(idx.shape),
        "axis": axis,
        "data": list(data.src),
        "idx": list(idx.src),
        "upd": list(upd.src),
        "idx_i64": int(idx.dtype == "int64"),
        "fill": data.broadcast_one,
        "ctype": {"float32": "float", "int32": "int32_t", "int64": "int64_t", "bool": "uint8_t"}[data.dtype],
        "inline": inline,
        "no_stream": True,
    }
    runtime = [o.src[1] for o in (data, idx, upd) if o.runtime]
    return [Node(ctx.label, "scatter", list(dict.fromkeys(runtime)), [out.name], attrs, weights=weights)], [out]


def _scalar(ctx: OpContext, i: int, what: str):
    if ctx.is_runtime(i):
        raise ctx.error(f"{what} is runtime data: the output length would depend on data values")
    raw = ctx.consts.get(ctx.input(i))
    if isinstance(raw, D.Dim):  # a scalar extent (Shape(x)[1])
        return raw, "int64"
    arr = raw if isinstance(raw, np.ndarray) and raw.dtype == object else np.asarray(ctx.const(i, what))
    if arr.size != 1:
        raise ctx.error(f"{what} must be a scalar")
    v = arr.reshape(-1)[0]
    return v, ("int64" if arr.dtype == object else str(arr.dtype))


@register("Range")
def range_(ctx: OpContext):
    (start, dt), (limit, _), (delta, _) = (_scalar(ctx, i, w) for i, w in enumerate(("start", "limit", "delta")))
    if dt not in ("int32", "int64"):
        raise ctx.error(f"Range of dtype {dt} with a symbolic bound is not supported (int32, int64)")
    if isinstance(delta, D.Dim):
        raise ctx.error("a symbolic delta is not supported")
    delta = int(delta)
    if delta == 0:
        raise ctx.error("delta is 0")
    n = D.ceildiv(limit - start, delta) if delta > 0 else D.ceildiv(start - limit, -delta)
    if isinstance(n, int):
        n = max(n, 0)
    out = TensorInfo(ctx.output(), dt, (n,))
    attrs = {
        "n": n,
        "start": start,
        "delta": delta,
        "fn": FN[dt],
        "ctype": {"i64": "int64_t", "i32": "int32_t"}[FN[dt]],
    }
    if isinstance(n, D.Dim):
        attrs["no_stream"] = True  # positions 0..T-1 of the whole sequence, not of one step
    return [Node(ctx.label, "range", [], [out.name], attrs)], [out]
