"""Transpose, and the views (Reshape, Squeeze, Unsqueeze, Flatten, Identity).

Tensors are dense in C order with the run-time extents, so a view never moves
data: its output aliases its input (copied only when the output is a graph
output).  Shapes hold ints and dims.Dim.
"""

from __future__ import annotations

import numpy as np

from .. import dims as D
from ..ir import Node, TensorInfo
from . import OpContext, register


def fmt(shape) -> str:
    return D.fmt_shape(shape)


def dim_product(dims, ctx: OpContext | None = None):
    """Product of extents (an int or a Dim)."""
    return D.prod(dims)


def _is(v, k: int) -> bool:
    return isinstance(v, int) and v == k


def _pinned_axis(ctx: OpContext, out: list, total) -> list | None:
    """out with the one constant axis whose value stands for a symbolic extent replaced by it, so
    that the element count is total; None unless exactly one axis fits."""
    fits = []
    for i, d in enumerate(out):
        if not isinstance(d, int) or d <= 0:
            continue
        x = D.exact_div(total, D.prod(out[:i] + out[i + 1 :]))
        if isinstance(x, D.Dim):
            fits.append((i, x))
    if len(fits) != 1:
        return None
    i, x = fits[0]
    ctx.note(
        f"the constant {out[i]} on axis {i} of the target shape is read as {x} (the exporter folded "
        "the example's length into this Reshape)"
    )
    return out[:i] + [x] + out[i + 1 :]


def _pinned_with_infer(out: list, infer: int, total) -> tuple | None:
    """(axis, symbol, the -1's extent) when exactly one constant axis read as one symbol of total
    leaves a positive whole number for the -1 axis; else None."""
    fits = []
    for i, d in enumerate(out):
        if i == infer or not isinstance(d, int) or d <= 0:
            continue
        for name in sorted(D.symbols(total)):
            sym = D.sym(name)
            q = D.exact_div(total, D.prod([sym if j == i else e for j, e in enumerate(out) if j != infer]))
            if isinstance(q, int) and q > 0:
                fits.append((i, sym, q))
    return fits[0] if len(fits) == 1 else None


def reshape_shape(ctx: OpContext, shape, target, allowzero: int) -> list:
    """ONNX Reshape's output shape (0 copies, -1 infers), with symbolic extents."""
    target = list(target)
    if sum(1 for t in target if _is(t, -1)) > 1:
        raise ctx.error("Reshape with more than one -1")
    out = [shape[i] if _is(t, 0) and not allowzero and i < len(shape) else t for i, t in enumerate(target)]
    infer = next((i for i, t in enumerate(target) if _is(t, -1)), None)
    total = D.prod(shape)
    if infer is not None:
        known = D.prod([d for i, d in enumerate(out) if i != infer])
        q = D.exact_div(total, known)
        if q is None and isinstance(total, D.Dim):  # [7, -1, 13] of [T, 3, 1, 13]: the example's T folded in
            pinned = _pinned_with_infer(out, infer, total)
            if pinned is not None:
                i, sym, q = pinned
                ctx.note(
                    f"the constant {out[i]} on axis {i} of the target shape is read as {sym} (the exporter "
                    "folded the example's length into this Reshape)"
                )
                out[i] = sym
        if q is None or (isinstance(q, int) and q < 0):
            raise ctx.error(f"cannot reshape {fmt(shape)} to {fmt(out)}")
        out[infer] = q
    if D.prod(out) != total and isinstance(total, D.Dim) and all(isinstance(d, int) for d in out):
        # A constant target where a symbolic extent belongs: the exporter folded the shape at its
        # example's sequence length (torch.onnx.export with static shapes, or dynamo=True's optimizer).
        fixed = _pinned_axis(ctx, out, total)
        if fixed is not None:
            out = fixed
    if D.prod(out) != total:
        hint = ""
        if isinstance(total, D.Dim) and all(isinstance(d, int) for d in out):
            hint = (
                "; a fixed sequence length is baked into this Reshape, as torch.onnx.export(dynamo=True) "
                "writes with its default optimize=True: export with optimize=False, or dynamo=False"
            )
        raise ctx.error(
            f"cannot reshape {fmt(shape)} to {fmt(out)} (the element count {total} must be kept: a symbolic extent stays a free dimension{hint})"
        )
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
        new = [D.prod(shape[:axis]), D.prod(shape[axis:])]
    elif op == "Squeeze":
        axes = _axes(ctx, len(shape))
        axes = [i for i, d in enumerate(shape) if _is(d, 1)] if axes is None else [a % len(shape) for a in axes]
        if any(not _is(shape[i], 1) for i in axes):
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
    out = TensorInfo(ctx.output(), x.dtype, tuple(new))
    return [Node(ctx.label, "view", [x.name], [out.name], {"onnx_op": op}, alias=True)], [out]


@register("Transpose")
def transpose(ctx: OpContext):
    x = ctx.info(0)
    perm = [int(p) for p in ctx.attrs.get("perm", list(reversed(range(len(x.shape)))))]
    if sorted(perm) != list(range(len(x.shape))):
        raise ctx.error(f"perm {perm} is not a permutation of {len(x.shape)} axes")
    out = TensorInfo(ctx.output(), x.dtype, tuple(x.shape[p] for p in perm))
    return [Node(ctx.label, "transpose", [x.name], [out.name], {"perm": perm})], [out]
