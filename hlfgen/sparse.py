"""Sparse weights: packing for runtime/hlf_sparse.h, and when to use it.

A dense segment (``ir.Dense``) whose entries are mostly exact zeros (a
magnitude-pruned model) can be multiplied by a sparse kernel instead of the
dense panel GEMV; ``_MatLowering.plan`` asks ``choose`` which, per segment.

Formats (runtime/hlf_sparse.h):
  * CSR: ``row_ptr`` (uint32, m+1), ``col_idx`` (uint16, nnz), ``values`` (nnz).
  * BCSR with br x 1 blocks (br = 4 or 8): ``block_ptr`` (uint32, ceil(m/br)+1),
    ``block_col`` (uint16, one per block that has a nonzero), ``values``
    (br floats per block, rows past m zero): a packed panel column with the
    all-zero columns left out.

Modes (``hlfgen build --sparse``):
  * ``off``   - every matrix dense (the panel kernels);
  * ``csr`` / ``block`` - a segment with at least ``MIN_ZERO_FRACTION`` zeros
    uses that format (block: the block height with the lower modelled cost);
  * ``auto``  - (default) the cheapest of dense, CSR, BCSR 4x1 and BCSR 8x1
    by the cost model below, for segments with at least MIN_ZERO_FRACTION
    zeros (a matrix without zeros stays dense without further ado).

Cost model.  The cost of a call is linear in what the kernel streams::

    dense:  a * (padded rows * n)  + b * panels         + c
    csr:    a * nnz                + b * rows           + c
    bcsr:   a * blocks             + b * block rows     + c

with one (a, b, c) per kernel, per GEMV / GEMM-per-vector, per target
family (COSTS below).  The AArch64 constants are executed instructions
measured under qemu with the instruction-count plugin (bench/insn_count;
deterministic, the measure bench/insn_per_mac.py uses), fitted over matrices
64x64 .. 1024x256 and densities 2..60 % (bench/sparse_calibrate.py reproduces
the fit).  Instructions stand in for Cortex-A73 cycles: every instruction of
these kernels is a load, an FMLA or loop overhead, and the sparse kernels'
gathers are single loads with a register offset; a real A73 may penalize the
dependent index->x loads more, which only makes the dense choice safer.  The
host constants are nanoseconds on the build machine (Intel Xeon, AVX-512,
gcc 12 -O2 -march=native), same fit.  The model ranks kernels; it need not
predict absolute times.  What it says, in per-stored-weight terms (AArch64):
dense 0.40 instructions per MAC; CSR 3.95 per nonzero (~10x: CSR wins below
~10 % density); BCSR 4x1 1.02 and 8x1 0.73 per stored weight (a win when the
kept blocks hold < ~40 % / ~55 % of the weights, i.e. block-structured
pruning, or unstructured pruning beyond ~90 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SPARSE_MODES as MODES  # noqa: F401  (--sparse modes)

BLOCK_ROWS = (4, 8)  # block heights with vectorized kernels
MAX_COLS = 1 << 16  # 16-bit column indices
# Sparse kernels are considered for segments at least this sparse (forced
# modes csr / block apply there; auto compares costs there).  A dense model
# has ~0 exact zeros; a model pruned to compression 1.33 has 25 %.  By the
# cost tables below no sparse kernel can beat the dense one under ~45 %
# zeros anyway (BCSR 8x1 with every kept block full is 1.8x the dense cost
# per stored weight on AArch64, 1.9x on the host).
MIN_ZERO_FRACTION = 0.25

# (a, b, c) per kernel: see the module docstring.  Keys: (family, kernel, op)
# with family "aarch64" | "host", kernel "dense" | "csr" | "bcsr4" | "bcsr8",
# op "gemv" | "gemm" (gemm: per vector, the kernel run on 8 vectors).
COSTS: dict[tuple[str, str, str], tuple[float, float, float]] = {}


def _set_costs(family: str, table: dict) -> None:
    for (kernel, op), abc in table.items():
        COSTS[(family, kernel, op)] = abc


# bench/sparse_calibrate.py, 2024-11: 5 shapes (64x64 .. 1024x256, 512x512) x
# densities 2..60 % x (unstructured, 8x1-block) sparsity, fit with a, b, c >= 0.
# AArch64: executed instructions per call (qemu plugin), NEON kernels, gcc 12
# -O2 -mcpu=cortex-a73; largest relative residual 5 % (dense), 16-29 % (sparse
# GEMV, only on 64x64 matrices with < 60 nonzeros), <= 7 % otherwise.
_set_costs(
    "aarch64",
    {
        ("dense", "gemv"): (0.3985, 34.9, 52.9),  # per padded MAC (8-row panels), per panel
        ("dense", "gemm"): (0.3672, 22.0, 10.1),
        ("csr", "gemv"): (3.950, 28.8, 0.0),  # per nonzero, per row
        ("csr", "gemm"): (2.709, 9.46, 0.0),
        ("bcsr4", "gemv"): (4.068, 37.0, 0.0),  # per 4x1 block, per block row
        ("bcsr4", "gemm"): (3.004, 8.59, 20.8),
        ("bcsr8", "gemv"): (5.857, 43.3, 0.0),  # per 8x1 block, per block row
        ("bcsr8", "gemm"): (4.135, 16.0, 13.6),
    },
)
# Host: nanoseconds per call, portable kernels, gcc 12 -O2 -march=native,
# Intel Xeon (AVX-512) shared with other jobs (best of 9 runs of ~1 ms);
# residuals up to 45 %: good enough to rank kernels whose costs differ by 2x+.
_set_costs(
    "host",
    {
        ("dense", "gemv"): (0.0315, 0.0, 0.0),  # per padded MAC (16-row panels)
        ("dense", "gemm"): (0.0226, 0.0, 22.7),
        ("csr", "gemv"): (0.316, 0.80, 34.9),
        ("csr", "gemm"): (0.255, 0.03, 14.9),
        ("bcsr4", "gemv"): (0.421, 1.94, 8.1),
        ("bcsr4", "gemm"): (0.269, 1.47, 11.0),
        ("bcsr8", "gemv"): (0.482, 3.65, 6.5),
        ("bcsr8", "gemm"): (0.281, 3.00, 8.4),
    },
)


def family(target: str) -> str:
    return "aarch64" if target in ("cortex-a73", "aarch64") else "host"


# ------------------------------------------------------------------ packing
@dataclass
class CSR:
    m: int
    n: int
    row_ptr: np.ndarray  # uint32 (m+1)
    col_idx: np.ndarray  # uint16 (nnz)
    values: np.ndarray  # float32 (nnz)

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    @property
    def bytes(self) -> int:
        return 4 * self.row_ptr.size + 2 * self.col_idx.size + 4 * self.values.size


@dataclass
class BCSR:
    m: int
    n: int
    br: int
    block_ptr: np.ndarray  # uint32 (ceil(m/br)+1)
    block_col: np.ndarray  # uint16 (blocks)
    values: np.ndarray  # float32 (blocks * br)

    @property
    def blocks(self) -> int:
        return int(self.block_col.size)

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.values))

    @property
    def bytes(self) -> int:
        return 4 * self.block_ptr.size + 2 * self.block_col.size + 4 * self.values.size


def _check(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float32)
    if a.ndim != 2:
        raise ValueError(f"want a matrix, got shape {a.shape}")
    if a.shape[1] > MAX_COLS:
        raise ValueError(f"{a.shape[1]} columns: the sparse kernels index columns with 16 bits")
    return a


def pack_csr(a: np.ndarray) -> CSR:
    """CSR of the nonzeros of a (columns ascending within a row)."""
    a = _check(a)
    m, n = a.shape
    rows, cols = np.nonzero(a)  # row-major order
    row_ptr = np.zeros(m + 1, np.uint32)
    np.cumsum(np.bincount(rows, minlength=m), out=row_ptr[1:])
    return CSR(m, n, row_ptr, cols.astype(np.uint16), a[rows, cols].astype(np.float32))


def pack_bcsr(a: np.ndarray, br: int) -> BCSR:
    """BCSR with br x 1 blocks: every block column holding a nonzero is kept."""
    a = _check(a)
    m, n = a.shape
    mb = -(-m // br)
    padded = np.zeros((mb * br, n), np.float32)
    padded[:m] = a
    blocks = padded.reshape(mb, br, n)  # (block row, row in block, column)
    keep = (blocks != 0).any(axis=1)  # (block row, column)
    brow, bcol = np.nonzero(keep)
    block_ptr = np.zeros(mb + 1, np.uint32)
    np.cumsum(np.bincount(brow, minlength=mb), out=block_ptr[1:])
    values = blocks[brow, :, bcol].reshape(-1)  # (blocks, br) -> flat
    return BCSR(m, n, br, block_ptr, bcol.astype(np.uint16), np.ascontiguousarray(values, np.float32))


def unpack_csr(s: CSR) -> np.ndarray:
    a = np.zeros((s.m, s.n), np.float32)
    rows = np.repeat(np.arange(s.m), np.diff(s.row_ptr.astype(np.int64)))
    a[rows, s.col_idx.astype(np.int64)] = s.values
    return a


def unpack_bcsr(s: BCSR) -> np.ndarray:
    mb = s.block_ptr.size - 1
    a = np.zeros((mb * s.br, s.n), np.float32)
    brow = np.repeat(np.arange(mb), np.diff(s.block_ptr.astype(np.int64)))
    vals = s.values.reshape(-1, s.br)
    for r in range(s.br):
        a[brow * s.br + r, s.block_col.astype(np.int64)] = vals[:, r]
    return a[: s.m]


# ------------------------------------------------------------------ choice
@dataclass
class Choice:
    kind: str  # "dense" | "csr" | "bcsr"
    br: int = 0  # bcsr block height
    cost: float = 0.0  # modelled cost (instructions / ns) of one call per vector
    costs: dict | None = None  # every candidate's cost, for comments and reports


def zero_fraction(a: np.ndarray) -> float:
    return 1.0 - np.count_nonzero(a) / a.size if a.size else 0.0


def block_count(a: np.ndarray, br: int) -> int:
    """Blocks of pack_bcsr(a, br) without packing."""
    m, n = a.shape
    mb = -(-m // br)
    nz = np.zeros((mb * br, n), bool)
    nz[:m] = a != 0
    return int(nz.reshape(mb, br, n).any(axis=1).sum())


def costs(a: np.ndarray, *, nr: int, target: str, gemm: bool) -> dict[str, float]:
    """Modelled cost of one call (per vector) of every kernel for matrix a."""
    fam, op = family(target), "gemm" if gemm else "gemv"
    m, n = a.shape
    out = {}
    panels = -(-m // nr)
    ca, cb, cc = COSTS[(fam, "dense", op)]
    out["dense"] = ca * panels * nr * n + cb * panels + cc
    if n <= MAX_COLS:
        ca, cb, cc = COSTS[(fam, "csr", op)]
        out["csr"] = ca * np.count_nonzero(a) + cb * m + cc
        for br in BLOCK_ROWS:
            ca, cb, cc = COSTS[(fam, f"bcsr{br}", op)]
            out[f"bcsr{br}"] = ca * block_count(a, br) + cb * -(-m // br) + cc
    return out


def choose(a: np.ndarray, mode: str, *, nr: int, target: str, gemm: bool) -> Choice:
    """Which kernel multiplies the dense segment a (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"unknown sparse mode {mode!r} (choose from {', '.join(MODES)})")
    if mode == "off" or a.size == 0 or a.shape[1] > MAX_COLS:
        return Choice("dense")
    zf = zero_fraction(a)
    if zf < MIN_ZERO_FRACTION:
        return Choice("dense")
    c = costs(a, nr=nr, target=target, gemm=gemm)
    if mode == "csr":
        return Choice("csr", 0, c["csr"], c)
    if mode == "block":
        br = min(BLOCK_ROWS, key=lambda b: c[f"bcsr{b}"])
        return Choice("bcsr", br, c[f"bcsr{br}"], c)
    best = min(c, key=c.get)
    if best == "dense":
        return Choice("dense", 0, c["dense"], c)
    if best == "csr":
        return Choice("csr", 0, c["csr"], c)
    return Choice("bcsr", int(best[4:]), c[best], c)
