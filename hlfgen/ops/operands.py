"""Operands of the tensor operators (ops/logic.py, reduce.py, matmul.py, ...).

An operand is a runtime tensor or a constant.  Constants the generated code
reads are printed by the operator's template (templates/ops/_operands.j2):
float constants as static weights (Node.weights), integer and bool constants
as small C arrays inside the operator's block, whose entries may be symbolic
extents (``Shape(x)[1]`` compared with runtime lengths: the entry is the C
expression of S).  A single-valued constant of symbolic shape
(``ConstantOfShape(Shape(x))``) is one element broadcast over that shape.

bool tensors are stored as uint8_t, 0 or 1 (runtime/hlf_tensor.h).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dims as D
from . import OpContext

ELEM = {"float32": 0, "int32": 1, "int64": 2, "bool": 3}  # enum hlf_elem
C_TYPE = {"float32": "float", "int32": "int32_t", "int64": "int64_t", "bool": "uint8_t"}
SIZE = {"float32": 4, "int32": 4, "int64": 8, "bool": 1}
INLINE_MAX = 256  # integer/bool constants up to this many elements are printed inline


@dataclass
class Operand:
    shape: list  # ints and Dims
    dtype: str  # "float32", "int32", "int64", "bool"
    src: tuple  # ("t", tensor name) | ("w", weights key) | ("c", key) inline C array
    broadcast_one: bool = False  # one element broadcast over `shape` (a Fill)

    @property
    def runtime(self) -> bool:
        return self.src[0] == "t"


def dtype_of(arr: np.ndarray) -> str:
    arr = np.asarray(arr)
    if arr.dtype == object:
        return "int64"  # shape arithmetic (ints and Dims)
    if arr.dtype == np.bool_:
        return "bool"
    if arr.dtype.kind == "f":
        return "float32"
    if arr.dtype == np.int32:
        return "int32"
    if arr.dtype.kind in "iu":
        return "int64"
    raise TypeError(str(arr.dtype))


def operand(ctx: OpContext, i: int, key: str, node_weights: dict, inline: dict, want: str | None = None) -> Operand:
    """Input i as an Operand.  Constants are converted to `want` when given (the other operand's dtype).

    node_weights: Node.weights (float constants); inline: attrs["inline"][key] = (C type, entries).
    """
    if ctx.is_runtime(i):
        info = ctx.info(i)
        if info.dtype not in ELEM:
            raise ctx.error(f"input {i} has dtype {info.dtype}, not supported by {ctx.op}")
        return Operand(list(info.shape), info.dtype, ("t", info.name))
    fill = ctx.fill(i)
    if fill is not None:
        value, shape = fill
        arr, one = np.asarray(value).reshape(1), True
    else:
        name = ctx.input(i)
        raw = ctx.consts.get(name) if name else None
        if raw is None:
            raise ctx.error(f"input {i} is missing")
        if isinstance(raw, D.Dim):  # a scalar extent
            raw = np.array(raw, dtype=object)
        if isinstance(raw, np.ndarray) and raw.dtype == object:  # symbolic entries
            arr = raw
        else:
            arr = np.asarray(ctx.const(i))
        shape, one = list(arr.shape), False
    try:
        dtype = dtype_of(arr)
    except TypeError:
        raise ctx.error(f"input {i} has dtype {np.asarray(arr).dtype}, not supported by {ctx.op}") from None
    if want is not None and want != dtype:
        if arr.dtype == object and want == "float32":
            raise ctx.error(f"input {i} holds symbolic extents; {ctx.op} needs them as {want}")
        dtype = want
        if arr.dtype != object:
            arr = arr.astype({"float32": np.float32, "int32": np.int32, "int64": np.int64, "bool": np.bool_}[want])
    flat = arr.reshape(-1) if arr.size else np.zeros(1, arr.dtype)
    if dtype == "float32":
        node_weights[key] = np.ascontiguousarray(flat, np.float32)
        return Operand(shape, dtype, ("w", key), one)
    if flat.size > INLINE_MAX and arr.dtype != object:
        raise ctx.error(
            f"input {i}: an integer constant of {flat.size} elements is not supported (at most {INLINE_MAX})"
        )
    entries = [v if isinstance(v, D.Dim) else int(v) for v in flat.tolist()]
    inline[key] = (C_TYPE[dtype], entries)
    return Operand(shape, dtype, ("c", key), one)


def ptr_key(op: Operand):
    """What the template needs to print the operand's pointer."""
    return list(op.src)
