"""Lowering: IR -> what the templates print.

Two jobs:
  * Algorithm 1.  Every product of a weight matrix (a list of row segments)
    with a vector becomes kernel calls: a dense segment is one GEMV ``A'·x``
    (line 1); low-rank segments sharing C get one ``t = C·x`` (line 2) and
    then one ``B·t`` each (line 3).  B·C is never formed.
  * The memory plan.  Runtime tensors get offsets in one static arena, reused
    when lifetimes do not overlap; graph inputs and outputs use the caller's
    buffers; per-layer scratch is one region shared by all layers.

This module drives both (lower(): recurrent layers, nodes); the kernel calls of
Algorithm 1 are made in alg1.py, the arena in memplan.py, and what they produce
is defined in program.py.
"""

from __future__ import annotations

import numpy as np

from . import dims as D
from . import pack, quant, sparse
from .alg1 import _MatLowering
from .config import LINEAR_CHUNK_ROWS  # rows per pass of t = C·x
from .errors import HlfgenError
from .ir import FactoredMatrix, Model, Node, RecurrentLayer
from .memplan import _plan_memory
from .ops import batchnorm, stream
from .program import (  # noqa: F401  (re-exported: the program's types are imported from here)
    Direction,
    IndexArray,
    LayerCode,
    MatCall,
    MatPlan,
    Program,
    TensorStorage,
    WeightArray,
    _align,
    add_matrix,
    max_elems,
    work_bytes,
)

_SPARSE_MODES = sparse.MODES  # lower()'s parameter `sparse` shadows the module


# Time steps whose input projection (X·W^T of Algorithm 1, all gates) is computed at once: W is
# streamed once per chunk and the projection buffer holds one chunk, so the working memory does not
# grow with the sequence length (onnxruntime's DynamicQuantizeLSTM quantizes all of X with one scale:
# those layers project the whole sequence at once).
PROJ_CHUNK = 16


def _lower_layer(prog: Program, idx: int, layer: RecurrentLayer) -> LayerCode:
    H, G, B = layer.hidden, layer.gates, layer.batch
    GH = G * H
    if not isinstance(B, int):
        raise HlfgenError(
            f"the batch axis of X has the run-time extent {B}; recurrent layers need a static batch (--dim or --batch)",
            layer.node,
            layer.kind.upper(),
        )
    T = max(1, D.dmax(layer.seq, prog.model.max_dims))
    chunk = T if layer.qweights is not None else min(T, PROJ_CHUNK)
    dirs = []
    proj_rank = rec_rank = max_dense = 0
    qneed: dict[str, int] = {}  # int8: quantized-input buffers (_MatLowering.quantize_input)
    for d in range(layer.num_directions):
        pre = f"l{idx}_d{d}"
        lw = _MatLowering(prog, f"{pre}_W")
        lw.nvec = chunk * B  # the projection runs on one chunk of steps at a time
        lr = _MatLowering(prog, f"{pre}_R")
        if layer.qweights is not None:  # the model's own int8 weights (onnxruntime DynamicQuantizeLSTM)
            from .qlower import ort_dynamic

            proj, rec = ort_dynamic(lw, lr, layer, d, chunk * B)
        else:
            # one chunk of steps (templates/ops/recurrent.c.j2): xc -> xwc
            proj = lw.plan(layer.W[d], [(0, GH, "xwc")], "xc", "cxall", gemm=True, ld_src=layer.input_size, ld_dst=GH)
            if layer.kind == "gru" and not layer.linear_before_reset:
                rec = [
                    lr.plan(layer.R[d], [(0, 2 * H, "g")], "h", "cx", gemm=False),
                    lr.plan(layer.R[d], [(2 * H, 3 * H, "g + 2 * H")], "rh", "cx", gemm=False),
                ]
            elif layer.kind == "gru":
                rec = [lr.plan(layer.R[d], [(0, 2 * H, "g"), (2 * H, 3 * H, "hh")], "h", "cx", gemm=False)]
            else:
                rec = [lr.plan(layer.R[d], [(0, GH, "g")], "h", "cx", gemm=False)]
        proj_rank = max(proj_rank, lw.max_rank)
        rec_rank = max(rec_rank, lr.max_rank)
        max_dense = max(max_dense, lr.max_dense)
        for k, v in list(lw.qneed.items()) + list(lr.qneed.items()):
            qneed[k] = max(qneed.get(k, 0), v)

        proj_bias = rbh = peep = None
        if layer.bias is not None:
            wb, rb = layer.bias[d, :GH], layer.bias[d, GH:].copy()
            fold = rb.copy()
            if layer.kind == "gru" and layer.linear_before_reset:
                rbh_vals = rb[2 * H :].copy()
                fold[2 * H :] = 0.0  # Rbh stays inside r ⊙ (R_h·h + Rbh)
                rbh = f"{pre}_Rbh"
                prog.weights.append(WeightArray(rbh, rbh_vals.astype(np.float32), "Rbh (GRU, linear_before_reset=1)"))
            proj_bias = f"{pre}_bias"
            prog.weights.append(
                WeightArray(proj_bias, (wb + fold).astype(np.float32), "Wb + Rb folded into the input projection")
            )
        if layer.peephole is not None:
            peep = f"{pre}_P"
            prog.weights.append(WeightArray(peep, layer.peephole[d].astype(np.float32), "peepholes P[iof]"))
        dirs.append(Direction(d, layer.reversed_dir(d), proj, rec, proj_bias, rbh, peep, layer.activations[d]))

    # Scratch region of this layer (offsets in floats, 64-byte aligned).
    scratch, off = {}, 0
    gru_lbr = layer.kind == "gru" and layer.linear_before_reset
    for name, size in (
        ("xw", chunk * B * GH),
        ("cxall", chunk * B * proj_rank),
        ("g", GH),
        ("cx", rec_rank),
        ("ad", max_dense),
        ("rh", H if layer.kind == "gru" and not gru_lbr else 0),
        ("hh", H if gru_lbr else 0),
        ("tmp", H if layer.kind == "lstm" else 0),
        *sorted(qneed.items()),
    ):
        if size:
            scratch[name] = off
            off += _align(size)
    nd = layer.num_directions
    code = LayerCode(
        idx, layer, dirs, f"l{idx}_h", f"l{idx}_c" if layer.kind == "lstm" else None, scratch, off, chunk, T
    )
    prog.state_floats += nd * B * H * (2 if layer.kind == "lstm" else 1)
    return code


def _lower_factored(prog: Program, node: Node, key: str, sym: str, mat: FactoredMatrix) -> None:
    """Algorithm 1 for a linear node's factored matrix, LINEAR_CHUNK_ROWS rows per pass.

    The calls (src "x", dst "y", t = C·x in "t") go to attrs['plan'][key]; the
    scratch buffers they use (t, and int8's quantized inputs) to
    attrs['scratch_vars'] as (name, float offset) in g_scratch.
    """
    ml = _MatLowering(prog, sym)
    ml.nvec = LINEAR_CHUNK_ROWS
    node.attrs.setdefault("plan", {})[key] = ml.plan(
        mat, [(0, mat.rows, "y")], "x", "t", gemm=True, ld_src=mat.cols, ld_dst=mat.rows
    )
    node.attrs["chunk_rows"] = LINEAR_CHUNK_ROWS
    off, scratch = 0, []
    for name, floats in [("t", LINEAR_CHUNK_ROWS * ml.max_rank), *sorted(ml.qneed.items())]:
        if floats:
            scratch.append((name, off))
            off += _align(floats)
    node.attrs["scratch_vars"] = scratch
    prog.node_scratch_floats = max(prog.node_scratch_floats, off)


def _lower_node(prog: Program, index: int, node: Node) -> None:
    """Weights of a non-recurrent node: static arrays named n<index>_<key> (attrs['sym'][key]).

    A packed value is a 2-D matrix (one packed array, in prog.quantize's form),
    a 3-D f32 stack (groups, m, k: each group packed, one after the other), or an ir.FactoredMatrix
    (Algorithm 1, _lower_factored).  attrs['scratch_floats'] is the node's own
    scratch (g_scratch, shared: nodes and layers run one at a time).
    """
    syms, dtypes = {}, {}
    for key, arr in node.weights.items():
        syms[key] = f"n{index}_{key}"
        prog.weights.append(WeightArray(syms[key], np.asarray(arr, np.float32).reshape(-1), f"{node.node}: {key}"))
    for key, mat in node.packed.items():
        syms[key] = f"n{index}_{key}"
        if isinstance(mat, FactoredMatrix):
            _lower_factored(prog, node, key, syms[key], mat)
            continue
        if mat.ndim == 3:  # groups (Conv, f32 GEMM): each packed on its own, stride HLF_F32_PACKED_SIZE(m, k) = m*k
            data = np.concatenate([pack.pack_panels(g, prog.nr) for g in mat])
            prog.weights.append(
                WeightArray(
                    syms[key],
                    data,
                    f"{node.node}: {key} ({mat.shape[0]} groups of {mat.shape[1]}x{mat.shape[2]}, packed)",
                )
            )
            continue
        dtypes[key] = add_matrix(prog, syms[key], mat, f"{node.node}: {key} ({mat.shape[0]}x{mat.shape[1]}, packed)")
    node.attrs["sym"] = syms
    prog.node_scratch_floats = max(prog.node_scratch_floats, int(node.attrs.get("scratch_floats", 0)))
    kernel = {"float32": "f32", "float16": "f16", "int8": "qs8"}[dtypes.get("w", "float32")]
    node.attrs["kernel"] = kernel
    if kernel == "qs8" and "k" in node.attrs and "rows" in node.attrs and "plan" not in node.attrs:
        # The int8 input rows live in the layer scratch (free between layers): bytes, then the scales.
        rows, ldq = max_elems([node.attrs["rows"]], prog.model.max_dims), quant.qs8_padded(node.attrs["k"])
        qfloats = _align(-(-rows * ldq // 4))
        node.attrs["q8"] = {"ldq": ldq, "scales": qfloats}
        prog.node_scratch_floats = max(prog.node_scratch_floats, qfloats + rows)


def lower(
    model: Model, nr: int = pack.NR, *, sparse: str = "auto", target: str = "host", quantize: str = "none"
) -> Program:
    """Lower for kernels that take weights in panels of nr rows (pack.panel_rows(target)).

    sparse: hlfgen.sparse.MODES, which mostly-zero dense segments use the sparse
    kernels; target picks the cost model ("host" or an AArch64 target).
    quantize: auto or hlfgen.quant.MODES, how the streamed weight matrices are stored (fp32, fp16,
    int8; quant.resolve); auto and int8 keep DequantizeLinear weights as the file's int8 (quant.keeps_qdq).
    """
    if sparse not in _SPARSE_MODES:
        raise HlfgenError(f"unknown --sparse mode '{sparse}' (choose from {', '.join(_SPARSE_MODES)})")
    prog = Program(model, nr=nr, target=target, sparse=sparse, quantize=quant.resolve(quantize, model.fp16_weights))
    prog.qdq = model.qdq if quant.keeps_qdq(quantize) else None
    seq = model.seq_symbol
    if seq is None or not model.seq_only or any(la.seq != D.sym(seq) for la in model.layers):
        prog.can_stream = False  # NAME_step() steps through the one run-time dimension T
    batchnorm.fold_into_conv(model)  # BatchNormalization after a Conv: into its weights
    stream.mark(model)  # nodes mixing a summary of the sequence (Y_h, y[-1]) with per-step data
    for s, op in enumerate(model.ops):
        if isinstance(op, RecurrentLayer):
            code = _lower_layer(prog, len(prog.layers), op)
            prog.layers.append(code)
            prog.steps.append(("layer", code))
            runtime_init = [
                n
                for n in (op.initial_h, op.initial_c)
                if n and n not in model.constants and n not in {t.name for t in model.inputs}
            ]
            if op.direction != "forward" or runtime_init:
                prog.can_stream = False
        elif isinstance(op, Node):
            _lower_node(prog, s, op)
            if op.attrs.get("no_stream"):  # e.g. reduces over time steps
                prog.can_stream = False
            prog.steps.append(("node", op))
        else:  # pragma: no cover - the reader only makes the ops above
            raise HlfgenError(f"internal: no lowering for {type(op).__name__}")
    prog.scratch_floats = max([lc.scratch_floats for lc in prog.layers] + [prog.node_scratch_floats])
    prog.weight_bytes = sum(w.data.nbytes for w in prog.weights) + sum(a.data.nbytes for a in prog.index_arrays)
    _plan_memory(prog)
    return prog
