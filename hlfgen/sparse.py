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
    by the cost model below; a matrix without zeros is never looked at twice.

Cost model.  The cost of a call is linear in what the kernel streams::

    dense:  a * (padded rows * n)  + b * panels         + c
    csr:    a * nnz                + b * rows           + c
    bcsr:   a * blocks             + b * block rows     + c

with one (a, b, c) per kernel, per GEMV / GEMM-per-vector, per target
family.  The AArch64 constants are executed instructions measured under qemu
with the instruction-count plugin (bench/insn_count; deterministic, the
measure bench/insn_per_mac.py uses) and fitted by least squares over
matrices 64..1024 x 64..512 and densities 2..60 % (bench/sparse_calibrate.py
reproduces the fit).  Instructions are a proxy for Cortex-A73 cycles: the
sparse kernels' gathers are loads with a register offset, which the A73
issues at one per cycle like the dense kernel's loads.  The host constants
are nanoseconds measured on the build machine (Intel Xeon, AVX-512, gcc 12
-O2 -march=native), same fit.  The model ranks the kernels; it does not need
to predict absolute times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("auto", "off", "csr", "block")
BLOCK_ROWS = (4, 8)  # block heights with vectorized kernels
MAX_COLS = 1 << 16  # 16-bit column indices
# Forced modes (csr, block) apply to segments at least this sparse; a dense
# model has ~0 exact zeros, a model pruned to compression 1.33 has 25 %.
MIN_ZERO_FRACTION = 0.25
# auto never considers a segment with fewer zeros than this: no kernel beats
# the dense one there (the fitted CSR cost per nonzero is ~8x a dense MAC).
AUTO_MIN_ZERO_FRACTION = 0.25

# (a, b, c) per kernel: see the module docstring.  Keys: (family, kernel, op)
# with family "aarch64" | "host", kernel "dense" | "csr" | "bcsr4" | "bcsr8",
# op "gemv" | "gemm" (gemm: per vector, in groups of 4 vectors).
COSTS: dict[tuple[str, str, str], tuple[float, float, float]] = {}


def _set_costs(family: str, table: dict) -> None:
    for (kernel, op), abc in table.items():
        COSTS[(family, kernel, op)] = abc


# Filled in from bench/sparse_calibrate.py (see there for the raw numbers).
_set_costs("aarch64", {
    ("dense", "gemv"): (0.40, 12.0, 20.0),
    ("dense", "gemm"): (0.375, 12.0, 20.0),
    ("csr", "gemv"): (3.4, 12.0, 20.0),
    ("csr", "gemm"): (2.5, 6.0, 20.0),
    ("bcsr4", "gemv"): (3.5, 12.0, 20.0),
    ("bcsr4", "gemm"): (2.8, 8.0, 20.0),
    ("bcsr8", "gemv"): (5.5, 15.0, 20.0),
    ("bcsr8", "gemm"): (3.8, 10.0, 20.0),
})
_set_costs("host", {
    ("dense", "gemv"): (0.40, 12.0, 20.0),
    ("dense", "gemm"): (0.375, 12.0, 20.0),
    ("csr", "gemv"): (3.4, 12.0, 20.0),
    ("csr", "gemm"): (2.5, 6.0, 20.0),
    ("bcsr4", "gemv"): (3.5, 12.0, 20.0),
    ("bcsr4", "gemm"): (2.8, 8.0, 20.0),
    ("bcsr8", "gemv"): (5.5, 15.0, 20.0),
    ("bcsr8", "gemm"): (3.8, 10.0, 20.0),
})


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
    if zf < (AUTO_MIN_ZERO_FRACTION if mode == "auto" else MIN_ZERO_FRACTION):
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
