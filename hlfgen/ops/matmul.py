"""MatMul of two runtime tensors (numpy matmul semantics, ONNX MatMul).

A[..., m, k] . B[..., k, n] over the broadcast batch axes; a 1-D A is a
1 x k row, a 1-D B a k x 1 column, and that axis is dropped from the output.
Runtime hlf_f32_matmul: a register-blocked kernel on row-major B (no packing
scratch; measured against packing + hlf_f32_gemm_acc: faster for the few
rows of a decoder step, within 0.55-1.0x for 50+ rows).  A constant first
operand is a static weight (Node.weights).  MatMul with a constant second
operand is ops/linear.py's (packed weights, Algorithm 1).

Streaming: a product of runtime tensors mixes whatever axes they carry
(attention over the time steps), so the model is marked non-streamable.
"""

from __future__ import annotations

from ..config import MAX_RANK
from ..ir import Node, TensorInfo
from . import OpContext
from .operands import operand
from .util import broadcast, coalesce, fmt, full_mask


def matmul_runtime(ctx: OpContext):
    weights: dict = {}
    inline: dict = {}
    a = operand(ctx, 0, "a", weights, inline, want="float32")
    b = operand(ctx, 1, "b", weights, inline, want="float32")
    if not a.shape or not b.shape:
        raise ctx.error("MatMul of a scalar")
    sa = [1] + a.shape if len(a.shape) == 1 else list(a.shape)
    sb = b.shape + [1] if len(b.shape) == 1 else list(b.shape)
    m, k, k2, n = sa[-2], sa[-1], sb[-2], sb[-1]
    if k != k2:
        raise ctx.error(f"cannot multiply {fmt(a.shape)} by {fmt(b.shape)} (inner extents {k} and {k2})")
    bshape = broadcast(ctx, sa[:-2], sb[:-2])
    bdims, (ma, mb) = coalesce(bshape, [full_mask(sa[:-2], bshape), full_mask(sb[:-2], bshape)])
    if len(bdims) > MAX_RANK:
        raise ctx.error(f"more than {MAX_RANK} batch axes")
    out_shape = list(bshape) + ([m] if len(a.shape) > 1 else []) + ([n] if len(b.shape) > 1 else [])
    out = TensorInfo(ctx.output(), "float32", tuple(out_shape))
    attrs = {
        "onnx_op": "MatMul",
        "bdims": bdims,
        "a_full": ma,
        "b_full": mb,
        "m": m,
        "k": k,
        "n": n,
        "a": list(a.src),
        "b": list(b.src),
        "out_shape": out_shape,
        "inline": inline,
        "no_stream": True,
    }
    runtime = [o.src[1] for o in (a, b) if o.runtime]
    return [Node(ctx.label, "matmul", list(dict.fromkeys(runtime)), [out.name], attrs, weights=weights)], [out]
