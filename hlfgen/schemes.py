"""The compression schemes of the paper's comparison (§4), applied to one seeded
dense layer: ``make_example_model(scheme=...)`` of hlfgen/example.py.

``dense_weights`` draws the dense W, R, B every scheme starts from;
``small_hidden`` sizes the small baseline, ``prune_magnitude`` prunes,
``_hlf_factors`` factors a matrix for LMF (j = 0, rank ``hlf.lmf_rank``) or HLF
(j from Eq. 4 for k, or k swept), and ``scheme_model`` writes the model.
``weight_stats`` counts the weights a model keeps and the bytes of each storage.
The equations are those of hlfgen/hlf.py.
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hlfgen import hlf as _hlf
from hlfgen.errors import HlfgenError
from hlfgen.example import GATES, K_SWEEP_MAX, OPS, SCHEMES, Graph, validate
from hlfgen.hlf import hlf_j_for, parse_cf


def dense_weights(
    kind: str = "lstm", input_size: int = 64, hidden_size: int = 128, seed: int = 0, direction: str = "forward"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seeded dense (W, R, B) every scheme starts from, in ONNX layout.

    W (D, G*H, input) and R (D, G*H, H) ~ N(0, 1/fan_in), B (D, 2*G*H) ~ N(0, 0.1).
    """
    kind = validate(kind, direction, input_size, hidden_size, 14)
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


def scheme_model(
    scheme, kind, input_size, hidden_size, compression, k, seed, direction, per_gate, opset, prune_block
) -> onnx.ModelProto:
    """make_example_model(scheme=...): one scheme of the comparison, from dense_weights (module docstring)."""
    if scheme not in SCHEMES:
        raise HlfgenError(f"unknown scheme {scheme!r} (want {', '.join(SCHEMES)})")
    kind = validate(kind, direction, input_size, hidden_size, opset)
    if k is not None and k < 1:
        raise HlfgenError("k must be >= 1 (or None to sweep)")
    cf = parse_cf(compression)
    gates = GATES[kind]
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
    gr = Graph(kind, opset)

    def blocks(a: np.ndarray):
        """(suffix, rows) of the matrices a scheme treats separately: per gate or stacked."""
        return [(f".{g}", a[i * h : (i + 1) * h]) for i, g in enumerate(gates)] if per_gate else [("", a)]

    def factored(w: str, full: np.ndarray) -> str:
        """The canonical HLF sub-graph of W or R (all directions) for lmf / hlf."""
        per_dir = []
        for d in range(ndir):
            base = f"{kind}.{w}.d{d}"
            parts = []
            for suffix, a in blocks(full[d]):
                A, Bf, C = _hlf_factors(a, cf, k, scheme == "lmf", base + suffix)
                b = gr.const(f"{base}{suffix}.hlf_B", Bf)
                c = gr.const(f"{base}{suffix}.hlf_C", C)
                if A.shape[0] == 0:
                    parts.append(gr.node("MatMul", [b, c], base + suffix))
                else:
                    bc = gr.node("MatMul", [b, c], f"{base}{suffix}.BC")
                    parts.append(gr.node("Concat", [gr.const(f"{base}{suffix}.hlf_A", A), bc], base + suffix, axis=0))
            wd = gr.node("Concat", parts, base, axis=0) if len(parts) > 1 else parts[0]
            per_dir.append(gr.unsqueeze0(wd, w, d, ndir))
        return gr.concat_directions(w, per_dir)

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
        w_in, r_in = gr.const(f"{kind}.W", W), gr.const(f"{kind}.R", R)
    b_in = gr.const(f"{kind}.B", B)
    model = gr.model((w_in, r_in, b_in), input_size, h, direction, f"hlfgen_example_{kind}_{scheme}")
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
    if any(n not in inits for n in names):
        x = np.zeros((1, 1, _input_size(model)), np.float32)
        vals: list[np.ndarray] = [np.asarray(v) for v in ReferenceEvaluator(model).run(names, {"X": x})]
    else:
        vals = [inits[n] for n in names]
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
