"""SplitToSequence + SequenceAt with constant splits, lowered to slices at build time.

SplitToSequence(x, split, axis, keepdims) makes no data: the sequence is a
build-time list of [start, stop) ranges along `axis` (split absent: one
element per position, squeezed unless keepdims=1; a scalar split: chunks of
that size, the last one shorter; a 1-D split: those sizes).  SequenceAt with
a constant position (negative counts from the end) copies its range
(templates/ops/seqat.c.j2: outer rows of `len * inner` elements).  The axis
must be static.  The sequence itself is recorded as a TensorInfo of dtype
"sequence" holding the ranges (SequenceInfo), read by SequenceAt only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import dims as D
from ..ir import Node, TensorInfo
from . import OpContext, register
from .operands import SIZE
from .util import fmt, norm_axis


@dataclass
class SequenceInfo(TensorInfo):
    source: str = ""
    axis: int = 0
    ranges: list = field(default_factory=list)  # [(start, stop)]
    squeeze: bool = False
    elem_dtype: str = "float32"
    source_shape: tuple = ()


@register("SplitToSequence")
def split_to_sequence(ctx: OpContext):
    x = ctx.info(0)
    shape = list(x.shape)
    if not shape:
        raise ctx.error("input is a scalar")
    axis = norm_axis(ctx, int(ctx.attrs.get("axis", 0)), len(shape))
    n = shape[axis]
    if isinstance(n, D.Dim):
        raise ctx.error(f"splitting the symbolic axis {axis} (extent {n}) is not supported; the axis must be static")
    if ctx.input(1) and ctx.is_runtime(1):
        raise ctx.error("split must be a constant")
    split = ctx.const(1, "split")
    squeeze = False
    if split is None:
        ranges = [(i, i + 1) for i in range(n)]
        squeeze = not int(ctx.attrs.get("keepdims", 1))
    else:
        split = np.asarray(split).astype(np.int64)
        if split.ndim == 0:
            step = int(split)
            if step <= 0:
                raise ctx.error(f"split {step} must be positive")
            ranges = [(s, min(s + step, n)) for s in range(0, n, step)]
        else:
            sizes = [int(v) for v in split]
            if sum(sizes) != n or any(v < 0 for v in sizes):
                raise ctx.error(f"split {sizes} does not sum to the extent {n} of axis {axis}")
            bounds = np.cumsum([0] + sizes).tolist()
            ranges = list(zip(bounds[:-1], bounds[1:]))
    info = SequenceInfo(
        ctx.output(),
        "sequence",
        (),
        source=x.name,
        axis=axis,
        ranges=ranges,
        squeeze=squeeze,
        elem_dtype=x.dtype,
        source_shape=tuple(shape),
    )
    return [], [info]


@register("SequenceAt")
def sequence_at(ctx: OpContext):
    seq = ctx.tensors.get(ctx.input(0))
    if not isinstance(seq, SequenceInfo):
        raise ctx.error("the sequence must come from SplitToSequence (other sequences are not supported)")
    if ctx.is_runtime(1):
        raise ctx.error("position must be a constant")
    pos = int(np.asarray(ctx.const(1, "position")).reshape(-1)[0])
    if not -len(seq.ranges) <= pos < len(seq.ranges):
        raise ctx.error(f"position {pos} is out of range for a sequence of {len(seq.ranges)} tensors")
    start, stop = seq.ranges[pos]
    shape = list(seq.source_shape)
    ax = seq.axis
    out_shape = shape[:ax] + ([] if seq.squeeze else [stop - start]) + shape[ax + 1 :]
    out = TensorInfo(ctx.output(), seq.elem_dtype, tuple(out_shape))
    attrs = {
        "outer": D.prod(shape[:ax]),
        "n": shape[ax],
        "start": start,
        "len": stop - start,
        "inner": D.prod(shape[ax + 1 :]),
        "elem": SIZE[seq.elem_dtype],
        "what": f"element {pos} of the split of {fmt(shape)} along axis {ax}: [{start}, {stop})",
    }
    return [Node(ctx.label, "seqat", [seq.source], [out.name], attrs)], [out]
