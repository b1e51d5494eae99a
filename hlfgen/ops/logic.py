"""Comparisons, logic, Where, and integer arithmetic on runtime tensors.

Less, LessOrEqual, Greater, GreaterOrEqual, Equal (float32, int32, int64,
bool operands) give bool; And, Or, Xor and Not take and give bool; Where
picks x or y (any dtype) by a bool condition, with three-way numpy
broadcasting.  Integer Add/Sub/Mul/Div/Max/Min (the sequence-length
arithmetic of masks) come here from ops/elementwise.py.  bool is uint8_t
0/1 in C (runtime/hlf_tensor.h).  Everything is per element, so each
streams.
"""

from __future__ import annotations

from ..config import MAX_RANK
from ..ir import Node, TensorInfo
from . import OpContext, register
from .operands import ELEM, SIZE, operand
from .util import broadcast, coalesce, full_mask

COMPARE = {"Less": 0, "LessOrEqual": 1, "Greater": 2, "GreaterOrEqual": 3, "Equal": 4}
LOGIC = {"And": 0, "Or": 1, "Xor": 2}
# enum hlf_binary_op of runtime/hlf_nn.h (integer versions in hlf_tensor.h)
INT_BINARY = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Max": 5, "Min": 6}


def _masks(ctx: OpContext, operands) -> tuple[list, list, list[int]]:
    """(output shape, coalesced dims, one full-mask per operand)."""
    out_shape = broadcast(ctx, *[o.shape for o in operands])
    masks = [0 if o.broadcast_one else full_mask(o.shape, out_shape) for o in operands]
    dims, masks = coalesce(out_shape, masks)
    if not dims:
        dims, masks = [1], [0] * len(operands)
    if len(dims) > MAX_RANK:
        raise ctx.error(f"more than {MAX_RANK} broadcast axes")
    return out_shape, dims, masks


def _pair(ctx: OpContext, want_bool: bool = False):
    weights, inline = {}, {}
    first = 0 if ctx.is_runtime(0) else 1
    o1 = operand(ctx, first, "ab"[first], weights, inline)
    o2 = operand(ctx, 1 - first, "ab"[1 - first], weights, inline, want=o1.dtype)
    a, b = (o1, o2) if first == 0 else (o2, o1)
    if a.dtype != b.dtype:
        raise ctx.error(f"inputs have dtypes {a.dtype} and {b.dtype}; {ctx.op} needs equal types")
    if want_bool and a.dtype != "bool":
        raise ctx.error(f"inputs have dtype {a.dtype}; {ctx.op} takes bool tensors")
    return a, b, weights, inline


def _node(ctx, kind, code, operands, names, out_dtype, weights, inline, extra=None):
    out_shape, dims, masks = _masks(ctx, operands)
    attrs = {
        "onnx_op": ctx.op,
        "kind": kind,
        "code": code,
        "dims": dims,
        "out_shape": out_shape,
        "out_dtype": out_dtype,
        "inline": inline,
    }
    for name, o, m in zip(names, operands, masks):
        attrs[name] = list(o.src)
        attrs[name + "_full"] = m
    attrs.update(extra or {})
    runtime = [o.src[1] for o in operands if o.runtime]
    out = TensorInfo(ctx.output(), out_dtype, tuple(out_shape))
    return [Node(ctx.label, "compare", list(dict.fromkeys(runtime)), [out.name], attrs, weights=weights)], [out]


@register(*COMPARE)
def compare(ctx: OpContext):
    a, b, weights, inline = _pair(ctx)
    return _node(ctx, "compare", COMPARE[ctx.op], [a, b], ["a", "b"], "bool", weights, inline, {"elem": ELEM[a.dtype]})


@register(*LOGIC)
def logic(ctx: OpContext):
    a, b, weights, inline = _pair(ctx, want_bool=True)
    return _node(ctx, "logic", LOGIC[ctx.op], [a, b], ["a", "b"], "bool", weights, inline)


def int_binary(ctx: OpContext):
    """Add/Sub/Mul/Div/Max/Min of int32/int64 operands (called by ops/elementwise.binary)."""
    if ctx.op not in INT_BINARY:
        raise ctx.error(f"{ctx.op} of integer tensors is not supported (Add, Sub, Mul, Div, Max, Min)")
    a, b, weights, inline = _pair(ctx)
    if a.dtype not in ("int32", "int64"):
        raise ctx.error(f"inputs have dtype {a.dtype}; expected int32 or int64")
    return _node(ctx, "compare", INT_BINARY[ctx.op], [a, b], ["a", "b"], a.dtype, weights, inline, {"kind": "ibinary"})


@register("Not")
def not_(ctx: OpContext):
    x = ctx.info(0)
    if x.dtype != "bool":
        raise ctx.error(f"input has dtype {x.dtype}; Not takes a bool tensor")
    from .. import dims as D

    out = TensorInfo(ctx.output(), "bool", x.shape)
    return [Node(ctx.label, "not", [x.name], [out.name], {"n": D.prod(x.shape)})], [out]


@register("Where")
def where(ctx: OpContext):
    weights, inline = {}, {}
    cond = operand(ctx, 0, "c", weights, inline, want="bool")
    first = 1 if ctx.is_runtime(1) or not ctx.is_runtime(2) else 2
    o1 = operand(ctx, first, "ab"[first - 1], weights, inline)
    o2 = operand(ctx, 3 - first, "ab"[2 - first], weights, inline, want=o1.dtype)
    x, y = (o1, o2) if first == 1 else (o2, o1)
    if not (cond.runtime or x.runtime or y.runtime):  # pragma: no cover - folded by the reader
        raise ctx.error("no runtime input")
    return _node(
        ctx,
        "where",
        0,
        [cond, x, y],
        ["c", "a", "b"],
        x.dtype,
        weights,
        inline,
        {"kind": "where", "elem_bytes": SIZE[x.dtype]},
    )
