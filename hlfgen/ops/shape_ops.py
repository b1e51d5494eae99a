"""Transpose, and the views (Reshape, Squeeze, Unsqueeze, Flatten, Identity).

Tensors are dense in C order with the run-time T, so a view never moves data:
its output aliases its input (copied only when the output is a graph output).
Shapes: d >= 0 static, d < 0 is (-d)*T.
"""

from __future__ import annotations

import numpy as np

from ..ir import Node, TensorInfo
from . import OpContext, register


def fmt(shape) -> str:
    return "[" + ", ".join("T" if d == -1 else f"{-d}*T" if d < 0 else str(d) for d in shape) + "]"


def dim_product(dims, ctx: OpContext | None = None) -> int:
    """Product of dims; negative entries are multiples of T (at most one)."""
    coef, has_t = 1, False
    for d in dims:
        if d < 0:
            if has_t and ctx is not None:
                raise ctx.error("a tensor with two sequence-length axes is not supported")
            has_t = True
        coef *= abs(d)
    return -coef if has_t else coef


def _pinned_t_axis(out: list[int], t_coef: int) -> list[int] | None:
    """out (all constant) with the one axis i whose constant stands for a multiple of T replaced by
    -(that multiple), so that the product is t_coef*T; None unless exactly one axis fits."""
    fits = []
    for i in range(len(out)):
        others = int(np.prod([d for j, d in enumerate(out) if j != i], dtype=np.int64))
        if others > 0 and t_coef % others == 0:
            fits.append(out[:i] + [-(t_coef // others)] + out[i + 1:])
    return fits[0] if len(fits) == 1 else None


def reshape_shape(ctx: OpContext, shape, target, allowzero: int) -> list[int]:
    """ONNX Reshape's output shape (0 copies, -1 infers), with T kept symbolic."""
    if list(target).count(-1) > 1:
        raise ctx.error("Reshape with more than one -1")
    out = [shape[i] if t == 0 and not allowzero and i < len(shape) else t for i, t in enumerate(target)]
    infer = list(target).index(-1) if -1 in target else None
    total = dim_product(shape, ctx)
    if infer is not None:
        known = dim_product([d for i, d in enumerate(out) if i != infer], ctx)
        tc, t_in_total = abs(total), total < 0
        kc, t_in_known = abs(known), known < 0
        if kc == 0 or tc % kc or (t_in_known and not t_in_total):
            raise ctx.error(f"cannot reshape {fmt(shape)} to {fmt(out)}")
        out[infer] = -(tc // kc) if t_in_total and not t_in_known else tc // kc  # negative: carries T
    if total < 0 and dim_product(out, ctx) != total and all(d > 0 for d in out):
        # A constant target where T belongs: the exporter folded the shape at its example's
        # sequence length (torch.onnx.export with static shapes, or dynamo=True's optimizer).
        # The one axis that can carry T, if there is exactly one, is read as that multiple of T.
        fixed = _pinned_t_axis(out, -total)
        if fixed is not None:
            out = fixed
    if dim_product(out, ctx) != total:
        hint = ""
        if total < 0 and all(d >= 0 for d in out):  # a constant shape where T belongs
            hint = ("; a fixed sequence length is baked into this Reshape, as torch.onnx.export(dynamo=True) "
                    "writes with its default optimize=True: export with optimize=False, or dynamo=False")
        raise ctx.error(f"cannot reshape {fmt(shape)} to {fmt(out)} (the sequence axis T must stay a free "
                        f"dimension{hint})")
    return out


def _axes(ctx: OpContext, rank: int):
    axes = ctx.attrs.get("axes") if ctx.opset < 13 else ctx.const(1, "axes")
    return None if axes is None else [int(a) for a in np.ravel(axes)]


@register("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten")
def view(ctx: OpContext):
    x = ctx.info(0)
    shape = list(x.shape)
    op = ctx.op
    if op == "Identity":
        new = shape
    elif op == "Flatten":
        axis = int(ctx.attrs.get("axis", 1)) % (len(shape) + 1)
        new = [dim_product(shape[:axis], ctx), dim_product(shape[axis:], ctx)]
    elif op == "Squeeze":
        axes = _axes(ctx, len(shape))
        axes = [i for i, d in enumerate(shape) if d == 1] if axes is None else [a % len(shape) for a in axes]
        if any(shape[i] != 1 for i in axes):
            raise ctx.error(f"cannot squeeze axes {axes} of shape {fmt(shape)}")
        new = [d for i, d in enumerate(shape) if i not in axes]
    elif op == "Unsqueeze":
        axes = _axes(ctx, len(shape)) or []
        out_rank = len(shape) + len(axes)
        new = list(shape)
        for ax in sorted(a % out_rank for a in axes):
            new.insert(ax, 1)
    else:  # Reshape
        target = ctx.shape_const(1, "shape")
        new = reshape_shape(ctx, shape, target, int(ctx.attrs.get("allowzero", 0)))
    out = TensorInfo(ctx.output(), x.dtype, tuple(int(d) for d in new))
    return [Node(ctx.label, "view", [x.name], [out.name], {"onnx_op": op}, alias=True)], [out]


@register("Transpose")
def transpose(ctx: OpContext):
    x = ctx.info(0)
    perm = [int(p) for p in ctx.attrs.get("perm", list(reversed(range(len(x.shape)))))]
    if sorted(perm) != list(range(len(x.shape))):
        raise ctx.error(f"perm {perm} is not a permutation of {len(x.shape)} axes")
    out = TensorInfo(ctx.output(), x.dtype, tuple(x.shape[p] for p in perm))
    return [Node(ctx.label, "transpose", [x.name], [out.name], {"perm": perm})], [out]
