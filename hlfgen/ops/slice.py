"""Slice and Split of runtime data.

Slice follows the ONNX opset-10+ rule per axis: a negative start/end counts
from the end; start is clamped to [0, n] (step > 0) or [0, n-1] (step < 0),
end to [0, n] or [-1, n-1]; the output has ceil((end - start) / step)
elements.  starts/ends may be INT64_MAX-like or negative, and may depend on
T (shape arithmetic on Shape(X)) as c0 + c1*T.  On the sequence axis the
resolution happens at run time (hlf_slice), so ``x[:, -1:]`` is the last
step for every T; the output's extent must be the same for every T or a
multiple of T (``x[:, :3]`` is min(3, T): an error).

Streaming: a slice of the T axis is per step only when it keeps every step
or just the last one; otherwise the model is marked non-streamable.

Split is a Slice per output along a static axis.
"""

from __future__ import annotations

import numpy as np

from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import ELEM_SIZE, dim_at, fmt, norm_axis

# Sequence lengths at which a slice of a T-dependent axis is resolved at build
# time to find its output extent (the C code checks it again at run time).
T_CHECK = range(1, 2049)
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


def _linear_in_t(ctx: OpContext, i: int, what: str) -> list[tuple[int, int]] | None:
    """Entries of constant input i as (c0, c1): value c0 + c1*T."""
    name = ctx.input(i)
    if not name:
        return None
    if name not in ctx.consts:
        raise ctx.error(f"input {i} ({what}) must be a constant")
    from ..reader import T_ALT, T_PRIMARY

    p = np.ravel(ctx.consts[name]).astype(np.int64)
    a = np.ravel(ctx.alt[name]).astype(np.int64) if name in ctx.alt else p
    out = []
    for pv, av in zip(p.tolist(), a.tolist()):
        c1, rem = divmod(pv - av, T_PRIMARY - T_ALT)
        if rem:
            raise ctx.error(f"{what} depends on the sequence length other than linearly")
        c0 = pv - c1 * T_PRIMARY
        out.append((max(-CLAMP, min(CLAMP, c0)), c1))
    return out


def _c_value(v: tuple[int, int]) -> str:
    c0, c1 = v
    if c1 == 0:
        return str(c0)
    t = "(int64_t)T" if c1 == 1 else f"{c1} * (int64_t)T"
    return t if c0 == 0 else f"{c0} + {t}"


def plan_slice(ctx: OpContext, shape, spec: dict) -> tuple[list[int], dict, bool]:
    """spec: axis -> (start (c0, c1), end (c0, c1), step).

    Returns (out shape, C args and whether it keeps just the last step, streams)."""
    out, starts, ends, steps = [], [], [], []
    stream, last_step = True, False
    for ax, d in enumerate(shape):
        if ax not in spec:
            out.append(d)
            starts.append("0")
            ends.append("INT64_MAX")
            steps.append(1)
            continue
        (s0, s1), (e0, e1), step = spec[ax]
        if d >= 0 and s1 == 0 and e1 == 0:
            out.append(resolve(d, s0, e0, step)[1])
        else:
            res = [(t, *resolve(dim_at(d, t), s0 + s1 * t, e0 + e1 * t, step)) for t in T_CHECK]
            counts = {c for _, _, c in res}
            if len(counts) == 1:
                out.append(counts.pop())
            elif all(c % t == 0 and c // t == res[0][2] for t, _, c in res) and res[0][2] > 0:
                out.append(-res[0][2])
            else:
                raise ctx.error(f"slicing axis {ax} of {fmt(shape)} gives an extent that is neither constant "
                                "nor a multiple of the sequence length T (e.g. min(k, T) or T-1)")
            if d < 0:
                identity = all(f == 0 and c == dim_at(d, t) and step == 1 for t, f, c in res)
                last = all(c == 1 and f == dim_at(d, t) - 1 for t, f, c in res)
                stream = stream and (identity or last)
                last_step = last_step or (last and not identity)
        starts.append(_c_value((s0, s1)))
        ends.append(_c_value((e0, e1)))
        steps.append(step)
    if sum(1 for d in out if d < 0) > 1:
        raise ctx.error("the output would have two sequence axes")
    return out, {"starts": starts, "ends": ends, "steps": steps, "last_step": last_step}, stream


def _slice_node(ctx: OpContext, x: TensorInfo, out_name: str, spec: dict) -> tuple[Node, TensorInfo]:
    out_shape, args, stream = plan_slice(ctx, list(x.shape), spec)
    out = TensorInfo(out_name, x.dtype, tuple(out_shape))
    attrs = {"onnx_op": ctx.op, "dims": list(x.shape), "out": out_shape, "elem": ELEM_SIZE[x.dtype], **args}
    if not stream:
        attrs["no_stream"] = True
    if len(x.shape) > 8:
        raise ctx.error("rank above 8")
    return Node(ctx.label, "slice", [x.name], [out.name], attrs), out


@register("Slice")
def slice_(ctx: OpContext):
    x = ctx.info(0)
    rank = len(x.shape)
    if ctx.opset < 10:
        starts = [(int(v), 0) for v in ctx.attrs["starts"]]
        ends = [(int(v), 0) for v in ctx.attrs["ends"]]
        axes = [int(a) for a in ctx.attrs.get("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        starts = _linear_in_t(ctx, 1, "starts")
        ends = _linear_in_t(ctx, 2, "ends")
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
    if dim < 0:
        raise ctx.error("Split along the sequence axis T is not supported")
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
            node, out = _slice_node(ctx, x, name, {axis: ((pos, 0), (pos + size, 0), 1)})
            nodes.append(node)
            outs.append(out)
        pos += size
    return nodes, outs
