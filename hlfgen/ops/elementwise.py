"""Element-wise operators on runtime float32 data.

Unary (Relu, Tanh, Sigmoid, Neg, Exp, ...) print one C expression per
element (templates/ops/unary.c.j2).  Binary (Add, Sub, Mul, Div, Pow, Max,
Min, PRelu) broadcast as numpy does between runtime tensors and/or
constants (templates/ops/binary.c.j2, runtime hlf_f32_binary).  Everything is
per element, so each is correct for any extents and streams.
"""

from __future__ import annotations

import numpy as np

from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import MAX_RANK, broadcast, coalesce, const_float, full_mask, require_float

# ONNX op -> (C expression of v (and alpha, beta), default alpha, default beta)
UNARY = {
    "Relu": ("v > 0.0f ? v : 0.0f", None, None),
    "LeakyRelu": ("v >= 0.0f ? v : alpha * v", 0.01, None),
    "Tanh": ("tanhf(v)", None, None),
    "Sigmoid": ("1.0f / (1.0f + expf(-v))", None, None),
    "HardSigmoid": ("fmaxf(0.0f, fminf(1.0f, alpha * v + beta))", 0.2, 0.5),
    "Neg": ("-v", None, None),
    "Abs": ("fabsf(v)", None, None),
    "Exp": ("expf(v)", None, None),
    "Log": ("logf(v)", None, None),
    "Sqrt": ("sqrtf(v)", None, None),
    "Reciprocal": ("1.0f / v", None, None),
    "Softplus": ("v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v))", None, None),
    "Softsign": ("v / (1.0f + fabsf(v))", None, None),
    "Elu": ("v >= 0.0f ? v : alpha * expm1f(v)", 1.0, None),
    "Selu": ("beta * (v > 0.0f ? v : alpha * expm1f(v))", 1.67326319217681884765625, 1.05070102214813232421875),
    "Erf": ("erff(v)", None, None),
    "Floor": ("floorf(v)", None, None),
    "Ceil": ("ceilf(v)", None, None),
    "Clip": ("fminf(fmaxf(v, alpha), beta)", None, None),
}

BINARY = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Pow": 4, "Max": 5, "Min": 6, "PRelu": 7}


@register(*UNARY)
def unary(ctx: OpContext):
    x = ctx.info(0)
    require_float(ctx, x.dtype)
    expr, da, db = UNARY[ctx.op]
    alpha = float(ctx.attrs.get("alpha", da if da is not None else 0.0))
    beta = float(ctx.attrs.get("gamma" if ctx.op == "Selu" else "beta", db if db is not None else 0.0))
    if ctx.op == "Clip":
        lo, hi = -np.inf, np.inf
        if ctx.opset < 11:
            lo, hi = float(ctx.attrs.get("min", lo)), float(ctx.attrs.get("max", hi))
        else:
            if ctx.input(1):
                lo = float(np.asarray(ctx.const(1, "min")).reshape(-1)[0])
            if ctx.input(2):
                hi = float(np.asarray(ctx.const(2, "max")).reshape(-1)[0])
        alpha, beta = lo, hi
    out = TensorInfo(ctx.output(), "float32", x.shape)
    return [
        Node(
            ctx.label,
            "unary",
            [x.name],
            [out.name],
            {
                "onnx_op": ctx.op,
                "expr": expr,
                "alpha": alpha,
                "beta": beta,
                "uses_a": "alpha" in expr,
                "uses_b": "beta" in expr,
            },
        )
    ], [out]


def _operand(ctx: OpContext, i: int, key: str, weights: dict):
    """(shape, source) of input i: ('t', tensor name) or ('w', weight key)."""
    if ctx.is_runtime(i):
        info = ctx.info(i)
        require_float(ctx, info.dtype, f"input {i}")
        return list(info.shape), ("t", info.name)
    fill = ctx.fill(i)
    if fill is not None:  # e.g. zeros of Shape(X): one value, broadcast
        value, dims = fill
        weights[key] = np.array([value], np.float32)
        return dims, ("w", key, "fill")
    arr = const_float(ctx, ctx.const(i), f"input {i}")
    weights[key] = arr.reshape(-1) if arr.size else np.zeros(1, np.float32)
    return list(arr.shape), ("w", key)


@register(*BINARY)
def binary(ctx: OpContext):
    if ctx.op in ("Max", "Min") and len([n for n in ctx.node.input if n]) != 2:
        raise ctx.error(f"{ctx.op} of {len(ctx.node.input)} inputs is not supported (two inputs only)")
    if ctx.op == "Pow" and not ctx.is_runtime(0):
        raise ctx.error("Pow with a constant base is not supported")
    if any(ctx.is_runtime(i) and ctx.info(i).dtype in ("int32", "int64") for i in (0, 1)):
        from .logic import int_binary  # integer arithmetic (lengths, indices)

        return int_binary(ctx)
    weights: dict = {}
    sa, src_a = _operand(ctx, 0, "a", weights)
    sb, src_b = _operand(ctx, 1, "b", weights)
    if ctx.op == "PRelu" and (len(sb) > len(sa) or broadcast(ctx, sa, sb) != sa):
        raise ctx.error("PRelu's slope must broadcast to X (unidirectional)")
    out_shape = broadcast(ctx, sa, sb)
    ma = 0 if len(src_a) == 3 else full_mask(sa, out_shape)
    mb = 0 if len(src_b) == 3 else full_mask(sb, out_shape)
    dims, (ma, mb) = coalesce(out_shape, [ma, mb])
    if not dims:  # one element
        dims, ma, mb = [1], 0, 0
    if len(dims) > MAX_RANK:
        raise ctx.error(f"more than {MAX_RANK} broadcast axes")
    runtime = [s[1] for s in (src_a, src_b) if s[0] == "t"]
    out = TensorInfo(ctx.output(), "float32", tuple(out_shape))
    return [
        Node(
            ctx.label,
            "binary",
            list(dict.fromkeys(runtime)),
            [out.name],
            {
                "onnx_op": ctx.op,
                "code": BINARY[ctx.op],
                "dims": dims,
                "a": src_a[:2],
                "b": src_b[:2],
                "a_full": ma,
                "b_full": mb,
                "out_shape": out_shape,
            },
            weights=weights,
        )
    ], [out]
