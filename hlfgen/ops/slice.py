"""Slice and Split of runtime data.

Slice follows the ONNX opset-10+ rule per axis: a negative start/end counts
from the end; start is clamped to [0, n] (step > 0) or [0, n-1] (step < 0),
end to [0, n] or [-1, n-1]; the output has ceil((end - start) / step)
elements.  starts/ends may be INT64_MAX-like or negative, and may be symbolic
extents (shape arithmetic on Shape(X)).  On a symbolic axis the resolution
happens at run time (hlf_slice), so ``x[:, -1:]`` is the last step for every
T; the output's extent must be an expression of the symbols (``T``,
``(T - 5) // 2 + 1`` for a stride-2 window), checked against the ONNX rule at
sampled values (``x[:, :3]`` is min(3, T): an error).

Streaming: a slice of the T axis is per step only when it keeps every step
or just the last one; otherwise the model is marked non-streamable.

Split is a Slice per output along a static axis.
"""

from __future__ import annotations

import numpy as np

from .. import dims as D
from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import ELEM_SIZE, MAX_RANK, fmt, norm_axis

CLAMP = 1 << 31  # |start|, |end| beyond any extent: clamped without changing the result


def resolve(n: int, start: int, end: int, step: int) -> tuple[int, int]:
    """(first index, count) of ONNX Slice on an axis of extent n (as runtime/hlf_nn.c)."""
    s = start + n if start < 0 else start
    e = end + n if end < 0 else end
    if step > 0:
        s, e = min(max(s, 0), n), min(max(e, 0), n)
        return s, max(0, -(-(e - s) // step))
    s, e = min(max(s, 0), n - 1), min(max(e, -1), n - 1)
    return s, max(0, -(-(s - e) // -step))


def _norm_bound(v, n, step: int, start: bool):
    """A start/end as an index expression, assuming it lands inside the axis (checked by _check)."""
    if isinstance(v, D.Dim):
        return v
    if v >= CLAMP:
        return n if step > 0 else n - 1
    if v <= -CLAMP:
        return 0 if step > 0 or start else -1
    return n + v if v < 0 else v


def _samples(names: list[str]) -> list[dict]:
    """Values of the symbols at which a symbolic slice is checked against the ONNX rule."""
    rng = np.random.default_rng(1234)
    if len(names) == 1:
        vals = list(range(1, 65)) + [int(v) for v in rng.integers(65, 4097, 24)]
        return [{names[0]: v} for v in vals]
    return [{s: int(rng.integers(1, 65 if k % 2 else 4097)) for s in names} for k in range(200)]


def plan_axis(ctx: OpContext, shape, ax: int, start, end, step: int):
    """(first index, count) of ONNX Slice on axis ax as extents (ints or Dims), and the samples."""
    n = shape[ax]
    if all(isinstance(v, int) for v in (n, start, end)):
        return resolve(n, start, end, step), None
    s, e = _norm_bound(start, n, step, True), _norm_bound(end, n, step, False)
    count = D.ceildiv(e - s, step) if step > 0 else D.ceildiv(s - e, -step)
    names = sorted(set().union(*(D.symbols(v) for v in (n, start, end))))
    checked = []
    for env in _samples(names):
        nv = D.evaluate(n, env)
        if nv < 1:
            continue
        f, c = resolve(nv, D.evaluate(start, env), D.evaluate(end, env), step)
        if D.evaluate(count, env) != c or (c and D.evaluate(s, env) != f):
            raise ctx.error(
                f"slicing axis {ax} of {fmt(shape)} gives an extent that is not an expression of "
                f"the symbolic dimensions (e.g. min(k, T) or max(0, T - k)): at "
                + ", ".join(f"{k}={v}" for k, v in env.items())
                + f" it is {c}, not {D.evaluate(count, env)}"
            )
        checked.append((env, nv, f, c))
    return (s, count), checked


def plan_slice(ctx: OpContext, shape, spec: dict) -> tuple[list, dict, bool]:
    """spec: axis -> (start, end, step); start/end ints or Dims.

    Returns (out shape, C args and whether it keeps just the last step, streams)."""
    out, starts, ends, steps = [], [], [], []
    stream, last_step = True, False
    for ax, d in enumerate(shape):
        if ax not in spec:
            out.append(d)
            starts.append(0)
            ends.append(CLAMP)
            steps.append(1)
            continue
        start, end, step = spec[ax]
        start = start if isinstance(start, D.Dim) else max(-CLAMP, min(CLAMP, start))
        end = end if isinstance(end, D.Dim) else max(-CLAMP, min(CLAMP, end))
        (first, count), checked = plan_axis(ctx, shape, ax, start, end, step)
        out.append(count)
        if isinstance(d, D.Dim):  # a symbolic axis (streaming: one step at a time)
            identity = first == 0 and count == d and step == 1
            last = count == 1 and first == d - 1
            stream = stream and (identity or last)
            last_step = last_step or (last and not identity)
        starts.append(start)
        ends.append(end)
        steps.append(step)
    return out, {"starts": starts, "ends": ends, "steps": steps, "last_step": last_step}, stream


def _slice_node(ctx: OpContext, x: TensorInfo, out_name: str, spec: dict) -> tuple[Node, TensorInfo]:
    out_shape, args, stream = plan_slice(ctx, list(x.shape), spec)
    out = TensorInfo(out_name, x.dtype, tuple(out_shape))
    attrs = {"onnx_op": ctx.op, "dims": list(x.shape), "out": out_shape, "elem": ELEM_SIZE[x.dtype], **args}
    if not stream:
        attrs["no_stream"] = True
    if len(x.shape) > MAX_RANK:
        raise ctx.error(f"rank {len(x.shape)} is above {MAX_RANK}")
    return Node(ctx.label, "slice", [x.name], [out.name], attrs), out


@register("Slice")
def slice_(ctx: OpContext):
    x = ctx.info(0)
    rank = len(x.shape)
    if ctx.opset < 10:
        starts = [int(v) for v in ctx.attrs["starts"]]
        ends = [int(v) for v in ctx.attrs["ends"]]
        axes = [int(a) for a in ctx.attrs.get("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        starts = ctx.shape_const(1, "starts")
        ends = ctx.shape_const(2, "ends")
        axes = [int(a) for a in np.ravel(ctx.const(3, "axes"))] if ctx.input(3) else list(range(len(starts)))
        steps = [int(s) for s in np.ravel(ctx.const(4, "steps"))] if ctx.input(4) else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.error("starts, ends, axes and steps have different lengths")
    spec = {}
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(ctx, a, rank)
        if a in spec:
            raise ctx.error(f"axis {a} is repeated")
        if st == 0:
            raise ctx.error("a step of 0")
        spec[a] = (s, e, st)
    node, out = _slice_node(ctx, x, ctx.output(), spec)
    return [node], [out]


@register("Split")
def split(ctx: OpContext):
    x = ctx.info(0)
    rank = len(x.shape)
    axis = norm_axis(ctx, int(ctx.attrs.get("axis", 0)), rank)
    dim = x.shape[axis]
    if isinstance(dim, D.Dim):
        raise ctx.error(f"Split along an axis of symbolic extent {dim} is not supported")
    outputs = list(ctx.node.output)
    if ctx.opset >= 13 and ctx.input(1):
        sizes = [int(v) for v in np.ravel(ctx.const(1, "split"))]
    elif "split" in ctx.attrs:
        sizes = [int(v) for v in ctx.attrs["split"]]
    else:
        parts = int(ctx.attrs.get("num_outputs", len(outputs)))
        chunk = -(-dim // parts)
        sizes = [max(0, min(chunk, dim - i * chunk)) for i in range(parts)]
    if len(sizes) != len(outputs) or sum(sizes) != dim or any(s < 0 for s in sizes):
        raise ctx.error(f"split sizes {sizes} do not divide axis {axis} of extent {dim} into {len(outputs)} outputs")
    nodes, outs, pos = [], [], 0
    for name, size in zip(outputs, sizes):
        if name:
            node, out = _slice_node(ctx, x, name, {axis: (pos, pos + size, 1)})
            nodes.append(node)
            outs.append(out)
        pos += size
    return nodes, outs
