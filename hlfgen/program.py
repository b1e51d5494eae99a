"""The lowered program: what lowering produces and the templates print (hlfgen/lower.py makes it).

Weight arrays (packed for the target's kernels, quantized per --quantize), the
kernel calls of Algorithm 1 (MatCall, MatPlan), each recurrent layer's code
(LayerCode), where every runtime tensor lives (TensorStorage), and Program,
which holds them all.  Sizes: work_bytes, max_elems.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dims as D
from . import pack, quant
from .config import ALIGN_FLOATS
from .ir import Model, RecurrentLayer
from .qdq import Table as QdqTable


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
    qdq: QdqTable | None = None  # DequantizeLinear weights kept as the file's int8 (quant.keeps_qdq)
    notes: list[str] = field(default_factory=list)  # what the lowering chose (printed by `hlfgen build`)

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
    A matrix whose rows are all DequantizeLinear outputs (prog.qdq, hlfgen/qdq.py) is stored int8 with
    the file's integers and scales when that is smaller than fp32 (quant.int8_beats_fp32); one that
    cannot be (hlfgen/qdq.py's reasons) gets a note.
    Returns the weight dtype.
    """
    mode = "given" if given is not None else prog.quantize
    found = prog.qdq.lookup(data) if given is None and prog.qdq is not None else None
    if isinstance(found, str):
        then = "re-quantized per row" if prog.quantize == "int8" else f"stored {quant.KERNEL[prog.quantize]}"
        prog.notes.append(f"{sym} ({comment}): {then}, not the file's int8: {found}")
    elif found is not None and quant.int8_beats_fp32(data.shape[1]):
        mode, given = "file", found
        comment += " [the file's DequantizeLinear integers and scales]"
    if mode == "int8" and not quant.int8_pays(data.shape[1]):
        mode = "fp16"
    if mode == "fp16":
        arrays = [WeightArray(sym, quant.pack_f16(data, prog.nr), comment + " [fp16]", "float16")]
    elif mode in ("int8", "file"):
        q, scale = given if given is not None else quant.quantize_rows(data)
        arrays = [
            WeightArray(sym, quant.pack_qs8(q, prog.nr), comment + " [int8, 16-column cells]", "int8"),
            WeightArray(f"{sym}_s", quant.pad_scales(scale, prog.nr), f"row scales of {sym}"),
        ]
    elif mode == "given":
        assert given is not None  # mode "given" means the model's own int8 rows and scales
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
            # DequantizeLinear rows: "int8" stored as the file's, "refused" not representable (a note), else ""
            "qdq": "int8" if mode == "file" else ("refused" if isinstance(found, str) else ""),
        }
    )
    return arrays[0].dtype
