"""Cast and CastLike of runtime data between float32, int32, int64 and bool.

A cast to the same type is a view.  Otherwise each element is converted by
runtime hlf_cast: float -> int truncates toward zero (C, as onnxruntime),
to bool is x != 0 (NaN is true), from bool gives 0 or 1.  bool is uint8_t
in C (runtime/hlf_tensor.h).  CastLike takes the type of its second input.
Other types (double, float16, ...) are not supported on runtime data.
"""

from __future__ import annotations

import numpy as np
import onnx

from .. import dims as D
from ..ir import Node, TensorInfo
from . import OpContext, register
from .operands import C_TYPE, ELEM, INLINE_MAX, dtype_of

TYPES = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.BOOL: "bool",
}


NP = {"float32": np.float32, "int32": np.int32, "int64": np.int64, "bool": np.bool_}


def _constant(ctx: OpContext, dtype: str):
    """CastLike(constant, runtime): the value is known; a node writes it into a runtime tensor."""
    raw = ctx.consts.get(ctx.input(0))
    if isinstance(raw, np.ndarray) and raw.dtype == object:
        raise ctx.error("input 0 holds symbolic extents; CastLike of it to a runtime tensor's type is not supported")
    value = np.asarray(ctx.const(0, "input")).astype(NP[dtype])
    weights, inline = {}, {}
    if dtype == "float32":
        weights["v"] = value.reshape(-1) if value.size else np.zeros(1, np.float32)
        src = ["w", "v"]
    else:
        if value.size > INLINE_MAX:
            raise ctx.error(f"a constant of {value.size} elements is not supported here (at most {INLINE_MAX})")
        inline["v"] = (C_TYPE[dtype], [int(v) for v in value.reshape(-1)] or [0])
        src = ["c", "v"]
    out = TensorInfo(ctx.output(), dtype, tuple(int(d) for d in value.shape))
    return [
        Node(
            ctx.label,
            "constant",
            [],
            [out.name],
            {"src": src, "inline": inline, "n": int(value.size), "dtype": dtype},
            weights=weights,
        )
    ], [out]


def _cast(ctx: OpContext, dtype: str):
    if not ctx.is_runtime(0):
        return _constant(ctx, dtype)
    x = ctx.info(0)
    if x.dtype not in ELEM:
        raise ctx.error(f"input has dtype {x.dtype}; Cast is supported between float32, int32, int64 and bool")
    out = TensorInfo(ctx.output(), dtype, x.shape)
    if dtype == x.dtype:
        return [Node(ctx.label, "view", [x.name], [out.name], {"onnx_op": ctx.op}, alias=True)], [out]
    return [
        Node(
            ctx.label,
            "cast",
            [x.name],
            [out.name],
            {
                "onnx_op": ctx.op,
                "from": x.dtype,
                "to": dtype,
                "from_elem": ELEM[x.dtype],
                "to_elem": ELEM[dtype],
                "n": D.prod(list(x.shape)),
            },
        )
    ], [out]


@register("Cast")
def cast(ctx: OpContext):
    to = int(ctx.attrs.get("to", 0))
    dtype = TYPES.get(to)
    if dtype is None:
        name = onnx.TensorProto.DataType.Name(to).lower() if to in onnx.TensorProto.DataType.values() else str(to)
        raise ctx.error(f"Cast to {name} is not supported on runtime data (float32, int32, int64, bool)")
    return _cast(ctx, dtype)


@register("CastLike")
def cast_like(ctx: OpContext):
    if ctx.is_runtime(1):
        dtype = ctx.info(1).dtype
    else:
        raw = ctx.consts.get(ctx.input(1))
        arr = raw if isinstance(raw, np.ndarray) and raw.dtype == object else np.asarray(ctx.weight(1, "target_type"))
        try:
            dtype = dtype_of(arr)
        except TypeError:
            raise ctx.error(
                f"CastLike to {np.asarray(arr).dtype} is not supported (float32, int32, int64, bool)"
            ) from None
        if np.asarray(arr).dtype.kind == "f" and np.asarray(arr).dtype != np.float32:
            raise ctx.error(f"CastLike to {np.asarray(arr).dtype} is not supported (float32, int32, int64, bool)")
    return _cast(ctx, dtype)
