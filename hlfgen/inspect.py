"""`hlfgen inspect`: how each weight matrix is stored, and what it saves.

Recurrent layers (W and R per direction) and linear nodes (the constant
matrix of a MatMul/Gemm: classifier, attention projection, LSTMCell Gemm).
Per matrix: the structure as read from the graph (dense, HLF with j and k,
LMF with its rank, or folded-dense when a dense initializer has the low rank
of multiplied-out factors), its parameters, compression (Eq. 4), maximum rank
and operation reduction (Eq. 5, counted for Algorithm 1 as compiled).
"""

from __future__ import annotations

import numpy as np

from . import hlf
from .ir import GATES, Dense, FactoredMatrix, LowRank, Node
from .reader import read_model

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def numerical_rank(a: np.ndarray) -> int:
    """Rank with a float32 tolerance (factors multiplied in float32 leave ~eps noise)."""
    if a.size == 0:
        return 0
    s = np.linalg.svd(a.astype(np.float64), compute_uv=False)
    return int((s > s.max() * max(a.shape) * FLOAT32_EPS * 4).sum()) if s.max() > 0 else 0


def describe_matrix(mat: FactoredMatrix, gates: int) -> dict:
    m, n = mat.rows, mat.cols
    dense_rows = sum(s.rows for s in mat.segments if isinstance(s, Dense))
    low = [(s.rows, s.c_key, s.rank) for s in mat.segments if isinstance(s, LowRank)]
    params, ops = hlf.segment_counts(n, dense_rows, low)  # Eq. 4 / Eq. 5 denominators
    ks = list({key: k for _, key, k in low}.values())
    if not ks:
        block = m // gates if gates and m % gates == 0 else m
        ranks = [numerical_rank(mat.dense()[g * block : (g + 1) * block]) for g in range(m // block)]
        folded = any(r < min(block, n) for r in ranks)
        structure = f"folded-dense (gate ranks {'/'.join(map(str, ranks))})" if folded else "dense"
        max_rank = min(m, n, sum(ranks)) if folded else min(m, n)
    elif dense_rows == 0 and len(ks) == 1:
        structure = f"LMF rank {ks[0]}"
        max_rank = min(m, n, ks[0])
    elif len(ks) == 1:
        structure = f"HLF j={dense_rows} k={ks[0]}"
        max_rank = min(m, n, dense_rows + ks[0])
    else:
        kind = "HLF" if dense_rows else "LMF"
        structure = f"{kind} {len(ks)} blocks, j={dense_rows} k={'+'.join(map(str, ks))}"
        max_rank = min(m, n, dense_rows + sum(ks))
    return {
        "shape": [m, n],
        "structure": structure,
        "params": params,
        "compression": m * n / params if params else float("inf"),
        "max_rank": max_rank,
        "ops": ops,
        "op_reduction": m * n / ops if ops else float("inf"),
    }


def inspect_model(path) -> dict:
    model = read_model(path, max_seq_len=1)
    layers = []
    tot_params = tot_dense = 0
    for layer in model.layers:
        mats = []
        for d in range(layer.num_directions):
            for what, mat in (("W", layer.W[d]), ("R", layer.R[d])):
                info = describe_matrix(mat, layer.gates)
                info["name"] = f"{what}[{d}]"
                mats.append(info)
                tot_params += info["params"]
                tot_dense += mat.rows * mat.cols
        layers.append(
            {
                "node": layer.node,
                "kind": layer.kind.upper(),
                "direction": layer.direction,
                "input_size": layer.input_size,
                "hidden_size": layer.hidden,
                "gates": GATES[layer.kind],
                "matrices": mats,
            }
        )
    linears = []
    for op in model.ops:
        if isinstance(op, Node) and op.op == "linear":
            w = op.packed["w"]
            mat = w if isinstance(w, FactoredMatrix) else FactoredMatrix([Dense(w)], int(w.shape[1]))
            info = describe_matrix(mat, 1)
            info["name"] = "W"
            tot_params += info["params"]
            tot_dense += mat.rows * mat.cols
            linears.append({"node": op.node, "op": op.attrs["onnx_op"], "matrices": [info]})
    return {
        "model": str(path),
        "layers": layers,
        "linears": linears,
        "total": {
            "params": tot_params,
            "dense_params": tot_dense,
            "compression": tot_dense / tot_params if tot_params else float("inf"),
            "op_reduction": tot_dense / tot_params if tot_params else float("inf"),
        },
    }


def weight_storage(path, target: str = "host") -> dict:
    """The fp32 build's weight bytes (NAME_WEIGHT_BYTES of the generated header) next to Eq. 4's
    figure: 4 bytes per parameter of the recurrent matrices plus the other stored floats (biases,
    peepholes) exactly as the build stores them."""
    from .lower import lower
    from .pack import panel_rows

    prog = lower(read_model(path, max_seq_len=1), panel_rows(target), target=target)
    params = sum(
        describe_matrix(mat, layer.gates)["params"]
        for layer in prog.model.layers
        for mats in (layer.W, layer.R)
        for mat in mats
    )
    matrix_bytes = sum(m["bytes"] for m in prog.matrices)
    eq4 = 4 * params + (prog.weight_bytes - matrix_bytes)
    return {
        "target": target,
        "weight_bytes": prog.weight_bytes,
        "eq4_bytes": eq4,
        "ratio": prog.weight_bytes / eq4 if eq4 else 1.0,
    }


def format_inspection(info: dict) -> str:
    lines = []
    for i, layer in enumerate(info["layers"]):
        lines.append(
            f"layer {i}: {layer['kind']} '{layer['node']}', {layer['direction']}, "
            f"input {layer['input_size']}, hidden {layer['hidden_size']}, gates {layer['gates']}"
        )
        lines.append(
            f"  {'matrix':<7} {'shape':>11}  {'structure':<36} {'params':>9} {'compr':>7} {'max rank':>8} {'op red':>7}"
        )
        for m in layer["matrices"]:
            shape = f"{m['shape'][0]}x{m['shape'][1]}"
            lines.append(
                f"  {m['name']:<7} {shape:>11}  {m['structure']:<36} {m['params']:>9} "
                f"{m['compression']:>7.2f} {m['max_rank']:>8} {m['op_reduction']:>7.2f}"
            )
    for lin in info.get("linears", []):
        m = lin["matrices"][0]
        shape = f"{m['shape'][0]}x{m['shape'][1]}"
        lines.append(
            f"{lin['op']} '{lin['node']}': W {shape}, {m['structure']}, params {m['params']}, "
            f"compression {m['compression']:.2f}, max rank {m['max_rank']}, op reduction {m['op_reduction']:.2f}"
        )
    t = info["total"]
    lines.append(
        f"total: {t['params']} parameters for {t['dense_params']} dense: "
        f"compression {t['compression']:.2f} (Eq. 4), operation reduction {t['op_reduction']:.2f} (Eq. 5)"
    )
    if "storage_fp32" in info:
        w = info["storage_fp32"]
        lines.append(
            f"weights: {w['weight_bytes']} bytes packed (NAME_WEIGHT_BYTES, --target {w['target']}); "
            f"Eq. 4 x 4 bytes + biases: {w['eq4_bytes']} ({w['ratio']:.3f}x)"
        )
    return "\n".join(lines)


def storage(path, quantize: str, target: str = "host") -> dict:
    """How a build with --quantize stores each packed weight matrix (the kernels' panels): dtype and bytes."""
    from .lower import lower
    from .pack import panel_rows

    prog = lower(read_model(path, max_seq_len=1), panel_rows(target), target=target, quantize=quantize)
    mats = [{k: m[k] for k in ("symbol", "shape", "dtype", "bytes", "comment")} for m in prog.matrices]
    return {
        "quantize": quantize,
        "target": target,
        "matrices": mats,
        "matrix_bytes": sum(m["bytes"] for m in mats),
        "weight_bytes": prog.weight_bytes,
    }


def format_storage(st: dict) -> str:
    lines = [
        f"storage (--quantize {st['quantize']}, --target {st['target']}; int8 bytes include the row scales):",
        f"  {'matrix':<14} {'shape':>11} {'dtype':>8} {'bytes':>9}  what",
    ]
    for m in st["matrices"]:
        shape = f"{m['shape'][0]}x{m['shape'][1]}"
        lines.append(f"  {m['symbol']:<14} {shape:>11} {m['dtype']:>8} {m['bytes']:>9}  {m['comment']}")
    lines.append(
        f"  matrices {st['matrix_bytes']} bytes; all weights (with biases, peepholes, sparse indices) "
        f"{st['weight_bytes']} bytes"
    )
    return "\n".join(lines)
