"""`hlfgen factor`: rewrite a dense ONNX LSTM/GRU/RNN model into HLF canonical form.

Each W[d] / R[d] matrix of each recurrent node (or each gate block of it,
``per_gate=True``) becomes ``[A' ; B·C]`` (Figure 1): the top j rows are kept
in A', the remaining rows replaced by their rank-k truncated SVD
(``hlf.factor_hlf``), j the largest reaching the compression by Eq. 4
(``hlf.hlf_j_for``).  The weight input becomes the canonical constant
expression of shared/hlf-onnx.md (as ``hlfgen example`` writes it)::

    <node>.W.d0.i = Concat(axis=0)(<node>.W.d0.i.hlf_A, MatMul(.hlf_B, .hlf_C))
    <node>.W.d0   = Concat(axis=0)(gates in ONNX order)
    <node>.W      = Unsqueeze(<node>.W.d0, [0])  |  Concat(Unsqueeze(d0), Unsqueeze(d1))

Everything else of the graph (other nodes, inputs, outputs, the bias) is kept.
Truncation loses accuracy: HLF is training-aware (paper §3), so fine-tune the
factored model (hlfgen.torch.from_dense) before deploying it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import HlfgenError
from .hlf import factor_hlf, hlf_j_for, hlf_params, parse_cf
from .reader import load_onnx

# ONNX gate order and count per operator (ir.GATES spelled out per gate).
GATES = {"LSTM": ("i", "o", "f", "c"), "GRU": ("z", "r", "h"), "RNN": ("i",)}
FINE_TUNE_WARNING = "accuracy needs fine-tuning: HLF is training-aware (paper §3)"
_EXTERNAL_LIMIT = 1 << 30  # above this many bytes of initializers, write external data


def factor_model(
    in_path: str | os.PathLike, out_path: str | os.PathLike, compression, k: int = 1, per_gate: bool = True
) -> list[dict]:
    """Factor every W/R matrix of every LSTM/GRU/RNN node of ``in_path``; write ``out_path``.

    Returns one row per matrix: ``node``, ``matrix`` ("W[d]" / "R[d]"),
    ``shape`` [m, n], ``blocks`` (gates factored separately, or 1), ``j`` and
    ``k`` (per block), ``params``, ``compression`` (Eq. 4, whole matrix) and
    ``rel_error`` = ||W - [A' ; B·C]||_F / ||W||_F of the float32 factors written.
    """
    cf = parse_cf(compression)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise HlfgenError(f"k must be a whole number >= 1, got {k!r}")
    model = load_onnx(in_path)
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output if o}
    names = (
        {t.name for t in g.initializer}
        | {n.name for n in g.node}
        | {i.name for i in g.input}
        | {o for n in g.node for o in n.output}
        | {o.name for o in g.output}
    )
    rnn_nodes = [n for n in g.node if n.op_type in GATES and n.domain in ("", "ai.onnx")]
    if not rnn_nodes:
        raise HlfgenError(f"{in_path}: no LSTM, GRU or RNN node to factor")

    def fresh(base: str) -> str:
        name, i = base, 1
        while name in names:
            name, i = f"{base}_{i}", i + 1
        names.add(name)
        return name

    new_inits: list[onnx.TensorProto] = []
    new_nodes: list[onnx.NodeProto] = []
    rows: list[dict] = []
    replaced: set[str] = set()

    def const(base: str, a: np.ndarray) -> str:
        a = np.asarray(a)
        t = numpy_helper.from_array(
            np.ascontiguousarray(a, a.dtype if a.dtype == np.int64 else np.float32), fresh(base)
        )
        new_inits.append(t)
        return t.name

    def node(op: str, ins: list[str], base: str, **attrs) -> str:
        out = fresh(base)
        new_nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def hlf_block(base: str, W: np.ndarray, j: int) -> tuple[str, np.ndarray]:
        """Figure 1 for one block: the canonical expression and its float32 expansion."""
        A, B, C = (x.astype(np.float32) for x in factor_hlf(W, j, k))
        b = const(f"{base}.hlf_B", B)
        c = const(f"{base}.hlf_C", C)
        expanded = np.concatenate([A, B @ C], axis=0)
        if not j:
            return node("MatMul", [b, c], base), expanded
        bc = node("MatMul", [b, c], f"{base}.BC")
        return node("Concat", [const(f"{base}.hlf_A", A), bc], base, axis=0), expanded

    for idx, n in enumerate(rnn_nodes):
        first_row = len(rows)
        label = n.name or (n.output[0] if n.output and n.output[0] else f"{n.op_type}_{idx}")
        prefix = n.name or f"{n.op_type.lower()}{idx}"
        gates = GATES[n.op_type]
        for pos, what in ((1, "W"), (2, "R")):
            name = n.input[pos] if pos < len(n.input) else ""
            if not name:
                raise HlfgenError(f"input {what} is missing", label, n.op_type)
            if name not in inits:
                src = producer.get(name)
                how = (
                    f"computed by {src.op_type} node '{src.name or src.output[0]}' (already factored?)"
                    if src is not None
                    else "a graph input, not an initializer"
                )
                raise HlfgenError(
                    f"not a dense model: input {what} ('{name}') is {how}; factor needs W and R as initializers",
                    label,
                    n.op_type,
                )
            arr = numpy_helper.to_array(inits[name])
            if arr.dtype not in (np.float32, np.float64, np.float16):
                raise HlfgenError(f"input {what} ('{name}') has dtype {arr.dtype}; expected float32", label, n.op_type)
            if arr.ndim != 3 or arr.shape[1] % len(gates):
                raise HlfgenError(
                    f"input {what} ('{name}') has shape {list(arr.shape)}; expected "
                    f"[directions, {len(gates)}*hidden, n]",
                    label,
                    n.op_type,
                )
            ndir, m, ncols = arr.shape
            h = m // len(gates)
            block_m = h if per_gate else m
            j = hlf_j_for(block_m, ncols, k, cf)
            if j is None:
                raise HlfgenError(
                    f"{what}: a {block_m}x{ncols} {'gate block' if per_gate else 'matrix'} with k={k} "
                    f"cannot reach compression {cf} (Eq. 4); lower k or the compression",
                    label,
                    n.op_type,
                )
            nblocks = len(gates) if per_gate else 1
            per_dir = []
            for d in range(ndir):
                Wd = arr[d].astype(np.float64)
                base = f"{prefix}.{what}.d{d}"
                if per_gate:
                    parts = [hlf_block(f"{base}.{gt}", Wd[i * h : (i + 1) * h], j) for i, gt in enumerate(gates)]
                    expanded = np.concatenate([e for _, e in parts], axis=0)
                    wd = node("Concat", [p for p, _ in parts], base, axis=0) if len(parts) > 1 else parts[0][0]
                else:
                    wd, expanded = hlf_block(base, Wd, j)
                norm = float(np.linalg.norm(Wd))
                err = float(np.linalg.norm(Wd - expanded.astype(np.float64)))
                params = nblocks * hlf_params(block_m, ncols, j, k)
                rows.append(
                    {
                        "node": label,
                        "matrix": f"{what}[{d}]",
                        "shape": [m, ncols],
                        "blocks": nblocks,
                        "j": j,
                        "k": k,
                        "params": params,
                        "compression": m * ncols / params,
                        "rel_error": err / norm if norm else 0.0,
                    }
                )
                per_dir.append(_unsqueeze0(wd, f"{base}.u" if ndir > 1 else f"{prefix}.{what}", opset, node, const))
            n.input[pos] = node("Concat", per_dir, f"{prefix}.{what}", axis=0) if ndir > 1 else per_dir[0]
            replaced.add(name)
        # per direction, W then R (as hlfgen inspect lists them)
        rows[first_row:] = sorted(rows[first_row:], key=lambda r: (r["matrix"][2:], r["matrix"][0] != "W"))

    # Drop the dense initializers nothing reads any more (and their graph-input entries).
    used = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
    gone = {nm for nm in replaced if nm not in used}
    for t in [t for t in g.initializer if t.name in gone]:
        g.initializer.remove(t)
    for vi in [vi for vi in g.input if vi.name in gone]:
        g.input.remove(vi)
    g.initializer.extend(new_inits)
    # New constant nodes go first: they only read initializers, so topological order holds.
    old = list(g.node)
    del g.node[:]
    g.node.extend(new_nodes + old)
    props = {p.key: p for p in model.metadata_props}
    if "hlf.version" not in props:
        model.metadata_props.add(key="hlf.version", value="1")
    _save(model, Path(out_path))
    return rows


def _unsqueeze0(src: str, base: str, opset: int, node, const) -> str:
    if opset >= 13:
        axes = const(f"{base}.axes", np.array([0], np.int64))
        return node("Unsqueeze", [src, axes], base)
    return node("Unsqueeze", [src], base, axes=[0])


def _save(model: onnx.ModelProto, path: Path) -> None:
    size = sum(t.ByteSize() for t in model.graph.initializer)
    try:
        if size > _EXTERNAL_LIMIT:
            onnx.save(
                model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=path.name + ".data"
            )
        else:
            onnx.save(model, str(path))
    except OSError as e:
        raise HlfgenError(f"{path}: cannot write ({e.strerror or e})") from None


def format_factor_report(rows: list[dict]) -> str:
    """The per-matrix table of ``factor_model`` and the fine-tuning warning."""
    lines = [f"{'node':<20} {'matrix':<7} {'shape':>11} {'blocks':>6} {'j':>5} {'k':>4} {'compr':>7} {'rel error':>10}"]
    for r in rows:
        shape = f"{r['shape'][0]}x{r['shape'][1]}"
        lines.append(
            f"{r['node']:<20} {r['matrix']:<7} {shape:>11} {r['blocks']:>6} {r['j']:>5} {r['k']:>4} "
            f"{r['compression']:>7.2f} {r['rel_error']:>10.4f}"
        )
    if rows and any(r["blocks"] > 1 for r in rows):
        lines.append("(j and k are per gate block; rel error is ||W - [A' ; B·C]||_F / ||W||_F)")
    elif rows:
        lines.append("(rel error is ||W - [A' ; B·C]||_F / ||W||_F)")
    lines.append(f"warning: {FINE_TUNE_WARNING}")
    return "\n".join(lines)
