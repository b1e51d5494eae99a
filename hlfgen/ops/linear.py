"""Linear layers: MatMul of runtime data by a constant matrix, and Gemm.

Y[r, :] = alpha * W^T·X[r, :] + beta * bias for every row r of X (all
leading axes, T included), with the constant matrix packed for the GEMM
kernel (hlf_f32_gemm_acc: the weights stream once per four rows).  alpha is
folded into the packed matrix, beta into the bias.  Row-wise, so it streams.

A constant matrix that weights.py kept factored (HLF ``Concat(A', MatMul(B, C))``,
LMF ``MatMul(B, C)``, seen through ``Transpose`` as PyTorch exports nn.Linear)
goes to the lowering as an ``ir.FactoredMatrix`` of output rows: Algorithm 1,
as for recurrent weights (lower._MatLowering), B·C never formed.
"""

from __future__ import annotations

import numpy as np

from .. import weights as W
from ..ir import Dense, FactoredMatrix, LowRank, Node, TensorInfo
from . import OpContext, register
from .util import const_float, dim_product, fmt, require_float


def factored_rows(ctx: OpContext, i: int, trans: bool, alpha: float = 1.0) -> FactoredMatrix | None:
    """Constant input i as output rows (N, K) kept factored, or None when it is plain dense.

    The input is the matrix M of x·M (K, N) when trans is False, M^T when True
    (Gemm transB=1).  None unless some segment is low-rank.
    """
    v = ctx.syms.get(ctx.input(i))
    if v is None or v.ndim != 2:
        return None
    if isinstance(v, W.TransposedSym):  # M = S^T: S's rows are the outputs
        sym = v.inner if not trans else None
    elif trans:
        sym = v
    else:
        t = W.transpose(v, None)
        sym = t if isinstance(t, W.SymTensor) else None
    if sym is None:
        return None
    mat = sym.matrix(())
    if not any(isinstance(s, LowRank) for s in mat.segments):
        return None
    a = np.float32(alpha)
    segs = [
        Dense(np.ascontiguousarray(s.data * a, np.float32), s.origin)
        if isinstance(s, Dense)
        else LowRank(np.ascontiguousarray(s.B * a, np.float32), np.ascontiguousarray(s.C, np.float32), s.c_key)
        for s in mat.segments
    ]
    return FactoredMatrix(segs, mat.cols)


def _linear(ctx: OpContext, x: TensorInfo, w, bias: np.ndarray | None, out_shape) -> tuple:
    """w: (N, K) as the kernel multiplies (rows are outputs): an array, or a FactoredMatrix."""
    if isinstance(w, FactoredMatrix):
        n_out, k = w.rows, w.cols
        packed = {"w": w}
    else:
        n_out, k = w.shape
        packed = {"w": np.ascontiguousarray(w, np.float32)}
    weights = {"b": np.ascontiguousarray(bias, np.float32).reshape(-1)} if bias is not None else {}
    rows = dim_product(list(x.shape[:-1]), ctx) if len(x.shape) > 1 else 1
    out = TensorInfo(ctx.output(), "float32", tuple(out_shape))
    node = Node(
        ctx.label,
        "linear",
        [x.name],
        [out.name],
        {"onnx_op": ctx.op, "rows": rows, "n": int(n_out), "k": int(k), "bias": bias is not None},
        weights=weights,
        packed=packed,
    )
    return [node], [out]


@register("MatMul")
def matmul(ctx: OpContext):
    if ctx.is_runtime(1):  # runtime B (A runtime or constant): ops/matmul.py
        from .matmul import matmul_runtime

        return matmul_runtime(ctx)
    if not ctx.is_runtime(0):
        raise ctx.error(
            "MatMul of a constant by runtime data (constant first operand) is not supported; "
            "only runtime X times a constant matrix"
        )
    if ctx.is_runtime(1):
        raise ctx.error("MatMul of two runtime tensors is not supported; the second operand must be a constant")
    x = ctx.info(0)
    require_float(ctx, x.dtype, "input 0")
    w = const_float(ctx, ctx.const(1, "B"), "input 1 (B)")
    if len(x.shape) == 0:
        raise ctx.error("MatMul of a scalar")
    k = x.shape[-1]
    if w.ndim == 1:
        if w.shape[0] != k:
            raise ctx.error(f"cannot multiply {fmt(x.shape)} by a vector of {w.shape[0]}")
        return _linear(ctx, x, w.reshape(1, -1), None, x.shape[:-1])
    if w.ndim != 2:
        raise ctx.error(f"MatMul by a constant of rank {w.ndim} (batched matrices) is not supported; rank 2 only")
    if w.shape[0] != k:
        raise ctx.error(f"cannot multiply {fmt(x.shape)} by {fmt(w.shape)}")
    fm = factored_rows(ctx, 1, trans=False)
    return _linear(ctx, x, fm if fm is not None else w.T, None, tuple(x.shape[:-1]) + (w.shape[1],))


@register("Gemm")
def gemm(ctx: OpContext):
    if not ctx.is_runtime(0) or ctx.is_runtime(1) or (ctx.input(2) and ctx.is_runtime(2)):
        raise ctx.error("Gemm is supported with runtime A and constant B and C only")
    a = ctx.info(0)
    require_float(ctx, a.dtype, "input A")
    if len(a.shape) != 2:
        raise ctx.error(f"A must have rank 2, got {fmt(a.shape)}")
    if int(ctx.attrs.get("transA", 0)):
        raise ctx.error("transA=1 on runtime A is not supported")
    alpha = float(ctx.attrs.get("alpha", 1.0))
    beta = float(ctx.attrs.get("beta", 1.0))
    b = const_float(ctx, ctx.const(1, "B"), "input B")
    if b.ndim != 2:
        raise ctx.error(f"B must have rank 2, got {fmt(b.shape)}")
    w = b if int(ctx.attrs.get("transB", 0)) else b.T  # (N, K)
    if w.shape[1] != a.shape[1]:
        raise ctx.error(
            f"cannot multiply {fmt(a.shape)} by B {fmt(b.shape)} (transB={int(ctx.attrs.get('transB', 0))})"
        )
    n = w.shape[0]
    bias = None
    if ctx.input(2):
        c = const_float(ctx, ctx.const(2, "C"), "input C")
        if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1) or (c.ndim >= 1 and c.shape[-1] not in (1, n)):
            raise ctx.error(
                f"C of shape {fmt(c.shape)} is not supported (a bias broadcast over rows: (N,), (1, N) or a scalar)"
            )
        bias = np.broadcast_to(c.reshape(-1), (n,)) * np.float32(beta)
    fm = factored_rows(ctx, 1, trans=bool(int(ctx.attrs.get("transB", 0))), alpha=alpha)
    return _linear(ctx, a, fm if fm is not None else w * np.float32(alpha), bias, (a.shape[0], n))
