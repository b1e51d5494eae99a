"""Lowering: IR -> what the templates print.

Two jobs:
  * Algorithm 1.  Every product of a weight matrix (a list of row segments)
    with a vector becomes kernel calls: a dense segment is one GEMV ``A'·x``
    (line 1); low-rank segments sharing C get one ``t = C·x`` (line 2) and
    then one ``B·t`` each (line 3).  B·C is never formed.
  * The memory plan.  Runtime tensors get offsets in one static arena, reused
    when lifetimes do not overlap; graph inputs and outputs use the caller's
    buffers; per-layer scratch is one region shared by all layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dims as D
from . import pack, quant, sparse
from .ops import batchnorm, stream
from .ir import Dense, FactoredMatrix, Model, Node, RecurrentLayer
from .errors import HlfgenError

from .config import ALIGN_FLOATS, LINEAR_CHUNK_ROWS  # 64-byte alignment of arena regions; rows per pass of t = C·x

_SPARSE_MODES = sparse.MODES  # lower()'s parameter `sparse` shadows the module


@dataclass
class WeightArray:
    symbol: str
    data: np.ndarray  # 1-D float32, packed or plain; uint16 (fp16 bits) or int8 when quantized
    comment: str
    dtype: str = "float32"  # quant.CTYPE key: float32 | float16 | int8

    @property
    def ctype(self) -> str:
        return quant.CTYPE[self.dtype]


@dataclass
class IndexArray:
    symbol: str
    ctype: str  # "uint32_t" | "uint16_t"
    data: np.ndarray
    comment: str


@dataclass
class MatCall:
    """One kernel call, y[0:m] += A·x, for one vector (gemv) or all (gemm)."""

    weight: str
    m: int
    n: int
    src: str  # C expression: the input vector (gemv) or matrix (gemm)
    dst: str  # C expression: where rows land
    comment: str
    zero_dst: int = 0  # floats to zero at dst first (a fresh t = C·x)
    ldx: int = 0  # gemm: leading dimension of src
    ldy: int = 0  # gemm: leading dimension of dst
    kind: str = "matvec"  # "matvec", "add" (dst[0:m] += src[0:m]), "csr" or "bcsr" (runtime/hlf_sparse.h)
    ptr: str = ""  # csr/bcsr: row_ptr / block_ptr symbol (weight: the values)
    idx: str = ""  # csr/bcsr: col_idx / block_col symbol
    br: int = 0  # bcsr: block rows
    dtype: str = "f32"  # matvec: kernel dtype (quant.KERNEL): f32, f16 or qs8 (hlf_qkernels.h)
    scale: str = ""  # qs8: the row scales' symbol; quant: the scales' buffer
    xs: str = ""  # qs8: the input's scale(s) (from a "quant" call)


@dataclass
class MatPlan:
    """All calls for one matrix-vector product (or for all vectors, as GEMM)."""

    calls: list[MatCall]
    ops: int  # multiply-accumulates per vector (Eq. 5's denominator)


@dataclass
class Direction:
    index: int
    reverse: bool
    proj: MatPlan  # input projection, over all time steps (GEMM)
    rec: list[MatPlan]  # recurrent products; GRU with linear_before_reset=0 has two
    proj_bias: str | None  # symbol: Wb (+ Rb where it can be folded), gates*hidden
    rbh: str | None  # GRU linear_before_reset=1: Rbh, added inside r ⊙ (...)
    peephole: str | None
    acts: list  # ir.Activation per f, g, h


@dataclass
class LayerCode:
    index: int
    layer: RecurrentLayer
    dirs: list[Direction]
    state_h: str
    state_c: str | None
    scratch: dict[str, int]  # name -> offset (floats) in the scratch region
    scratch_floats: int
    chunk: int = 1  # time steps per input-projection chunk (PROJ_CHUNK or fewer)
    max_t: int = 1  # the most time steps of one run (the sequence axis' maximum)


@dataclass
class TensorStorage:
    name: str
    c_name: str
    kind: str  # "input" | "output" | "arena" | "const"
    index: int = -1  # graph input/output index
    offset: int = 0  # arena offset (floats)
    dtype: str = "float32"
    dims: tuple = ()


@dataclass
class Program:
    model: Model
    nr: int = pack.NR  # rows per packed weight panel (HLF_NR of the kernels)
    weights: list[WeightArray] = field(default_factory=list)
    layers: list[LayerCode] = field(default_factory=list)
    steps: list = field(default_factory=list)  # ("layer", LayerCode) | ("transpose", op) | ("copy", op)
    storage: dict[str, TensorStorage] = field(default_factory=dict)
    arena_floats: int = 0
    scratch_floats: int = 0
    state_floats: int = 0
    weight_bytes: int = 0
    can_stream: bool = True

    @property
    def counts_steps(self) -> bool:
        """NAME_step with sequence_lens: the instance counts the steps since the last reset."""
        return self.can_stream and any(lc.layer.seq_lens for lc in self.layers)

    const_arrays: list = field(default_factory=list)  # (symbol, dtype, values)
    buffers: list = field(default_factory=list)  # (c_name, dtype, elements): static buffers of non-float tensors
    target: str = "host"
    sparse: str = "auto"  # sparse.MODES: which dense segments use runtime/hlf_sparse.h
    index_arrays: list[IndexArray] = field(default_factory=list)  # sparse kernels' row pointers / column indices
    sparse_choices: list[dict] = field(default_factory=list)  # per dense segment looked at: shape, zeros, kernel, costs
    quantize: str = "none"  # quant.MODES: how the streamed weight matrices are stored
    matrices: list[dict] = field(default_factory=list)  # per packed matrix: symbol, shape, dtype, bytes (inspect)
    node_scratch_floats: int = 0  # int8: scratch the linear nodes' quantized inputs need

    @property
    def uses_sparse(self) -> bool:
        return bool(self.index_arrays)


def work_bytes(prog: "Program") -> int:
    """Static working memory: recurrent state, tensor arena, layer scratch, integer buffers."""
    ints = sum(elems * (8 if dtype == "int64" else 4) for _, dtype, elems in prog.buffers)
    return 4 * (prog.arena_floats + prog.scratch_floats + prog.state_floats) + ints


def _align(n: int) -> int:
    return -(-n // ALIGN_FLOATS) * ALIGN_FLOATS


def max_elems(shape, bounds: dict) -> int:
    """Elements of a tensor at the run-time dimensions' maxima (bounds: symbol -> max)."""
    return max(0, D.dmax(D.prod(shape), bounds))


def add_matrix(prog: Program, sym: str, data: np.ndarray, comment: str, given: tuple | None = None) -> str:
    """A matrix the kernels stream, packed for prog.nr-row panels in prog.quantize's form (hlfgen/quant.py).

    int8 adds the row scales as ``<sym>_s``; a matrix too narrow for int8 to pay (quant.int8_pays:
    the 16-column cells and row scales would exceed fp16's bytes, e.g. a rank-1 B) is stored fp16.
    given: (int8 rows, row scales) the model itself quantized (hlfgen/qlower.py): stored as they are, int8,
    with ``<sym>_c``, each row's scale times the sum of its weights (the zero point's term).
    Returns the weight dtype.
    """
    mode = "given" if given is not None else prog.quantize
    if mode == "int8" and not quant.int8_pays(data.shape[1]):
        mode = "fp16"
    if mode == "fp16":
        arrays = [WeightArray(sym, quant.pack_f16(data, prog.nr), comment + " [fp16]", "float16")]
    elif mode == "int8":
        q, scale = quant.quantize_rows(data)
        arrays = [
            WeightArray(sym, quant.pack_qs8(q, prog.nr), comment + " [int8, 16-column cells]", "int8"),
            WeightArray(f"{sym}_s", quant.pad_scales(scale, prog.nr), f"row scales of {sym}"),
        ]
    elif mode == "given":
        q, scale = given
        arrays = [
            WeightArray(sym, quant.pack_qs8(q, prog.nr), comment + " [int8, 16-column cells]", "int8"),
            WeightArray(f"{sym}_s", quant.pad_scales(scale, prog.nr), f"row scales of {sym}"),
            WeightArray(
                f"{sym}_c", (scale * q.astype(np.int64).sum(axis=1)).astype(np.float32), f"row scale x row sum of {sym}"
            ),
        ]
    else:
        arrays = [WeightArray(sym, pack.pack_panels(data, prog.nr), comment)]
    prog.weights.extend(arrays)
    prog.matrices.append(
        {
            "symbol": sym,
            "shape": [int(data.shape[0]), int(data.shape[1])],
            "comment": comment,
            "dtype": arrays[0].dtype,
            "bytes": int(sum(a.data.nbytes for a in arrays)),
        }
    )
    return arrays[0].dtype


# ------------------------------------------------------------------ Algorithm 1
class _MatLowering:
    """Algorithm 1 for the matrices of one layer direction (W or R)."""

    def __init__(self, prog: Program, prefix: str):
        self.prog = prog
        self.prefix = prefix
        self.count = 0
        self.max_rank = 0  # largest stacked C (floats of t per vector)
        self.max_dense = 0  # largest stacked A' (floats of the dense temporary)
        self.nvec = 1  # vectors per call (GEMM: T * batch), for the int8 input buffers
        self.qneed: dict[str, int] = {}  # int8 mode: scratch floats of each quantized-input buffer
        self.dtypes: dict[str, str] = {}  # weight symbol -> its dtype (add_matrix)

    def quantize_input(self, calls: list, src: str, n: int, ld: int, gemm: bool, name: str) -> tuple[str, str, int]:
        """int8: a call quantizing src (n floats per vector, leading dimension ld) into scratch buffer name.

        Returns the int8 buffer's C expression, its scales' name and its leading dimension; the
        buffer has 16 bytes of slack so a B·t reading t + offset stays inside (hlf_qkernels.h).
        """
        ldq = quant.qs8_padded(n) + quant.QS8_KC
        nv = self.nvec if gemm else 1
        for buf, floats in ((name, -(-nv * ldq // 4)), (f"{name}s", nv)):
            self.qneed[buf] = max(self.qneed.get(buf, 0), floats)
        buf = f"(int8_t *){name}"
        calls.append(
            MatCall(
                "",
                n,
                n,
                src,
                buf,
                f"int8: quantize {src} per vector (scale max|v| / 127)",
                ldx=ld,
                ldy=ldq,
                kind="quant",
                scale=f"{name}s",
            )
        )
        return buf, f"{name}s", ldq

    def matvec(self, w: str, m: int, n: int, src: str, dst: str, comment: str, q, **kw) -> MatCall:
        """A dense kernel call in w's dtype; q() gives (int8 buffer, scales, ldq) of src, quantizing it on first use."""
        kd = {"float32": "f32", "float16": "f16", "int8": "qs8"}[self.dtypes[w]]
        if kd != "qs8":
            return MatCall(w, m, n, src, dst, comment, dtype=kd, **kw)
        buf, scales, ldq = q()
        off = src.split(" + ", 1)[1] if " + " in src else ""
        kw["ldx"] = ldq
        return MatCall(
            w, m, n, f"{buf} + {off}" if off else buf, dst, comment, dtype=kd, scale=f"{w}_s", xs=scales, **kw
        )

    def weight(self, data: np.ndarray, what: str, comment: str) -> str:
        sym = f"{self.prefix}_{what}{self.count}"
        self.count += 1
        self.dtypes[sym] = add_matrix(self.prog, sym, data, comment)
        return sym

    def sparse_call(
        self, seg: Dense, pos: int, n: int, src: str, dst: str, *, gemm: bool, ld_src: int, ld_dst: int
    ) -> tuple[MatCall | None, int] | None:
        """The sparse kernel call for a dense segment, or None when it stays dense (sparse.choose).

        Returns (call, multiply-adds per vector); call is None for an all-zero segment (nothing to add).
        """
        ch = sparse.choose(seg.data, self.prog.sparse, nr=self.prog.nr, target=self.prog.target, gemm=gemm)
        zf = sparse.zero_fraction(seg.data)
        if ch.costs is not None or zf > 0:
            self.prog.sparse_choices.append(
                {
                    "rows": f"{self.prefix} {pos}..{pos + seg.rows - 1}",
                    "shape": [seg.rows, n],
                    "zero_fraction": zf,
                    "gemm": gemm,
                    "kernel": ch.kind + (str(ch.br) if ch.br else ""),
                    "costs": ch.costs,
                }
            )
        if ch.kind == "dense":
            return None
        base = f"{self.prefix}_S{self.count}"
        self.count += 1
        rows = f"rows {pos}..{pos + seg.rows - 1} ({seg.rows}x{n}, {100 * zf:.1f}% zeros)"
        if ch.kind == "csr":
            s = sparse.pack_csr(seg.data)
            ptr, idx, vals, what = s.row_ptr, s.col_idx, s.values, f"CSR, {s.nnz} nonzeros"
            ops = s.nnz
        else:
            s = sparse.pack_bcsr(seg.data, ch.br)
            ptr, idx, vals, what = s.block_ptr, s.block_col, s.values, f"BCSR {ch.br}x1, {s.blocks} blocks"
            ops = s.blocks * ch.br
        if not s.values.size:
            return None, 0
        self.prog.weights.append(WeightArray(base, vals, f"A' {rows}: {what}, values"))
        self.prog.index_arrays.append(
            IndexArray(
                f"{base}_ptr",
                "uint32_t",
                ptr,
                f"A' {rows}: {what}, " + ("row pointers" if ch.kind == "csr" else "block-row pointers"),
            )
        )
        self.prog.index_arrays.append(
            IndexArray(
                f"{base}_col",
                "uint16_t",
                idx,
                f"A' {rows}: {what}, " + ("column of each nonzero" if ch.kind == "csr" else "column of each block"),
            )
        )
        call = MatCall(
            base,
            seg.rows,
            n,
            src,
            dst,
            f"Algorithm 1 line 1: O[{pos}:{pos + seg.rows}] = A'·x (sparse {what}, {seg.rows}x{n})",
            ldx=ld_src,
            ldy=ld_dst,
            kind=ch.kind,
            ptr=f"{base}_ptr",
            idx=f"{base}_col",
            br=ch.br,
        )
        return call, ops

    def plan(
        self,
        mat: FactoredMatrix,
        targets: list[tuple[int, int, str]],
        src: str,
        tmp: str,
        *,
        gemm: bool,
        ld_src: int = 0,
        ld_dst: int = 0,
    ) -> MatPlan:
        """Calls computing rows [a, b) of mat times src into dst, for each target (a, b, dst).

        Products that share the input are fused: all C blocks are stacked
        into one matrix (one GEMV gives t for every low-rank segment), and for
        a GEMV several dense blocks are stacked into one, computed into the
        temporary "ad" and added to their rows.  ``tmp`` holds t = C·x.  With
        gemm=True, src/dst/tmp are row-major matrices (leading dimensions
        ld_src, ld_dst; tmp's is the stacked rank).
        """
        n = mat.cols
        dense, lowrank = [], []
        for a, b, dst in targets:
            pos = a
            for seg in mat.row_range(a, b).segments:
                d = f"{dst} + {pos - a}" if pos != a else dst
                (dense if isinstance(seg, Dense) else lowrank).append((seg, pos, d))
                pos += seg.rows
        calls: list[MatCall] = []
        ops = 0

        # Algorithm 1 line 1, sparse: a dense segment that is mostly zeros (a
        # pruned matrix) may go to a sparse kernel (hlfgen/sparse.py decides).
        kept = []
        for seg, pos, d in dense:
            sp = self.sparse_call(seg, pos, n, src, d, gemm=gemm, ld_src=ld_src, ld_dst=ld_dst)
            if sp is None:
                kept.append((seg, pos, d))
                continue
            call, nmac = sp
            if call is not None:
                calls.append(call)
            ops += nmac
        dense = kept

        # int8: the input of this product quantized once, before the first int8 call reading it
        cache: dict[str, tuple] = {}

        def quantized(vec: str, width: int, ld: int, name: str):
            def get():
                if name not in cache:
                    cache[name] = self.quantize_input(calls, vec, width, ld, gemm, name)
                return cache[name]

            return get

        qsrc = quantized(src, n, ld_src or n, "qx" if gemm else "qh")

        # Algorithm 1 line 1: O[dense rows] = A'·x
        if gemm or len(dense) <= 1:
            for seg, pos, d in dense:
                w = self.weight(seg.data, "A", f"A' rows {pos}..{pos + seg.rows - 1}: dense, {seg.rows}x{n}")
                calls.append(
                    self.matvec(
                        w,
                        seg.rows,
                        n,
                        src,
                        d,
                        f"Algorithm 1 line 1: O[{pos}:{pos + seg.rows}] = A'·x (dense {seg.rows}x{n})",
                        qsrc,
                        ldx=ld_src,
                        ldy=ld_dst,
                    )
                )
        else:
            total = sum(seg.rows for seg, _, _ in dense)
            self.max_dense = max(self.max_dense, total)
            w = self.weight(
                np.concatenate([seg.data for seg, _, _ in dense]),
                "A",
                f"A' of {len(dense)} blocks stacked ({total}x{n}): "
                + ", ".join(f"rows {pos}..{pos + seg.rows - 1}" for seg, pos, _ in dense),
            )
            calls.append(
                self.matvec(
                    w,
                    total,
                    n,
                    src,
                    "ad",
                    f"Algorithm 1 line 1: A'·x of all {len(dense)} dense blocks at once ({total}x{n})",
                    qsrc,
                    zero_dst=total,
                )
            )
            off = 0
            for seg, pos, d in dense:
                calls.append(
                    MatCall(
                        "",
                        seg.rows,
                        0,
                        f"ad + {off}" if off else "ad",
                        d,
                        f"O[{pos}:{pos + seg.rows}] += its rows of A'·x",
                        kind="add",
                    )
                )
                off += seg.rows
        ops += sum(seg.rows for seg, _, _ in dense) * n

        # Algorithm 1 line 2: t = C·x, every distinct C stacked into one matrix
        offsets: dict[str, int] = {}
        blocks = []
        for seg, _, _ in lowrank:
            if seg.c_key not in offsets:
                offsets[seg.c_key] = sum(b.shape[0] for b in blocks)
                blocks.append(seg.C)
        if blocks:
            K = sum(b.shape[0] for b in blocks)
            self.max_rank = max(self.max_rank, K)
            wc = self.weight(
                np.concatenate(blocks),
                "C",
                f"C of {len(blocks)} low-rank block(s) stacked ({K}x{n}), ranks "
                + "+".join(str(b.shape[0]) for b in blocks),
            )
            calls.append(
                self.matvec(
                    wc,
                    K,
                    n,
                    src,
                    tmp,
                    f"Algorithm 1 line 2: t = C·x for {len(blocks)} C block(s) at once (rank {K})",
                    qsrc,
                    zero_dst=K,
                    ldx=ld_src,
                    ldy=K,
                )
            )
            ops += K * n
            # int8: t quantized as one vector (its own scale) for every int8 B·t
            qt = quantized(tmp, K, K, "qt" if gemm else "qc")
            # Algorithm 1 line 3: O[low-rank rows] = B·t
            for seg, pos, d in lowrank:
                off = offsets[seg.c_key]
                t = f"{tmp} + {off}" if off else tmp
                wb = self.weight(seg.B, "B", f"B of rows {pos}..{pos + seg.rows - 1} ({seg.rows}x{seg.rank})")
                calls.append(
                    self.matvec(
                        wb,
                        seg.rows,
                        seg.rank,
                        t,
                        d,
                        f"Algorithm 1 line 3: O[{pos}:{pos + seg.rows}] = B·t ({seg.rows}x{seg.rank})",
                        qt,
                        ldx=K,
                        ldy=ld_dst,
                    )
                )
                ops += seg.rows * seg.rank
        return MatPlan(calls, ops)


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


# ------------------------------------------------------------------ memory plan
def _plan_memory(prog: Program) -> None:
    model = prog.model
    T = model.max_dims
    st = prog.storage
    for i, t in enumerate(model.inputs):
        st[t.name] = TensorStorage(t.name, f"in{i}", "input", index=i, dtype=t.dtype, dims=t.shape)
    out_index = {t.name: i for i, t in enumerate(model.outputs)}
    for name, arr in model.constants.items():
        sym = f"const{len(prog.const_arrays)}"
        prog.const_arrays.append((sym, "int32_t" if arr.dtype.kind in "iu" else "float", arr.reshape(-1).tolist()))
        st[name] = TensorStorage(name, sym, "const", dtype=str(arr.dtype), dims=arr.shape)

    # Lifetimes of arena tensors: [producer step, last consumer step].
    def reads(op):
        if isinstance(op, RecurrentLayer):
            return [n for n in (op.x, op.seq_lens, op.initial_h, op.initial_c) if n]
        return op.inputs

    def writes(op):
        if isinstance(op, RecurrentLayer):
            return [n for n in (op.y, op.y_h, op.y_c) if n]
        return op.outputs

    alias: dict[str, str] = {}
    for op in model.ops:
        if isinstance(op, Node) and op.alias and op.outputs[0] not in out_index:
            alias[op.outputs[0]] = alias.get(op.inputs[0], op.inputs[0])
    life: dict[str, list[int]] = {}
    for s, op in enumerate(model.ops):
        for n in writes(op):
            root = alias.get(n, n)
            if root in st:  # a view of a graph input or constant: that storage, nothing to place
                continue
            life.setdefault(root, [s, s])
        for n in reads(op):
            root = alias.get(n, n)
            if root in life:
                life[root][1] = s
    for n in list(out_index):
        root = alias.get(n, n)
        if root in life:
            life[root][1] = len(model.ops)

    placed: list[tuple[int, int, int, int]] = []  # (offset, size, start, end)
    arena = 0
    for root, (a, b) in sorted(life.items(), key=lambda kv: kv[1][0]):
        if root in out_index:
            i = out_index[root]
            st[root] = TensorStorage(
                root, f"out{i}", "output", index=i, dtype=model.tensors[root].dtype, dims=model.tensors[root].shape
            )
            continue
        if model.tensors[root].dtype != "float32":  # the arena is float: an integer tensor has its own buffer
            c_name = f"b_{len(prog.buffers)}"  # its own counter: unique whatever else is named
            prog.buffers.append((c_name, model.tensors[root].dtype, max_elems(model.tensors[root].shape, T)))
            st[root] = TensorStorage(
                root, c_name, "buffer", dtype=model.tensors[root].dtype, dims=model.tensors[root].shape
            )
            continue
        size = _align(max_elems(model.tensors[root].shape, T))
        busy = sorted((o, o + sz) for o, sz, s0, s1 in placed if not (s1 < a or s0 > b))
        off = 0
        for lo, hi in busy:
            if off + size <= lo:
                break
            off = max(off, hi)
        placed.append((off, size, a, b))
        arena = max(arena, off + size)
        st[root] = TensorStorage(root, f"t_{len(st)}", "arena", offset=off, dims=model.tensors[root].shape)
    for n, root in alias.items():
        if root in st:
            base = st[root]
            st[n] = TensorStorage(
                n, base.c_name, base.kind, base.index, base.offset, base.dtype, model.tensors[n].shape
            )
    prog.arena_floats = arena


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
    syms = {}
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
        add_matrix(prog, syms[key], mat, f"{node.node}: {key} ({mat.shape[0]}x{mat.shape[1]}, packed)")
    node.attrs["sym"] = syms
    prog.node_scratch_floats = max(prog.node_scratch_floats, int(node.attrs.get("scratch_floats", 0)))
    node.attrs["kernel"] = quant.KERNEL[prog.quantize]
    if (
        node.packed
        and prog.quantize == "int8"
        and "k" in node.attrs
        and "rows" in node.attrs
        and "plan" not in node.attrs
    ):
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
    quantize: hlfgen.quant.MODES, how the streamed weight matrices are stored (fp32, fp16, int8).
    """
    if sparse not in _SPARSE_MODES:
        raise HlfgenError(f"unknown --sparse mode '{sparse}' (choose from {', '.join(_SPARSE_MODES)})")
    prog = Program(model, nr=nr, target=target, sparse=sparse, quantize=quant.check_mode(quantize))
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
