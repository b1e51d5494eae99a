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
dense weights (``dense_weights``):

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

from hlfgen import hlf as _hlf
from hlfgen.errors import HlfgenError
from hlfgen.hlf import hlf_j_for, parse_cf

GATES: dict[str, tuple[str, ...]] = {"lstm": ("i", "o", "f", "c"), "gru": ("z", "r", "h"), "rnn": ("i",)}
OPS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
DIRECTIONS = ("forward", "reverse", "bidirectional")
SCHEMES = ("dense", "small", "lmf", "hlf", "pruned")
K_SWEEP_MAX = 16  # k = None: HLF ranks tried per matrix


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
        return _scheme_model(
            scheme, kind, input_size, hidden_size, compression, k, seed, direction, per_gate, opset, prune_block
        )
    if k is None:
        raise HlfgenError("k=None (sweep) needs a scheme (scheme='hlf')")
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
    nodes.append(
        helper.make_node(OPS[kind], ["X", w_in, r_in, b_in], outs, name=name, hidden_size=h, direction=direction)
    )
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        f"hlfgen_example_{kind}",
        [helper.make_tensor_value_info("X", f32, ["seq", 1, input_size])],
        [helper.make_tensor_value_info("Y", f32, ["seq", ndir, 1, h])]
        + [helper.make_tensor_value_info(o, f32, [ndir, 1, h]) for o in outs[1:]],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", opset)]  # lowest IR for the opset; >= 4 lets initializers not be inputs
    model = helper.make_model(
        graph, opset_imports=opsets, producer_name="hlfgen", ir_version=max(4, helper.find_min_ir_version_for(opsets))
    )
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


# ---------------------------------------------------------------------------
# One model per compression scheme, from the same dense weights
# ---------------------------------------------------------------------------


def _validate(kind: str, direction: str, input_size: int, hidden_size: int, opset: int) -> str:
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


def dense_weights(
    kind: str = "lstm", input_size: int = 64, hidden_size: int = 128, seed: int = 0, direction: str = "forward"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seeded dense (W, R, B) every scheme starts from, in ONNX layout.

    W (D, G*H, input) and R (D, G*H, H) ~ N(0, 1/fan_in), B (D, 2*G*H) ~ N(0, 0.1).
    """
    kind = _validate(kind, direction, input_size, hidden_size, 14)
    g, h = len(GATES[kind]), hidden_size
    ndir = 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 1 / np.sqrt(input_size), (ndir, g * h, input_size)).astype(np.float32)
    R = rng.normal(0, 1 / np.sqrt(h), (ndir, g * h, h)).astype(np.float32)
    B = rng.normal(0, 0.1, (ndir, 2 * g * h)).astype(np.float32)
    return W, R, B


def small_hidden(kind: str, input_size: int, hidden_size: int, compression) -> int:
    """Largest h with gates*h*(input_size + h) <= gates*H*(input_size + H) / CF (W and R, per direction).

    The input size is fixed by the task, so W shrinks in rows only and R in
    both dimensions: h solves h^2 + input_size*h = H*(input_size + H)/CF.
    """
    cf = parse_cf(compression)
    budget = Fraction(hidden_size * (input_size + hidden_size)) / cf
    h = int((-input_size + (input_size**2 + 4 * float(budget)) ** 0.5) / 2) + 1
    while h > 0 and h * (input_size + h) > budget:
        h -= 1
    if h < 1:
        raise HlfgenError(f"no hidden size >= 1 fits compression {cf} with input size {input_size}")
    return h


def prune_magnitude(a: np.ndarray, compression, block: tuple[int, int] = (1, 1)) -> np.ndarray:
    """a with all but its floor(a.size / CF) largest-magnitude entries zeroed.

    block=(br, bc): whole br x bc blocks (edge blocks may be smaller) are kept
    or zeroed by their L2 norm, greedily from the largest, while the kept
    entries stay within floor(a.size / CF).  Ties keep the earlier entry.
    """
    a = np.asarray(a, np.float32)
    keep = int(Fraction(a.size) / parse_cf(compression))
    br, bc = block
    if br < 1 or bc < 1:
        raise HlfgenError(f"bad pruning block {block}")
    m, n = a.shape
    if (br, bc) == (1, 1):
        order = np.argsort(-np.abs(a).reshape(-1), kind="stable")
        mask = np.zeros(a.size, bool)
        mask[order[:keep]] = True
        return np.where(mask.reshape(a.shape), a, 0).astype(np.float32)
    mb, nb = -(-m // br), -(-n // bc)
    padded = np.zeros((mb * br, nb * bc), np.float64)
    padded[:m, :n] = a
    norms = np.sqrt((padded.reshape(mb, br, nb, bc) ** 2).sum(axis=(1, 3))).reshape(-1)
    sizes = (np.minimum(br, m - np.arange(mb) * br)[:, None] * np.minimum(bc, n - np.arange(nb) * bc)[None, :]).reshape(
        -1
    )
    kept = np.zeros(mb * nb, bool)
    total = 0
    for i in np.argsort(-norms, kind="stable"):
        if total + sizes[i] <= keep:
            kept[i] = True
            total += sizes[i]
    mask = np.kron(kept.reshape(mb, nb), np.ones((br, bc), bool))[:m, :n]
    return np.where(mask, a, 0).astype(np.float32)


def _hlf_factors(a: np.ndarray, cf: Fraction, k: int | None, lmf: bool, base: str):
    """(A', B, C) of one matrix for the lmf / hlf schemes (A' has j rows, maybe 0)."""
    m, n = a.shape
    if lmf:
        r = _hlf.lmf_rank(m, n, cf)
        if r < 1:
            raise HlfgenError(f"{base}: a {m}x{n} matrix has no LMF rank >= 1 at compression {cf}")
        return _hlf.factor_hlf(a, 0, r)
    ks = [k] if k is not None else range(1, K_SWEEP_MAX + 1)
    best, best_err = None, None
    for kk in ks:
        j = hlf_j_for(m, n, kk, cf)
        if j is None:
            if k is not None:
                raise HlfgenError(f"{base}: a {m}x{n} matrix with k={k} cannot reach compression {cf}")
            break  # larger k needs even more parameters
        f = _hlf.factor_hlf(a, j, kk)
        err = float(np.linalg.norm(a - _hlf.hlf_expand(*f)))
        if best_err is None or err < best_err:
            best, best_err = f, err
    if best is None:
        raise HlfgenError(f"{base}: a {m}x{n} matrix cannot reach compression {cf} with any k")
    return best


def _scheme_model(
    scheme, kind, input_size, hidden_size, compression, k, seed, direction, per_gate, opset, prune_block
) -> onnx.ModelProto:
    if scheme not in SCHEMES:
        raise HlfgenError(f"unknown scheme {scheme!r} (want {', '.join(SCHEMES)})")
    kind = _validate(kind, direction, input_size, hidden_size, opset)
    if k is not None and k < 1:
        raise HlfgenError("k must be >= 1 (or None to sweep)")
    cf = parse_cf(compression)
    gates, name = GATES[kind], kind
    G = len(gates)
    ndir = 2 if direction == "bidirectional" else 1
    W, R, B = dense_weights(kind, input_size, hidden_size, seed, direction)
    h = hidden_size
    if scheme == "small":
        h = small_hidden(kind, input_size, hidden_size, cf)
        H = hidden_size
        W = np.stack([np.concatenate([W[d, g * H : g * H + h] for g in range(G)]) for d in range(ndir)])
        R = np.stack([np.concatenate([R[d, g * H : g * H + h, :h] for g in range(G)]) for d in range(ndir)])
        B = np.stack([np.concatenate([B[d, g * H : g * H + h] for g in range(2 * G)]) for d in range(ndir)])
    inits: list[TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(tname: str, a: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), tname))
        return tname

    def node(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def blocks(a: np.ndarray):
        """(suffix, rows) of the matrices a scheme treats separately: per gate or stacked."""
        return [(f".{g}", a[i * h : (i + 1) * h]) for i, g in enumerate(gates)] if per_gate else [("", a)]

    def factored(w: str, full: np.ndarray) -> str:
        """The canonical HLF sub-graph of W or R (all directions) for lmf / hlf."""
        per_dir = []
        for d in range(ndir):
            base = f"{name}.{w}.d{d}"
            parts = []
            for suffix, a in blocks(full[d]):
                A, Bf, C = _hlf_factors(a, cf, k, scheme == "lmf", base + suffix)
                b = const(f"{base}{suffix}.hlf_B", Bf)
                c = const(f"{base}{suffix}.hlf_C", C)
                if A.shape[0] == 0:
                    parts.append(node("MatMul", [b, c], base + suffix))
                else:
                    bc = node("MatMul", [b, c], f"{base}{suffix}.BC")
                    parts.append(node("Concat", [const(f"{base}{suffix}.hlf_A", A), bc], base + suffix, axis=0))
            wd = node("Concat", parts, base, axis=0) if len(parts) > 1 else parts[0]
            if opset >= 13:
                axes = f"{name}.axes0"
                if not any(t.name == axes for t in inits):
                    inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), axes))
                per_dir.append(node("Unsqueeze", [wd, axes], f"{base}.u" if ndir > 1 else f"{name}.{w}"))
            else:
                per_dir.append(node("Unsqueeze", [wd], f"{base}.u" if ndir > 1 else f"{name}.{w}", axes=[0]))
        return node("Concat", per_dir, f"{name}.{w}", axis=0) if ndir > 1 else per_dir[0]

    if scheme in ("lmf", "hlf"):
        w_in, r_in = factored("W", W), factored("R", R)
    else:
        if scheme == "pruned":

            def prune(full):
                return np.stack(
                    [
                        np.concatenate([prune_magnitude(a, cf, prune_block) for _, a in blocks(full[d])])
                        for d in range(ndir)
                    ]
                )

            W, R = prune(W), prune(R)
        w_in, r_in = const(f"{name}.W", W), const(f"{name}.R", R)
    b_in = const(f"{name}.B", B)
    outs = ["Y", "Y_h"] + (["Y_c"] if kind == "lstm" else [])
    nodes.append(
        helper.make_node(OPS[kind], ["X", w_in, r_in, b_in], outs, name=name, hidden_size=h, direction=direction)
    )
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        f"hlfgen_example_{kind}_{scheme}",
        [helper.make_tensor_value_info("X", f32, ["seq", 1, input_size])],
        [helper.make_tensor_value_info("Y", f32, ["seq", ndir, 1, h])]
        + [helper.make_tensor_value_info(o, f32, [ndir, 1, h]) for o in outs[1:]],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph, opset_imports=opsets, producer_name="hlfgen", ir_version=max(4, helper.find_min_ir_version_for(opsets))
    )
    props = {"hlfgen.scheme": scheme, "hlfgen.compression": str(cf)}
    if scheme in ("lmf", "hlf"):
        props["hlf.version"] = "1"
    if scheme == "pruned":
        props["hlfgen.prune_block"] = f"{prune_block[0]}x{prune_block[1]}"
    helper.set_model_props(model, props)
    what = {
        "dense": "dense baseline",
        "small": f"small baseline (hidden {h})",
        "lmf": "LMF (j=0)",
        "hlf": f"HLF (k={'swept' if k is None else k})",
        "pruned": f"magnitude-pruned ({prune_block[0]}x{prune_block[1]} blocks)",
    }[scheme]
    model.doc_string = (
        f"hlfgen example: {kind} input {input_size} hidden {hidden_size} {direction}, {what}, "
        f"compression >= {cf} on W and R, {'per gate' if per_gate else 'stacked gates'}, seed {seed}"
    )
    return model


def weight_stats(model: onnx.ModelProto | str | os.PathLike) -> dict:
    """Weights kept and storage bytes of the W and R inputs of the model's recurrent node(s).

    Evaluates W and R (onnx.reference) and counts, from the initializers:
      weights      - stored weights: factors for HLF/LMF, nonzeros if any
                     weight is exactly zero (pruned), else every entry;
      dense        - entries of the evaluated W and R (m*n summed);
      bytes_dense  - float32 bytes of the stored weights as plain arrays;
      bytes_csr / bytes_bcsr4 / bytes_bcsr8 - pruned matrices stored in the
                     formats of runtime/hlf_sparse.h (uint32 row pointers,
                     uint16 column indices, float32 values), per W/R matrix
                     of each direction.
    """
    from onnx.reference import ReferenceEvaluator

    from hlfgen import sparse

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(os.fspath(model))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    rec = [n for n in model.graph.node if n.op_type in OPS.values()]
    names = [x for n in rec for x in (n.input[1], n.input[2])]
    vals = (
        ReferenceEvaluator(model).run(names, {"X": np.zeros((1, 1, _input_size(model)), np.float32)})
        if any(n not in inits for n in names)
        else [inits[n] for n in names]
    )
    dense = int(sum(v.size for v in vals))
    factors = [v for key, v in inits.items() if key.split(".")[-1] in ("hlf_A", "hlf_B", "hlf_C")]
    stats = {"dense": dense}
    if factors:
        stats["weights"] = int(sum(f.size for f in factors))
        stats["bytes_dense"] = 4 * stats["weights"]
        return stats
    nnz = int(sum(np.count_nonzero(v) for v in vals))
    stats["weights"] = nnz
    stats["bytes_dense"] = 4 * dense
    if nnz == dense:  # nothing pruned: the sparse formats do not apply
        return stats
    mats = [v[d] for v in vals for d in range(v.shape[0])]
    stats["bytes_csr"] = int(sum(sparse.pack_csr(a).bytes for a in mats))
    for br in sparse.BLOCK_ROWS:
        stats[f"bytes_bcsr{br}"] = int(sum(sparse.pack_bcsr(a, br).bytes for a in mats))
    return stats


def _input_size(model: onnx.ModelProto) -> int:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return int(dims[-1].dim_value)
