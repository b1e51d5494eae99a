"""Seeded example models in the canonical HLF ONNX form (shared/hlf-onnx.md).

One recurrent node (``LSTM``, ``GRU`` or ``RNN``) named after its kind.  Each
of its ``W`` and ``R`` inputs is a constant sub-expression over the factors::

    <node>.W.d0.i = Concat(axis=0)(<node>.W.d0.i.hlf_A, MatMul(.hlf_B, .hlf_C))
    <node>.W.d0   = Concat(axis=0)(gates in ONNX order: LSTM i o f c, GRU z r h)
    <node>.W      = Unsqueeze(<node>.W.d0, axes=[0])           # forward/reverse
                  = Concat(axis=0)(Unsqueeze(d0), Unsqueeze(d1))  # bidirectional

With ``per_gate=False`` the stacked gates*hidden x n matrix of a direction is
factored once (``<node>.W.d0.hlf_A`` ...).  j comes from Eq. 4 via
``hlf_j_for``; when j = 0 the ``Concat`` is dropped (plain LMF).  The bias
``<node>.B`` is a plain initializer.  Graph input ``X`` is
[seq, 1, input_size]: symbolic sequence length ``"seq"``, static batch 1.
Outputs ``Y``, ``Y_h`` (and ``Y_c`` for LSTM).  Metadata ``hlf.version = 1``.
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hlfgen.errors import HlfgenError
from hlfgen.hlf import hlf_j_for, parse_cf

GATES: dict[str, tuple[str, ...]] = {"lstm": ("i", "o", "f", "c"), "gru": ("z", "r", "h"), "rnn": ("i",)}
OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
DIRECTIONS = ("forward", "reverse", "bidirectional")


def make_example_model(kind: str = "lstm", input_size: int = 64, hidden_size: int = 128,
                       compression: Fraction | float | str = 2.5, k: int = 1, seed: int = 0,
                       direction: str = "forward", per_gate: bool = True,
                       opset: int = 14) -> onnx.ModelProto:
    """Build a seeded HLF-factored model; every W/R matrix reaches ``compression`` (Eq. 4)."""
    kind = kind.lower()
    if kind not in GATES:
        raise HlfgenError(f"unknown kind {kind!r} (want lstm, gru or rnn)")
    if direction not in DIRECTIONS:
        raise HlfgenError(f"unknown direction {direction!r} (want {', '.join(DIRECTIONS)})")
    if input_size < 1 or hidden_size < 1 or k < 1:
        raise HlfgenError("input_size, hidden_size and k must be >= 1")
    if not 7 <= opset <= onnx.defs.onnx_opset_version():
        raise HlfgenError(f"opset {opset} unsupported (7..{onnx.defs.onnx_opset_version()})")
    cf = parse_cf(compression)
    rng = np.random.default_rng(seed)
    gates, name = GATES[kind], kind
    ndir = 2 if direction == "bidirectional" else 1
    h = hidden_size
    inits: list[TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(tname: str, a: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), tname))
        return tname

    def node(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def hlf_matrix(base: str, m: int, n: int) -> str:
        """[A' ; B·C] for an m x n matrix at compression >= cf (Figure 1)."""
        j = hlf_j_for(m, n, k, cf)
        if j is None:
            raise HlfgenError(f"{base}: a {m}x{n} matrix with k={k} cannot reach compression {cf}")
        # A' rows and B·C rows both ~ N(0, 1/n) per entry, so no gate saturates
        a = const(f"{base}.hlf_A", rng.normal(0, 1 / np.sqrt(n), (j, n))) if j else ""
        b = const(f"{base}.hlf_B", rng.normal(0, 1 / np.sqrt(k), (m - j, k)))
        c = const(f"{base}.hlf_C", rng.normal(0, 1 / np.sqrt(n), (k, n)))
        if not j:
            return node("MatMul", [b, c], base)
        bc = node("MatMul", [b, c], f"{base}.BC")
        return node("Concat", [a, bc], base, axis=0)

    def unsqueeze(src: str, out: str) -> str:
        if opset >= 13:
            axes = f"{name}.axes0"
            if not any(t.name == axes for t in inits):
                inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), axes))
            return node("Unsqueeze", [src, axes], out)
        return node("Unsqueeze", [src], out, axes=[0])

    def weight(w: str, n: int) -> str:
        per_dir = []
        for d in range(ndir):
            base = f"{name}.{w}.d{d}"
            if per_gate:
                parts = [hlf_matrix(f"{base}.{g}", h, n) for g in gates]
                wd = node("Concat", parts, base, axis=0) if len(parts) > 1 else parts[0]
            else:
                wd = hlf_matrix(base, len(gates) * h, n)
            per_dir.append(unsqueeze(wd, f"{base}.u" if ndir > 1 else f"{name}.{w}"))
        return node("Concat", per_dir, f"{name}.{w}", axis=0) if ndir > 1 else per_dir[0]

    w_in = weight("W", input_size)
    r_in = weight("R", h)
    b_in = const(f"{name}.B", rng.normal(0, 0.1, (ndir, 2 * len(gates) * h)))
    outs = ["Y", "Y_h"] + (["Y_c"] if kind == "lstm" else [])
    nodes.append(helper.make_node(OPS[kind], ["X", w_in, r_in, b_in], outs, name=name,
                                  hidden_size=h, direction=direction))
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, f"hlfgen_example_{kind}",
        [helper.make_tensor_value_info("X", f32, ["seq", 1, input_size])],
        [helper.make_tensor_value_info("Y", f32, ["seq", ndir, 1, h])]
        + [helper.make_tensor_value_info(o, f32, [ndir, 1, h]) for o in outs[1:]],
        initializer=inits)
    opsets = [helper.make_opsetid("", opset)]  # lowest IR for the opset; >= 4 lets initializers not be inputs
    model = helper.make_model(graph, opset_imports=opsets, producer_name="hlfgen",
                              ir_version=max(4, helper.find_min_ir_version_for(opsets)))
    helper.set_model_props(model, {"hlf.version": "1"})
    model.doc_string = (f"hlfgen example: {kind} input {input_size} hidden {h} {direction}, "
                        f"compression >= {cf}, k={k}, {'per gate' if per_gate else 'stacked gates'}, seed {seed}")
    return model


def write_example(path: str | os.PathLike, kind: str = "lstm", input_size: int = 64,
                  hidden_size: int = 128, compression: Fraction | float | str = 2.5, k: int = 1,
                  seed: int = 0, direction: str = "forward", per_gate: bool = True,
                  opset: int = 14) -> onnx.ModelProto:
    """Write ``make_example_model(...)`` to ``path`` (one file, no external data) after check_model."""
    model = make_example_model(kind, input_size, hidden_size, compression, k, seed,
                               direction, per_gate, opset)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.fspath(path))
    return model
