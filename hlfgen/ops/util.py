"""Shape helpers shared by the operator modules.

Dims: ints (static) and dims.Dim (symbolic extents).  Broadcasting follows
numpy (ONNX "multidirectional broadcasting"); a symbolic extent broadcasts
against 1 and against itself, never against another extent (which it would
have to equal).
"""

from __future__ import annotations

import numpy as np

from .. import dims as D
from ..config import MAX_RANK
from . import OpContext
from .shape_ops import dim_product, fmt

C_TYPES = {"float32": "float", "int32": "int32_t", "int64": "int64_t", "bool": "uint8_t"}
ELEM_SIZE = {"float32": 4, "int32": 4, "int64": 8, "bool": 1}


def norm_axis(ctx: OpContext, axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ctx.error(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


def broadcast(ctx: OpContext, *shapes) -> list[int]:
    """numpy broadcast of shapes with symbolic T dims."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = {s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ctx.error(
                "shapes "
                + ", ".join(fmt(s) for s in shapes)
                + " do not broadcast"
                + (
                    " (a symbolic extent only broadcasts against 1 or itself)"
                    if any(isinstance(d, D.Dim) for d in dims)
                    else ""
                )
            )
        out.append(dims.pop() if dims else 1)
    return out


def full_mask(shape, out) -> int:
    """Bit i set when an operand of `shape` (right-aligned) spans the output's axis i (else: broadcast)."""
    mask = 0
    off = len(out) - len(shape)
    for i, d in enumerate(out):
        if i >= off and shape[i - off] == d and d != 1:
            mask |= 1 << i
    return mask


def coalesce(out, masks: list[int]) -> tuple[list[int], list[int]]:
    """Drop extent-1 axes and merge neighbours every operand treats alike (fewer, longer loops).

    Returns (dims, masks) of the reduced problem (merged extents are products).
    """
    keep = [i for i, d in enumerate(out) if d != 1]
    dims: list[int] = []
    new_masks = [0] * len(masks)
    prev_bits = None
    for i in keep:
        bits = tuple((m >> i) & 1 for m in masks)
        if prev_bits == bits and dims:
            dims[-1] = dim_product([dims[-1], out[i]])
        else:
            dims.append(out[i])
            for k, b in enumerate(bits):
                new_masks[k] |= b << (len(dims) - 1)
        prev_bits = bits
    return dims, new_masks


def require_float(ctx: OpContext, dtype: str, what: str = "input") -> None:
    if dtype != "float32":
        raise ctx.error(f"{what} has dtype {dtype}; {ctx.op} is supported on float32 data only")


def const_float(ctx: OpContext, arr: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        raise ctx.error(f"{what} has dtype {arr.dtype}; expected float32")
    return np.ascontiguousarray(arr, np.float32)


__all__ = [
    "C_TYPES",
    "ELEM_SIZE",
    "MAX_RANK",
    "broadcast",
    "coalesce",
    "const_float",
    "dim_product",
    "fmt",
    "full_mask",
    "norm_axis",
    "require_float",
]
