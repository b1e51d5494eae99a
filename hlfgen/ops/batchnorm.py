"""ONNX BatchNormalization in inference mode, and its folding into a Conv.

Y = (X - mean) / sqrt(var + epsilon) * scale + B per channel (axis 1) is the
affine Y = X * a + b with a = scale / sqrt(var + epsilon), b = B - mean * a,
computed here at build time (hlf_channel_affine_f32).  fold_into_conv (run
by the lowering) removes a BatchNormalization whose input is a Conv's output
used by nothing else: the Conv's filter oc is multiplied by a[oc] and its
bias becomes bias * a + b, so the normalization costs nothing at run time.
"""

from __future__ import annotations

import numpy as np

from ..ir import Model, Node, TensorInfo
from . import OpContext, register
from .util import const_float, dim_product, fmt, require_float


@register("BatchNormalization")
def batchnorm(ctx: OpContext):
    x = ctx.info(0)
    require_float(ctx, x.dtype, "input X")
    if len(x.shape) < 2:
        raise ctx.error(f"X must have a channel axis (rank >= 2), got {fmt(x.shape)}")
    if int(ctx.attrs.get("training_mode", 0)) or any(ctx.output(i) for i in (1, 2, 3, 4)):
        raise ctx.error("training mode (running mean / variance outputs) is not supported; inference only")
    c = x.shape[1]
    if not isinstance(c, int) or c < 0:
        raise ctx.error("the channel axis of X must have a static extent")
    names = ("scale", "B", "input_mean", "input_var")
    vals = []
    for i, what in enumerate(names, start=1):
        if ctx.is_runtime(i):
            raise ctx.error(f"input {what} computed at run time is not supported; it must be a constant")
        v = const_float(ctx, ctx.const(i, what), f"input {what}").astype(np.float64).reshape(-1)
        if v.size != c:
            raise ctx.error(f"input {what} has {v.size} entries, X has {c} channels")
        vals.append(v)
    scale, b, mean, var = vals
    eps = float(ctx.attrs.get("epsilon", 1e-5))
    a = scale / np.sqrt(var + eps)
    shift = b - mean * a
    out = TensorInfo(ctx.output(), "float32", x.shape)
    attrs = {
        "batch": x.shape[0],
        "channels": c,
        "inner": dim_product(list(x.shape[2:]), ctx) if len(x.shape) > 2 else 1,
    }
    node = Node(
        ctx.label,
        "batchnorm",
        [x.name],
        [out.name],
        attrs,
        weights={"scale": a.astype(np.float32), "shift": shift.astype(np.float32)},
    )
    return [node], [out]


def fold_into_conv(model: Model) -> None:
    """Fold each BatchNormalization into the Conv that alone feeds it (in place)."""
    outputs = {t.name for t in model.outputs}
    readers: dict[str, int] = {}
    for op in model.ops:
        for n in (
            op.inputs if isinstance(op, Node) else [v for v in (op.x, op.seq_lens, op.initial_h, op.initial_c) if v]
        ):
            readers[n] = readers.get(n, 0) + 1
    producer = {op.outputs[0]: op for op in model.ops if isinstance(op, Node) and op.op == "conv"}
    keep = []
    for op in model.ops:
        conv = producer.get(op.inputs[0]) if isinstance(op, Node) and op.op == "batchnorm" else None
        if conv is None or readers.get(conv.outputs[0], 0) != 1 or conv.outputs[0] in outputs:
            keep.append(op)
            continue
        a = np.asarray(op.weights["scale"], np.float64)
        b = np.asarray(op.weights["shift"], np.float64)
        bias = np.asarray(conv.weights.get("b", np.zeros(a.size)), np.float64)
        conv.weights["b"] = (bias * a + b).astype(np.float32)
        conv.attrs["bias"] = True
        if "w" in conv.packed:  # (groups, Mg, Cg*K): filter g*Mg + m is row m of group g
            w = conv.packed["w"]
            conv.packed["w"] = (w * a.reshape(w.shape[0], w.shape[1], 1)).astype(np.float32)
        else:  # plain [M, Cg, k...] flattened
            w = conv.weights["w"].reshape(a.size, -1)
            conv.weights["w"] = (w * a[:, None]).astype(np.float32).reshape(-1)
        conv.attrs["folded_bn"] = op.node  # printed in the Conv comment
        del model.tensors[conv.outputs[0]]
        conv.outputs[0] = op.outputs[0]
    model.ops[:] = keep
