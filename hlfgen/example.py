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

``scheme=`` writes, for the same layer shape and seed, one model per
compression scheme of the paper's comparison (§4), all from the same seeded
dense weights (``dense_weights``; the schemes live in hlfgen/schemes.py):

* ``dense``  - the baseline: plain ``W``, ``R``, ``B`` initializers;
* ``small``  - the small baseline: hidden size reduced until the W and R
  parameters (gates*h*(input_size + h) per direction; the input size is the
  task's and stays) fit in the dense count / CF (``small_hidden``); its
  weights are the top-left h-row (and h-column, for R) block of each gate of
  the dense weights.  Its outputs have h features, not hidden_size;
* ``lmf``    - low-rank factorization, j = 0, rank ``hlf.lmf_rank`` (SVD);
* ``hlf``    - [A' ; B·C] with j from Eq. 4 for the given k, A' the first j
  rows of the dense matrix and B·C the rank-k SVD of the rest
  (``hlf.factor_hlf``); ``k=None`` sweeps k = 1..16 per matrix and keeps the
  smallest reconstruction error;
* ``pruned`` - magnitude pruning: the dense weights with the smallest
  magnitudes zeroed, keeping floor(m*n/CF) per matrix (``prune_magnitude``);
  ``prune_block=(br, bc)`` prunes whole br x bc blocks by their L2 norm.
  ``W``/``R`` stay plain (dense-with-zeros) initializers; ``hlfgen build
  --sparse`` finds the zeros.

The bias is a plain initializer in every scheme and is not counted in the
compression (CF is over W and R).  ``weight_stats(model)`` reports the
weights kept and the bytes each storage takes (index arrays of the sparse
formats included).  With ``scheme=None`` (the default) the original example
is written unchanged: HLF with seeded random factors.
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
SCHEMES = ("dense", "small", "lmf", "hlf", "pruned")
K_SWEEP_MAX = 16  # k = None: HLF ranks tried per matrix


def validate(kind: str, direction: str, input_size: int, hidden_size: int, opset: int) -> str:
    """The kind, lower case, of a valid example layer; HlfgenError otherwise."""
    kind = kind.lower()
    if kind not in GATES:
        raise HlfgenError(f"unknown kind {kind!r} (want lstm, gru or rnn)")
    if direction not in DIRECTIONS:
        raise HlfgenError(f"unknown direction {direction!r} (want {', '.join(DIRECTIONS)})")
    if input_size < 1 or hidden_size < 1:
        raise HlfgenError("input_size and hidden_size must be >= 1")
    if not 7 <= opset <= onnx.defs.onnx_opset_version():
        raise HlfgenError(f"opset {opset} unsupported (7..{onnx.defs.onnx_opset_version()})")
    return kind


class Graph:
    """The initializers and nodes of one example model (each node named after its output)."""

    def __init__(self, kind: str, opset: int):
        self.kind, self.opset = kind, opset
        self.inits: list[TensorProto] = []
        self.nodes: list[onnx.NodeProto] = []

    def const(self, tname: str, a: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), tname))
        return tname

    def node(self, op: str, ins: list[str], out: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def unsqueeze0(self, src: str, w: str, d: int, ndir: int) -> str:
        """Direction d's matrix of input w as [1, rows, cols]: Unsqueeze(axes=[0]), the axes an
        input from opset 13, an attribute before."""
        out = f"{self.kind}.{w}.d{d}.u" if ndir > 1 else f"{self.kind}.{w}"
        if self.opset >= 13:
            axes = f"{self.kind}.axes0"
            if not any(t.name == axes for t in self.inits):
                self.inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), axes))
            return self.node("Unsqueeze", [src, axes], out)
        return self.node("Unsqueeze", [src], out, axes=[0])

    def concat_directions(self, w: str, per_dir: list[str]) -> str:
        """<kind>.<w> [D, rows, cols] from unsqueeze0's per direction."""
        return self.node("Concat", per_dir, f"{self.kind}.{w}", axis=0) if len(per_dir) > 1 else per_dir[0]

    def model(
        self, weights: tuple[str, str, str], input_size: int, h: int, direction: str, graph_name: str
    ) -> onnx.ModelProto:
        """The recurrent node on X and (W, R, B), and the model: X [seq, 1, input_size] -> Y, Y_h (, Y_c)."""
        ndir = 2 if direction == "bidirectional" else 1
        outs = ["Y", "Y_h"] + (["Y_c"] if self.kind == "lstm" else [])
        self.nodes.append(
            helper.make_node(OPS[self.kind], ["X", *weights], outs, name=self.kind, hidden_size=h, direction=direction)
        )
        f32 = TensorProto.FLOAT
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info("X", f32, ["seq", 1, input_size])],
            [helper.make_tensor_value_info("Y", f32, ["seq", ndir, 1, h])]
            + [helper.make_tensor_value_info(o, f32, [ndir, 1, h]) for o in outs[1:]],
            initializer=self.inits,
        )
        opsets = [helper.make_opsetid("", self.opset)]  # lowest IR for the opset; >= 4: initializers need not be inputs
        return helper.make_model(
            graph,
            opset_imports=opsets,
            producer_name="hlfgen",
            ir_version=max(4, helper.find_min_ir_version_for(opsets)),
        )


def make_example_model(
    kind: str = "lstm",
    input_size: int = 64,
    hidden_size: int = 128,
    compression: Fraction | float | str = 2.5,
    k: int | None = 1,
    seed: int = 0,
    direction: str = "forward",
    per_gate: bool = True,
    opset: int = 14,
    *,
    scheme: str | None = None,
    prune_block: tuple[int, int] = (1, 1),
) -> onnx.ModelProto:
    """Build a seeded HLF-factored model; every W/R matrix reaches ``compression`` (Eq. 4).

    scheme: None (the original example: random factors) or one of SCHEMES, see
    the module docstring.
    """
    if scheme is not None:
        from hlfgen.schemes import scheme_model

        return scheme_model(
            scheme, kind, input_size, hidden_size, compression, k, seed, direction, per_gate, opset, prune_block
        )
    if k is None:
        raise HlfgenError("k=None (sweep) needs a scheme (scheme='hlf')")
    kind = validate(kind, direction, input_size, hidden_size, opset)
    if k < 1:
        raise HlfgenError("k must be >= 1")
    cf = parse_cf(compression)
    rng = np.random.default_rng(seed)
    gates = GATES[kind]
    ndir = 2 if direction == "bidirectional" else 1
    h = hidden_size
    g = Graph(kind, opset)

    def hlf_matrix(base: str, m: int, n: int) -> str:
        """[A' ; B·C] for an m x n matrix at compression >= cf (Figure 1)."""
        j = hlf_j_for(m, n, k, cf)
        if j is None:
            raise HlfgenError(f"{base}: a {m}x{n} matrix with k={k} cannot reach compression {cf}")
        # A' rows and B·C rows both ~ N(0, 1/n) per entry, so no gate saturates
        a = g.const(f"{base}.hlf_A", rng.normal(0, 1 / np.sqrt(n), (j, n))) if j else ""
        b = g.const(f"{base}.hlf_B", rng.normal(0, 1 / np.sqrt(k), (m - j, k)))
        c = g.const(f"{base}.hlf_C", rng.normal(0, 1 / np.sqrt(n), (k, n)))
        if not j:
            return g.node("MatMul", [b, c], base)
        bc = g.node("MatMul", [b, c], f"{base}.BC")
        return g.node("Concat", [a, bc], base, axis=0)

    def weight(w: str, n: int) -> str:
        per_dir = []
        for d in range(ndir):
            base = f"{kind}.{w}.d{d}"
            if per_gate:
                parts = [hlf_matrix(f"{base}.{gate}", h, n) for gate in gates]
                wd = g.node("Concat", parts, base, axis=0) if len(parts) > 1 else parts[0]
            else:
                wd = hlf_matrix(base, len(gates) * h, n)
            per_dir.append(g.unsqueeze0(wd, w, d, ndir))
        return g.concat_directions(w, per_dir)

    w_in = weight("W", input_size)
    r_in = weight("R", h)
    b_in = g.const(f"{kind}.B", rng.normal(0, 0.1, (ndir, 2 * len(gates) * h)))
    model = g.model((w_in, r_in, b_in), input_size, h, direction, f"hlfgen_example_{kind}")
    helper.set_model_props(model, {"hlf.version": "1"})
    model.doc_string = (
        f"hlfgen example: {kind} input {input_size} hidden {h} {direction}, "
        f"compression >= {cf}, k={k}, {'per gate' if per_gate else 'stacked gates'}, seed {seed}"
    )
    return model


def write_example(
    path: str | os.PathLike,
    kind: str = "lstm",
    input_size: int = 64,
    hidden_size: int = 128,
    compression: Fraction | float | str = 2.5,
    k: int | None = 1,
    seed: int = 0,
    direction: str = "forward",
    per_gate: bool = True,
    opset: int = 14,
    *,
    scheme: str | None = None,
    prune_block: tuple[int, int] = (1, 1),
) -> onnx.ModelProto:
    """Write ``make_example_model(...)`` to ``path`` (one file, no external data) after check_model."""
    model = make_example_model(
        kind,
        input_size,
        hidden_size,
        compression,
        k,
        seed,
        direction,
        per_gate,
        opset,
        scheme=scheme,
        prune_block=prune_block,
    )
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.fspath(path))
    return model
