"""LSTM, GRU and RNN: one ir.RecurrentLayer per node, weights read as row segments.

W and R are usually constant sub-expressions that keep HLF/LMF factors
(weights.py: ``ctx.weight``).  X is [T, batch, input] (layout 0) or
[batch, T, input] (layout 1); T is any extent -- a run-time symbol, a static
length (1 in a decoder step, a fixed-shape export), or an expression.  The
batch axis must be static by lowering time (the reader fixes the batch
symbol unless --max-dim makes it dynamic, which lower.py refuses for now).
"""

from __future__ import annotations

import numpy as np

from .. import weights as W
from ..config import DEFAULT_ACTIVATIONS, GATES, RECURRENT_OPS
from ..ir import Activation, RecurrentLayer, TensorInfo
from . import OpContext, register
from .util import fmt

# ONNX activation names -> (takes alpha, takes beta, default alpha, default beta),
# following onnxruntime's rule: alpha/beta lists are consumed in order, only by
# the activations that take them; missing values take these defaults.
ACTIVATION_ARGS = {
    "Relu": (False, False, 0.0, 0.0),
    "Tanh": (False, False, 0.0, 0.0),
    "Sigmoid": (False, False, 0.0, 0.0),
    "Affine": (True, True, 0.0, 0.0),
    "LeakyRelu": (True, False, 0.01, 0.0),
    "ThresholdedRelu": (True, False, 0.0, 0.0),
    "ScaledTanh": (True, True, 0.0, 0.0),
    "HardSigmoid": (True, True, 0.2, 0.5),
    "Elu": (True, False, 1.0, 0.0),
    "Softsign": (False, False, 0.0, 0.0),
    "Softplus": (False, False, 0.0, 0.0),
}
_ACT_BY_LOWER = {k.lower(): k for k in ACTIVATION_ARGS}

KNOWN_ATTRS = {
    "lstm": {
        "hidden_size",
        "direction",
        "activations",
        "activation_alpha",
        "activation_beta",
        "clip",
        "input_forget",
        "layout",
    },
    "gru": {
        "hidden_size",
        "direction",
        "activations",
        "activation_alpha",
        "activation_beta",
        "clip",
        "linear_before_reset",
        "layout",
    },
    "rnn": {"hidden_size", "direction", "activations", "activation_alpha", "activation_beta", "clip", "layout"},
}


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def _expect_shape(ctx, got, want, what):
    if tuple(got) != tuple(want):
        raise ctx.error(f"input {what} has shape {fmt(got)}, expected {fmt(want)} (from hidden_size, direction and X)")


@register(*RECURRENT_OPS, always=True)
def recurrent(ctx: OpContext):
    kind = RECURRENT_OPS[ctx.op]
    a = ctx.attrs
    for k in a:
        if k not in KNOWN_ATTRS[kind]:
            raise ctx.error(f"attribute '{k}' is not supported")
    if "layout" in a and ctx.opset < 14:
        raise ctx.error("attribute 'layout' needs opset 14 or later")
    ins = [ctx.input(i) for i in range(8)]
    outs = [ctx.output(i) for i in range(3)]
    x = ins[0]
    if x not in ctx.tensors:
        raise ctx.error(f"input X ('{x}') must be runtime data, not a constant")
    gates = len(GATES[kind])
    direction = _text(a.get("direction", "forward"))
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ctx.error(f"direction '{direction}' is not one of forward, reverse, bidirectional")
    nd = 2 if direction == "bidirectional" else 1
    layout = int(a.get("layout", 0))
    if layout not in (0, 1):
        raise ctx.error(f"layout {layout} is not 0 or 1")

    xshape = ctx.tensors[x].shape
    if len(xshape) != 3:
        raise ctx.error(f"X must have rank 3, got shape {fmt(xshape)}")
    seq, batch, input_size = (xshape[0], xshape[1], xshape[2]) if layout == 0 else (xshape[1], xshape[0], xshape[2])
    for role, extent in (("seq", seq), ("batch", batch)):
        ctx.roles.append((role, extent, ctx.label, ctx.op))
    for idx, axis in ((4, 0), (5, 1 if layout == 0 else 0), (6, 1 if layout == 0 else 0)):
        info = ctx.tensors.get(ctx.input(idx))  # state inputs: their batch axis is the batch too
        if info is not None and len(info.shape) > axis:
            ctx.roles.append(("batch", info.shape[axis], ctx.label, ctx.op))
    if not isinstance(input_size, int):
        raise ctx.error(f"X's input axis has the symbolic extent {input_size}; it must be static")
    if ctx.tensors[x].dtype != "float32":
        raise ctx.error(f"input X has dtype {ctx.tensors[x].dtype}; expected float32")

    w_val = _weight(ctx, 1, "W")
    r_val = _weight(ctx, 2, "R")
    hidden = a.get("hidden_size")
    if hidden is None:
        hidden = w_val.shape[1] // gates if w_val.ndim == 3 else 0
    hidden = int(hidden)
    if hidden <= 0:
        raise ctx.error(f"hidden_size must be positive, got {hidden}")
    _expect_shape(ctx, w_val.shape, (nd, gates * hidden, input_size), "W")
    _expect_shape(ctx, r_val.shape, (nd, gates * hidden, hidden), "R")
    bias = _small_const(ctx, 3, "B", (nd, 2 * gates * hidden))
    peep = _small_const(ctx, 7, "P", (nd, 3 * hidden)) if kind == "lstm" else None

    seq_lens = _state_input(ctx, 4, "sequence_lens", (batch,), dtype=("int32", "int64"))
    if seq_lens in ctx.tensors:
        ctx.tensors[seq_lens].int_range = "lengths"
    state_shape = (nd, batch, hidden) if layout == 0 else (batch, nd, hidden)
    initial_h = _state_input(ctx, 5, "initial_h", state_shape)
    initial_c = _state_input(ctx, 6, "initial_c", state_shape) if kind == "lstm" else None

    clip = a.get("clip")
    if clip is not None and not clip > 0:
        raise ctx.error(f"clip must be positive, got {clip}")
    acts = _activations(ctx, a, kind, nd)
    if kind != "lstm" and outs[2]:
        raise ctx.error(f"{ctx.op} has no third output")
    layer = RecurrentLayer(
        node=ctx.label,
        kind=kind,
        direction=direction,
        hidden=hidden,
        input_size=input_size,
        batch=batch,
        layout=layout,
        seq=seq,
        W=[w_val.matrix((d,)) for d in range(nd)],
        R=[r_val.matrix((d,)) for d in range(nd)],
        bias=bias,
        peephole=peep,
        activations=acts,
        clip=float(clip) if clip is not None else None,
        input_forget=bool(a.get("input_forget", 0)),
        linear_before_reset=bool(a.get("linear_before_reset", 0)),
        x=x,
        seq_lens=seq_lens,
        initial_h=initial_h,
        initial_c=initial_c,
        y=outs[0] or None,
        y_h=outs[1] or None,
        y_c=(outs[2] or None) if kind == "lstm" else None,
    )
    y_shape = (seq, nd, batch, hidden) if layout == 0 else (batch, seq, nd, hidden)
    infos = [
        TensorInfo(n, "float32", s)
        for n, s in ((layer.y, y_shape), (layer.y_h, state_shape), (layer.y_c, state_shape))
        if n
    ]
    return [layer], infos


def _weight(ctx: OpContext, idx: int, what: str) -> W.SymTensor:
    name = ctx.input(idx)
    if not name:
        raise ctx.error(f"input {what} is missing")
    if name in ctx.tensors:
        raise ctx.error(
            f"input {what} ('{name}') is runtime data (a runtime graph input or computed from one); "
            "hlfgen needs constant weights "
            "(initializers or constant expressions)"
        )
    v = ctx.weight(idx, what)
    if not isinstance(v, W.SymTensor):
        arr = np.asarray(v)
        if arr.dtype != np.float32:
            raise ctx.error(f"input {what} has unsupported dtype {arr.dtype}; expected float32")
        if arr.ndim != 3:
            raise ctx.error(f"input {what} must have rank 3, got shape {fmt(arr.shape)}")
    return W.as_sym(v)


def _small_const(ctx: OpContext, idx: int, what: str, shape):
    if not ctx.input(idx):
        return None
    if ctx.is_runtime(idx):
        raise ctx.error(f"input {what} ('{ctx.input(idx)}') must be a constant")
    arr = ctx.const(idx, what)
    if arr.dtype != np.float32:
        raise ctx.error(f"input {what} has unsupported dtype {arr.dtype}; expected float32")
    _expect_shape(ctx, arr.shape, shape, what)
    return np.ascontiguousarray(arr, np.float32)


def _state_input(ctx: OpContext, idx: int, what: str, shape, dtype=("float32",)):
    """sequence_lens / initial_h / initial_c: runtime data or a constant."""
    name = ctx.input(idx)
    if not name:
        return None
    if name in ctx.tensors:
        info = ctx.tensors[name]
        if info.dtype not in dtype:
            raise ctx.error(f"input {what} has dtype {info.dtype}; expected {' or '.join(dtype)}")
        _expect_shape(ctx, info.shape, shape, what)
        return name
    arr = ctx.const(idx, what)
    if arr.dtype.name not in dtype:
        raise ctx.error(f"input {what} has dtype {arr.dtype}; expected {' or '.join(dtype)}")
    _expect_shape(ctx, arr.shape, shape, what)
    ctx.used_consts[name] = arr.astype(np.int32 if what == "sequence_lens" else np.float32)
    return name


def _activations(ctx: OpContext, a: dict, kind: str, nd: int) -> list[list[Activation]]:
    per_dir = len(DEFAULT_ACTIVATIONS[kind])
    names = [_text(s) for s in a.get("activations", [])] or list(DEFAULT_ACTIVATIONS[kind]) * nd
    if len(names) == per_dir and nd == 2:
        names = names * 2
    if len(names) != per_dir * nd:
        raise ctx.error(
            f"{len(names)} activations given; {ctx.op} with direction "
            f"{'bidirectional' if nd == 2 else 'forward/reverse'} takes {per_dir * nd}"
        )
    alphas = list(a.get("activation_alpha", []))
    betas = list(a.get("activation_beta", []))
    acts = []
    for nm in names:
        canon = _ACT_BY_LOWER.get(nm.lower())
        if canon is None:
            raise ctx.error(f"activation '{nm}' is not supported (ONNX lists {', '.join(ACTIVATION_ARGS)})")
        takes_a, takes_b, da, db = ACTIVATION_ARGS[canon]
        alpha = (alphas.pop(0) if alphas else da) if takes_a else 0.0
        beta = (betas.pop(0) if betas else db) if takes_b else 0.0
        acts.append(Activation(canon, float(alpha), float(beta)))
    return [acts[d * per_dir : (d + 1) * per_dir] for d in range(nd)]
