"""Builders of test models: ONNX LSTM/GRU/RNN graphs whose W and R arrive as
HLF-factored constant sub-expressions (see shared/hlf-onnx.md).

Every weight is random (numpy ``default_rng(seed)``), never constant: constant
weights hide gate-order and transpose bugs.  Scales keep the gates out of
saturation: a dense row ~ N(0, 1/sqrt(n)); for a low-rank block B ~ N(0,
1/sqrt(k)) and C ~ N(0, 1/sqrt(n)), so B·C has the same magnitude.

Main entry points:

    rnn_model(kind, input_size, hidden, ..., weights=WeightSpec, ...)
    stacked_model(layers=[...], ...)
    save(model, path)              -> path (checked with onnx.checker)
    make_inputs(model, seq_len, seed=..., seq_lens=...) -> {name: array}

Weight structures (one ``WeightSpec`` per W and per R):

    dense()                        plain initializer
    hlf_per_gate(j, k)             canonical: per direction, per gate
                                   Concat(A', MatMul(B, C)), gates Concat'ed
    hlf_stacked(j, k)              one A', B, C over the gates*hidden rows
    lmf(r)                         j = 0: MatMul(B, C) only
    mixed([g0, g1, ...])           per gate: None (dense) or (j, k)
    torch_reorder(j, k)            factors in PyTorch gate order, Slice'd to
                                   ONNX order (boundaries straddle blocks)
    split_factors(j, k)            all gates' A' / B / C in one tensor each,
                                   Split (axis 0) into the gate pieces
    hlf_per_gate(j, k, route=...)  factors routed through Identity,
                                   Transpose, Reshape, Squeeze, Constant
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NUM_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
NUM_ACTS = {"lstm": 3, "gru": 2, "rnn": 1}
OP_TYPE = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
STATE_OUTPUTS = {"lstm": ("Y", "Y_h", "Y_c"), "gru": ("Y", "Y_h"), "rnn": ("Y", "Y_h")}

# PyTorch gate order -> ONNX gate order, as (start_block, end_block) slices of
# the PyTorch-ordered matrix, exactly what torch.onnx (TorchScript) writes:
#   LSTM: torch i f g o -> onnx i o f c  = [0:H], [3H:4H], [H:3H]
#   GRU:  torch r z n   -> onnx z r h    = [H:2H], [0:H], [2H:3H]
TORCH_REORDER = {
    "lstm": [(0, 1), (3, 4), (1, 3)],
    "gru": [(1, 2), (0, 1), (2, 3)],
    "rnn": [(0, 1)],
}

# Routes a factor can take from storage to use (outermost first).
ROUTES = ("identity", "transpose", "reshape", "squeeze", "constant")


# --------------------------------------------------------------------------
# Weight specifications
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightSpec:
    kind: str = "dense"
    j: int = 0
    k: int = 0
    gates: tuple = ()  # for "mixed": per gate None or (j, k)
    route: tuple = ()  # factor route, outermost first, e.g. ("transpose",)
    route_on: str = "ABC"  # which factors take the route ("D" = dense blocks)
    per_gate: bool = False  # torch_reorder: factors per torch gate

    def label(self) -> str:
        s = self.kind
        if self.kind in ("hlf_per_gate", "hlf_stacked", "torch_reorder", "split"):
            s += f"{self.j}x{self.k}"
        elif self.kind == "lmf":
            s += f"{self.k}"
        elif self.kind == "mixed":
            s += "[" + ",".join("D" if g is None else f"{g[0]}x{g[1]}" for g in self.gates) + "]"
        if self.route:
            s += "+" + "+".join(self.route) + (f"@{self.route_on}" if self.route_on != "ABC" else "")
        if self.per_gate:
            s += "+pergate"
        return s


def dense(route: Sequence[str] = ()) -> WeightSpec:
    return WeightSpec("dense", route=tuple(route), route_on="D")


def hlf_per_gate(j: int, k: int, route: Sequence[str] = (), route_on: str = "ABC") -> WeightSpec:
    return WeightSpec("hlf_per_gate", j, k, route=tuple(route), route_on=route_on)


def hlf_stacked(j: int, k: int, route: Sequence[str] = (), route_on: str = "ABC") -> WeightSpec:
    return WeightSpec("hlf_stacked", j, k, route=tuple(route), route_on=route_on)


def lmf(r: int) -> WeightSpec:
    return WeightSpec("lmf", 0, r)


def mixed(gates: Sequence) -> WeightSpec:
    return WeightSpec("mixed", gates=tuple(None if g is None else tuple(g) for g in gates))


def torch_reorder(j: int, k: int, per_gate: bool = False) -> WeightSpec:
    return WeightSpec("torch_reorder", j, k, per_gate=per_gate)


def split_factors(j: int, k: int) -> WeightSpec:
    return WeightSpec("split", j, k)


# --------------------------------------------------------------------------
# Graph builder
# --------------------------------------------------------------------------


class _Graph:
    def __init__(self, opset: int, rng: np.random.Generator, prefix: str = ""):
        self.opset = opset
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0
        self.prefix = prefix

    def uname(self, base: str) -> str:
        self._n += 1
        return f"{self.prefix}{base}__{self._n}"

    # -- constants ---------------------------------------------------------
    def init(self, name: str, arr: np.ndarray) -> str:
        name = self.uname(name)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def ints(self, vals: Sequence[int], base: str = "i64") -> str:
        return self.init(base, np.asarray(vals, dtype=np.int64))

    def node(self, op: str, inputs: Sequence[str], n_out: int = 1, **attrs):
        outs = [self.uname(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=self.uname("n_" + op), **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, base: str, arr: np.ndarray, route: Sequence[str] = ()) -> str:
        """A tensor whose value is ``arr``, reached from storage via ``route``
        (outermost first)."""
        arr = np.asarray(arr, dtype=np.float32)
        if not route:
            return self.init(base, arr)
        step, rest = route[0], tuple(route[1:])
        if step == "constant":
            if rest:
                raise ValueError("'constant' must be the innermost route step")
            name = self.uname(base)
            self.nodes.append(
                helper.make_node(
                    "Constant",
                    [],
                    [name],
                    name=self.uname("n_Constant"),
                    value=numpy_helper.from_array(arr, name + "_value"),
                )
            )
            return name
        if step == "identity":
            return self.node("Identity", [self.const(base, arr, rest)])
        if step == "transpose":
            nd = arr.ndim
            perm = list(range(nd - 2)) + [nd - 1, nd - 2]
            stored = np.ascontiguousarray(np.swapaxes(arr, -1, -2))
            return self.node("Transpose", [self.const(base, stored, rest)], perm=perm)
        if step == "reshape":
            stored = arr.reshape(-1)
            return self.node("Reshape", [self.const(base, stored, rest), self.ints(arr.shape, "shape")])
        if step == "squeeze":
            return self.squeeze(self.const(base, arr[None], rest), [0])
        raise ValueError(f"unknown route step {step!r}")

    # -- ops whose signature changed across opsets ----------------------------
    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        if self.opset >= 13:
            return self.node("Unsqueeze", [x, self.ints(axes, "axes")])
        return self.node("Unsqueeze", [x], axes=list(axes))

    def squeeze(self, x: str, axes: Sequence[int]) -> str:
        if self.opset >= 13:
            return self.node("Squeeze", [x, self.ints(axes, "axes")])
        return self.node("Squeeze", [x], axes=list(axes))

    def slice(self, x: str, start: int, end: int, axis: int = 0) -> str:
        if self.opset >= 10:
            return self.node(
                "Slice", [x, self.ints([start], "starts"), self.ints([end], "ends"), self.ints([axis], "axes")]
            )
        return self.node("Slice", [x], starts=[start], ends=[end], axes=[axis])

    def split(self, x: str, sizes: Sequence[int], axis: int = 0) -> list[str]:
        if len(sizes) == 1:
            return [self.node("Identity", [x])]
        if self.opset >= 13:
            outs = self.node("Split", [x, self.ints(sizes, "split")], n_out=len(sizes), axis=axis)
        else:
            outs = self.node("Split", [x], n_out=len(sizes), axis=axis, split=list(sizes))
        return list(outs)

    def concat(self, xs: Sequence[str], axis: int = 0) -> str:
        if len(xs) == 1:
            return xs[0]
        return self.node("Concat", list(xs), axis=axis)

    def matmul(self, a: str, b: str) -> str:
        return self.node("MatMul", [a, b])

    # -- random factors ------------------------------------------------------
    def randn(self, shape, std: float) -> np.ndarray:
        return (self.rng.standard_normal(shape) * std).astype(np.float32)


def _dense_rows(g: _Graph, rows: int, n: int, scale: float) -> np.ndarray:
    return g.randn((rows, n), scale / np.sqrt(n))


def _block(g: _Graph, base: str, rows: int, n: int, j: int, k: int, spec: WeightSpec, scale: float) -> str:
    """A rows x n matrix stored as [A' (j rows); B (rows-j x k) · C (k x n)]."""
    if k == 0 or j >= rows:
        return g.const(base + ".dense", _dense_rows(g, rows, n, scale), spec.route if "D" in spec.route_on else ())
    parts = []
    if j > 0:
        a = _dense_rows(g, j, n, scale)
        parts.append(g.const(base + ".hlf_A", a, spec.route if "A" in spec.route_on else ()))
    b = g.randn((rows - j, k), scale / np.sqrt(k))
    c = g.randn((k, n), 1.0 / np.sqrt(n))
    bn = g.const(base + ".hlf_B", b, spec.route if "B" in spec.route_on else ())
    cn = g.const(base + ".hlf_C", c, spec.route if "C" in spec.route_on else ())
    parts.append(g.matmul(bn, cn))
    return g.concat(parts, 0)


def _stack_dirs(g: _Graph, per_dir: Sequence[str]) -> str:
    return g.concat([g.unsqueeze(w, [0]) for w in per_dir], 0)


def weight_tensor(
    g: _Graph, spec: WeightSpec, base: str, kind: str, num_dirs: int, hidden: int, n: int, scale: float = 1.0
) -> str:
    """Emit one W or R ([num_dirs, gates*hidden, n]) with structure ``spec``."""
    G, H = NUM_GATES[kind], hidden
    if spec.kind == "dense":
        arr = np.stack([_dense_rows(g, G * H, n, scale) for _ in range(num_dirs)])
        return g.const(base, arr, spec.route)

    per_dir = []
    for d in range(num_dirs):
        b = f"{base}.d{d}"
        if spec.kind in ("hlf_per_gate", "mixed"):
            gate_specs = spec.gates if spec.kind == "mixed" else [(spec.j, spec.k)] * G
            if len(gate_specs) != G:
                raise ValueError(f"mixed needs {G} gate specs for {kind}")
            gates = []
            for gi, gs in enumerate(gate_specs):
                if gs is None:
                    gates.append(g.const(f"{b}.g{gi}.dense", _dense_rows(g, H, n, scale)))
                else:
                    gates.append(_block(g, f"{b}.g{gi}", H, n, gs[0], gs[1], spec, scale))
            per_dir.append(g.concat(gates, 0))
        elif spec.kind in ("hlf_stacked", "lmf"):
            per_dir.append(_block(g, b, G * H, n, spec.j, spec.k, spec, scale))
        elif spec.kind == "torch_reorder":
            if spec.per_gate:
                tw = g.concat([_block(g, f"{b}.tg{gi}", H, n, spec.j, spec.k, spec, scale) for gi in range(G)], 0)
            else:
                tw = _block(g, b, G * H, n, spec.j, spec.k, spec, scale)
            per_dir.append(_torch_slices(g, tw, kind, H))
        elif spec.kind == "split":
            j, k = spec.j, spec.k
            parts_a = g.split(g.const(f"{b}.hlf_A", _dense_rows(g, G * j, n, scale)), [j] * G) if j else [None] * G
            parts_b = g.split(g.const(f"{b}.hlf_B", g.randn((G * (H - j), k), scale / np.sqrt(k))), [H - j] * G)
            parts_c = g.split(g.const(f"{b}.hlf_C", g.randn((G * k, n), 1.0 / np.sqrt(n))), [k] * G)
            gates = []
            for gi in range(G):
                bc = g.matmul(parts_b[gi], parts_c[gi])
                gates.append(g.concat([parts_a[gi], bc], 0) if j else bc)
            per_dir.append(g.concat(gates, 0))
        else:
            raise ValueError(f"unknown weight structure {spec.kind!r}")
    return _stack_dirs(g, per_dir)


def _torch_slices(g: _Graph, torch_ordered: str, kind: str, H: int) -> str:
    """Reorder a PyTorch-gate-ordered [G*H, n] matrix to ONNX order with Slice
    + Concat (as the TorchScript exporter does)."""
    if kind == "rnn":
        # No gate reorder for RNN; still route through two Slices (a cut
        # that falls inside the single gate) so the segment logic is used.
        cut = H // 2 + 1
        return g.concat([g.slice(torch_ordered, 0, cut), g.slice(torch_ordered, cut, H)], 0)
    return g.concat([g.slice(torch_ordered, s * H, e * H) for s, e in TORCH_REORDER[kind]], 0)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def _dim(d):
    return d  # int or str: helper.make_tensor_value_info takes both


def _layer(
    g: _Graph,
    *,
    kind: str,
    x: str,
    input_size: int,
    hidden: int,
    direction: str,
    batch,
    layout: int,
    weights: WeightSpec,
    r_weights: WeightSpec | None,
    with_bias: bool,
    bias_torch: bool,
    seq_lens: str | None,
    initial_h: str | None,
    initial_c: str | None,
    with_peepholes: bool,
    clip,
    input_forget: int,
    activations,
    activation_alpha,
    activation_beta,
    linear_before_reset: int,
    outputs: Sequence[str],
    explicit_defaults: bool,
    name: str,
    weight_scale: float = 1.0,
) -> list[str]:
    kind = kind.lower()
    D = 2 if direction == "bidirectional" else 1
    G, H = NUM_GATES[kind], hidden
    w = weight_tensor(g, weights, f"{name}.W", kind, D, H, input_size, weight_scale)
    r = weight_tensor(g, r_weights if r_weights is not None else weights, f"{name}.R", kind, D, H, H, weight_scale)
    ins = [x, w, r]
    if with_bias:
        if bias_torch:
            # torch: B = Concat(reorder(b_ih), reorder(b_hh)) per direction
            dirs = []
            for d in range(D):
                bih = g.init(f"{name}.b_ih.d{d}", g.randn((G * H,), 0.3))
                bhh = g.init(f"{name}.b_hh.d{d}", g.randn((G * H,), 0.3))
                dirs.append(g.concat([_torch_slices(g, bih, kind, H), _torch_slices(g, bhh, kind, H)], 0))
            ins.append(_stack_dirs(g, dirs))
        else:
            ins.append(g.init(f"{name}.B", g.randn((D, 2 * G * H), 0.3)))
    else:
        ins.append("")
    ins.append(seq_lens or "")
    ins.append(initial_h or "")
    if kind == "lstm":
        ins.append(initial_c or "")
        ins.append(g.init(f"{name}.P", g.randn((D, 3 * H), 0.3)) if with_peepholes else "")
    while ins and ins[-1] == "":
        ins.pop()

    attrs = {"hidden_size": H}
    if direction != "forward" or explicit_defaults:
        attrs["direction"] = direction
    if layout or (explicit_defaults and g.opset >= 14):
        attrs["layout"] = layout
    if clip is not None:
        attrs["clip"] = float(clip)
    if kind == "lstm" and (input_forget or explicit_defaults):
        attrs["input_forget"] = int(input_forget)
    if kind == "gru" and (linear_before_reset or explicit_defaults):
        attrs["linear_before_reset"] = int(linear_before_reset)
    if activations is not None:
        attrs["activations"] = list(activations)
    if activation_alpha is not None:
        attrs["activation_alpha"] = [float(a) for a in activation_alpha]
    if activation_beta is not None:
        attrs["activation_beta"] = [float(b) for b in activation_beta]

    outs = [o if o in outputs else "" for o in STATE_OUTPUTS[kind]]
    while outs and outs[-1] == "":
        outs.pop()
    # Internal names (unique per layer); the caller maps them to graph outputs.
    outs_named = [f"{name}.{o}" if o else "" for o in outs]
    g.nodes.append(helper.make_node(OP_TYPE[kind], ins, outs_named, name=name, **attrs))
    return outs_named


def _finish(g: _Graph, inputs, outputs, opset: int, graph_name: str) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, graph_name, inputs, outputs, initializer=g.inits)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=max(4, helper.find_min_ir_version_for(opsets)),
        producer_name="hlfgen-tests",
    )
    helper.set_model_props(model, {"hlf.version": "1"})
    onnx.checker.check_model(model, full_check=True)
    return model


def rnn_model(
    kind: str = "lstm",
    input_size: int = 8,
    hidden: int = 16,
    *,
    direction: str = "forward",
    batch=1,
    seq="T",
    opset: int = 14,
    layout: int = 0,
    weights: WeightSpec | None = None,
    r_weights: WeightSpec | None = None,
    with_bias: bool = True,
    bias_torch: bool = False,
    with_seq_lens: bool = False,
    with_initial_h: bool = False,
    with_initial_c: bool = False,
    with_peepholes: bool = False,
    clip=None,
    input_forget: int = 0,
    activations=None,
    activation_alpha=None,
    activation_beta=None,
    linear_before_reset: int = 0,
    outputs: Sequence[str] = ("Y", "Y_h", "Y_c"),
    explicit_defaults: bool = False,
    weight_scale: float = 1.0,
    seed: int = 0,
) -> onnx.ModelProto:
    """One recurrent node.  ``weights`` is W's structure (and R's unless
    ``r_weights`` is given); default hlf_per_gate with j = hidden//4,
    k = max(2, hidden//4).  ``seq=None`` or a string makes the sequence
    dimension symbolic ("T")."""
    kind = kind.lower()
    if layout and opset < 14:
        raise ValueError("layout needs opset >= 14")
    rng = np.random.default_rng(seed)
    g = _Graph(opset, rng)
    D = 2 if direction == "bidirectional" else 1
    H = hidden
    T = seq if isinstance(seq, int) else (seq or "T")
    if weights is None:
        weights = hlf_per_gate(H // 4, max(2, H // 4))

    x_shape = [T, batch, input_size] if layout == 0 else [batch, T, input_size]
    st_shape = [D, batch, H] if layout == 0 else [batch, D, H]
    ginputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)]
    if with_seq_lens:
        ginputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, [batch]))
    if with_initial_h:
        ginputs.append(helper.make_tensor_value_info("initial_h", TensorProto.FLOAT, st_shape))
    if with_initial_c and kind == "lstm":
        ginputs.append(helper.make_tensor_value_info("initial_c", TensorProto.FLOAT, st_shape))

    outputs = [o for o in outputs if o in STATE_OUTPUTS[kind]]
    if not outputs:
        raise ValueError("no outputs")
    node_outs = _layer(
        g,
        kind=kind,
        x="X",
        input_size=input_size,
        hidden=H,
        direction=direction,
        batch=batch,
        layout=layout,
        weights=weights,
        r_weights=r_weights,
        with_bias=with_bias,
        bias_torch=bias_torch,
        seq_lens="sequence_lens" if with_seq_lens else None,
        initial_h="initial_h" if with_initial_h else None,
        initial_c="initial_c" if (with_initial_c and kind == "lstm") else None,
        with_peepholes=with_peepholes and kind == "lstm",
        clip=clip,
        input_forget=input_forget,
        activations=activations,
        activation_alpha=activation_alpha,
        activation_beta=activation_beta,
        linear_before_reset=linear_before_reset,
        outputs=outputs,
        explicit_defaults=explicit_defaults,
        name=f"{kind}0",
        weight_scale=weight_scale,
    )
    # Graph outputs carry the plain names Y, Y_h, Y_c: rename node outputs.
    node = g.nodes[-1]
    renamed = [o.split(".")[-1] if o else "" for o in node_outs]
    del node.output[:]
    node.output.extend(renamed)
    y_shape = [T, D, batch, H] if layout == 0 else [batch, T, D, H]
    shapes = {"Y": y_shape, "Y_h": st_shape, "Y_c": st_shape}
    gouts = [helper.make_tensor_value_info(o, TensorProto.FLOAT, shapes[o]) for o in renamed if o]
    return _finish(g, ginputs, gouts, opset, f"{kind}_{direction}")


def stacked_model(
    layers: Sequence[dict],
    input_size: int = 8,
    *,
    batch=1,
    seq="T",
    opset: int = 14,
    concat_states: bool = True,
    reshape_shape: Sequence[int] | None = None,
    seed: int = 0,
) -> onnx.ModelProto:
    """Chained recurrent layers as exporters write them.

    ``layers``: dicts with keys kind (default "lstm"), hidden, direction,
    weights, r_weights, with_bias.  Between layers: one direction ->
    Squeeze(axis 1) of Y [T,1,B,H]; bidirectional -> Transpose(perm
    [0,2,1,3]) -> Reshape([0,0,-1]).  Graph outputs: "output" (the last
    layer's Y, rearranged the same way), and the layers' final states:
    concat_states=True -> "h_n" (and "c_n" if every layer is an LSTM) =
    Concat(axis 0) of the Y_h (Y_c) as torch writes; False -> one Y_h per
    layer, named "h_n{i}".  ``reshape_shape``: the bidirectional Reshape's
    target (default [0, 0, -1] as torch writes; e.g. [-1, batch, 2H])."""
    rng = np.random.default_rng(seed)
    g = _Graph(opset, rng)
    T = seq if isinstance(seq, int) else (seq or "T")
    ginputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, batch, input_size])]
    x, n = "X", input_size
    hs, cs, total_dirs = [], [], 0
    kinds = []
    for li, L in enumerate(layers):
        kind = L.get("kind", "lstm").lower()
        kinds.append(kind)
        H = L["hidden"]
        direction = L.get("direction", "forward")
        D = 2 if direction == "bidirectional" else 1
        total_dirs += D
        want = ("Y", "Y_h", "Y_c") if kind == "lstm" else ("Y", "Y_h")
        outs = _layer(
            g,
            kind=kind,
            x=x,
            input_size=n,
            hidden=H,
            direction=direction,
            batch=batch,
            layout=0,
            weights=L.get("weights") or hlf_per_gate(H // 4, max(2, H // 4)),
            r_weights=L.get("r_weights"),
            with_bias=L.get("with_bias", True),
            bias_torch=L.get("bias_torch", False),
            seq_lens=None,
            initial_h=None,
            initial_c=None,
            with_peepholes=False,
            clip=None,
            input_forget=0,
            activations=None,
            activation_alpha=None,
            activation_beta=None,
            linear_before_reset=L.get("linear_before_reset", 0),
            outputs=want,
            explicit_defaults=False,
            name=f"layer{li}_{kind}",
        )
        y = outs[0]
        hs.append(outs[1])
        if kind == "lstm":
            cs.append(outs[2])
        if D == 1:
            x = g.squeeze(y, [1])
        else:
            shape = [0, 0, -1] if reshape_shape is None else [2 * H if v == "2H" else v for v in reshape_shape]
            x = g.node("Reshape", [g.node("Transpose", [y], perm=[0, 2, 1, 3]), g.ints(shape, "shape")])
        n = D * H
    gouts = []
    g.nodes.append(helper.make_node("Identity", [x], ["output"], name="out_identity"))
    gouts.append(helper.make_tensor_value_info("output", TensorProto.FLOAT, [T, batch, n]))
    if concat_states:
        hidden_sizes = {L["hidden"] for L in layers}
        if len(hidden_sizes) != 1:
            raise ValueError("concat_states needs one hidden size")
        H = hidden_sizes.pop()
        g.nodes.append(helper.make_node("Concat", hs, ["h_n"], axis=0, name="h_concat"))
        gouts.append(helper.make_tensor_value_info("h_n", TensorProto.FLOAT, [total_dirs, batch, H]))
        if all(k == "lstm" for k in kinds):
            g.nodes.append(helper.make_node("Concat", cs, ["c_n"], axis=0, name="c_concat"))
            gouts.append(helper.make_tensor_value_info("c_n", TensorProto.FLOAT, [total_dirs, batch, H]))
    else:
        for li, (h, L) in enumerate(zip(hs, layers)):
            D = 2 if L.get("direction", "forward") == "bidirectional" else 1
            g.nodes.append(helper.make_node("Identity", [h], [f"h_n{li}"], name=f"h_identity{li}"))
            gouts.append(helper.make_tensor_value_info(f"h_n{li}", TensorProto.FLOAT, [D, batch, L["hidden"]]))
    return _finish(g, ginputs, gouts, opset, "stacked")


def node_model(node: onnx.NodeProto, feeds: dict, weights: dict, outputs: dict, opset: int) -> onnx.ModelProto:
    """A one-node model: ``weights`` (name -> array) become initializers,
    ``feeds`` (name -> array) graph inputs with those exact shapes,
    ``outputs`` (name -> array) graph outputs with those shapes."""

    def vi(name, arr):
        arr = np.asarray(arr)
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape))

    graph = helper.make_graph(
        [node],
        node.name or node.op_type,
        [vi(n, a) for n, a in feeds.items()],
        [vi(n, a) for n, a in outputs.items()],
        initializer=[numpy_helper.from_array(np.asarray(a), n) for n, a in weights.items()],
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=max(4, helper.find_min_ir_version_for(opsets)))
    onnx.checker.check_model(model, full_check=True)
    return model


# --------------------------------------------------------------------------
# Files and inputs
# --------------------------------------------------------------------------


def save(model: onnx.ModelProto, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_inputs(
    model: onnx.ModelProto,
    seq_len: int,
    *,
    batch: int | None = None,
    seed: int = 1,
    seq_lens: Sequence[int] | None = None,
) -> dict[str, np.ndarray]:
    """Random inputs for every graph input: symbolic dims are bound to
    seq_len (name "T") or batch; float inputs ~ N(0, 1) (states N(0, 0.5));
    int inputs (sequence_lens) = seq_lens, default all seq_len."""
    rng = np.random.default_rng(seed)
    init_names = {i.name for i in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in init_names:
            continue
        tt = vi.type.tensor_type
        shape = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                shape.append(d.dim_value)
            elif d.dim_param == "T":
                shape.append(seq_len)
            else:
                if batch is None:
                    raise ValueError(f"symbolic dim {d.dim_param!r} of {vi.name}: pass batch=")
                shape.append(batch)
        if tt.elem_type == TensorProto.INT32:
            vals = seq_lens if seq_lens is not None else [seq_len] * shape[0]
            feeds[vi.name] = np.asarray(vals, dtype=np.int32).reshape(shape)
        else:
            std = 1.0 if vi.name == "X" else 0.5
            feeds[vi.name] = (rng.standard_normal(shape) * std).astype(np.float32)
    return feeds
