"""The pruning baseline: sparse kernels, --sparse lowering, example --scheme.

* runtime/hlf_sparse.h kernels (CSR and BCSR 4x1 / 8x1 / other br, GEMV and
  GEMM) against numpy through tests/c/sparse/sparse_driver.c: the portable
  kernels on the host, the NEON and portable kernels for AArch64 under qemu
  (gcc and clang); random sparsity incl. empty rows, an all-zero matrix,
  m / n not multiples of the block sizes, padded ldx / ldy, no reads past
  the index / value / x arrays (guard pages), no writes outside y's rows;
* hlfgen.sparse packing round trips and the choice of kernel per mode;
* pruned models compiled with each --sparse mode match onnxruntime (host,
  and Cortex-A73 under qemu);
* hlfgen example --scheme: parameter counts (computed here from the
  initializers) reach the compression factor, onnx.checker, onnxruntime.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from hlfgen import sparse
from hlfgen.pack import pack_panels

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime"
KERNELS = RUNTIME / "kernels"
DRIVER = ROOT / "tests" / "c" / "sparse" / "sparse_driver.c"
AARCH64_CC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64"
SYSROOT = "/usr/aarch64-linux-gnu"
WARN = ["-Wall", "-Wextra", "-Werror", "-std=c99", "-pedantic"]
AARCH64_FLAGS = ["-O2", "-mcpu=cortex-a73", "-static"] + WARN

HAVE_CROSS = shutil.which(AARCH64_CC) is not None and shutil.which(QEMU) is not None
HAVE_CLANG = shutil.which("clang") is not None
needs_cross = pytest.mark.skipif(not HAVE_CROSS, reason="needs aarch64-linux-gnu-gcc and qemu-aarch64")

OP_SPMV_CSR, OP_SPMM_CSR, OP_SPMV_BCSR, OP_SPMM_BCSR, OP_GEMV, OP_GEMM = range(6)
NR = 8
GUARD = 5
SENTINEL = np.float32(-1234.5)


def kernel_sources(isa: str) -> list[Path]:
    """The sparse kernels of one ISA, plus the dense ones the driver also calls."""
    return sorted(KERNELS.glob(f"f32-sp*-{isa}.c")) + sorted(KERNELS.glob(f"f32-gem*-acc-{isa}.c"))


def _run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


VARIANTS = {  # name: (compiler, flags, isa, under qemu)
    "scalar-host": (["gcc"], ["-O2"] + WARN, "scalar", False),
    "neon-gcc": ([AARCH64_CC], AARCH64_FLAGS, "neon", True),
    "neon-clang": (["clang", "--target=aarch64-linux-gnu"], AARCH64_FLAGS, "neon", True),
    "scalar-aarch64": ([AARCH64_CC], AARCH64_FLAGS, "scalar", True),
}


def build_driver(name: str, out_dir: Path) -> Path:
    cc, flags, isa, _ = VARIANTS[name]
    exe = out_dir / f"sparse-driver-{name}"
    if not exe.exists():
        _run(cc + flags + ["-DHLF_NR=8", "-I", RUNTIME, DRIVER, *kernel_sources(isa), "-o", exe, "-lm"])
    return exe


def run_driver(name: str, exe: Path, blob: bytes, work: Path, reps: int = 1) -> np.ndarray:
    inp, out = work / f"in-{name}.bin", work / f"out-{name}.bin"
    inp.write_bytes(blob)
    cmd = ([QEMU, "-L", SYSROOT] if VARIANTS[name][3] else []) + [exe, inp, out, reps]
    _run(cmd, timeout=300)
    return np.frombuffer(out.read_bytes(), dtype="<f4")


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

def random_sparse(rng, m, n, density, empty_rows=0.0, block=None):
    """A random m x n matrix with ~density nonzeros; some rows all zero.

    block=(br, bc): nonzeros come in br x bc blocks (block-pruned weights)."""
    if block:
        br, bc = block
        keep = rng.random((-(-m // br), -(-n // bc))) < density
        mask = np.kron(keep, np.ones((br, bc), bool))[:m, :n]
    else:
        mask = rng.random((m, n)) < density
    mask[rng.random(m) < empty_rows] = False
    return np.where(mask, rng.uniform(-1, 1, (m, n)), 0).astype(np.float32)


class Case:
    def __init__(self, rng, op, a, nv=1, br=0, ldx=None, ldy=None):
        self.op, self.a, self.nv, self.br = op, a, nv, br
        self.m, self.n = a.shape
        self.ldx = ldx if ldx is not None else self.n
        self.ldy = ldy if ldy is not None else self.m
        self.x = rng.uniform(-1, 1, (nv - 1) * self.ldx + self.n).astype(np.float32)
        self.y0 = np.full((nv - 1) * self.ldy + self.m + GUARD, SENTINEL, np.float32)
        for v in range(nv):
            self.y0[v * self.ldy: v * self.ldy + self.m] = rng.uniform(-2, 2, self.m)

    def arrays(self):
        if self.op in (OP_SPMV_CSR, OP_SPMM_CSR):
            s = sparse.pack_csr(self.a)
            return s.row_ptr, s.col_idx, s.values
        if self.op in (OP_SPMV_BCSR, OP_SPMM_BCSR):
            s = sparse.pack_bcsr(self.a, self.br)
            return s.block_ptr, s.block_col, s.values
        return np.zeros(0, np.uint32), np.zeros(0, np.uint16), pack_panels(self.a, NR)

    def record(self) -> bytes:
        ptr, col, val = self.arrays()
        head = struct.pack("<12i", self.op, self.nv, self.m, self.n, self.ldx, self.ldy, self.y0.size,
                           self.br, ptr.size, col.size, val.size, 0)
        colb = col.astype("<u2").tobytes()
        colb += b"\0" * (-len(colb) % 4)
        return (head + ptr.astype("<u4").tobytes() + colb + val.astype("<f4").tobytes()
                + self.x.astype("<f4").tobytes() + self.y0.astype("<f4").tobytes())

    def check(self, got, label):
        y = self.y0.astype(np.float64)
        mask = np.zeros(y.size, bool)
        bound = np.zeros_like(y)
        a64 = self.a.astype(np.float64)
        for v in range(self.nv):
            xv = self.x[v * self.ldx: v * self.ldx + self.n].astype(np.float64)
            sl = slice(v * self.ldy, v * self.ldy + self.m)
            y[sl] += a64 @ xv
            mask[sl] = True
            bound[sl] = (np.abs(a64) @ np.abs(xv) + np.abs(self.y0[sl])) * (self.n + 2) * 2.0 ** -24
        where = f"{label}: op={self.op} nv={self.nv} m={self.m} n={self.n} br={self.br} ldx={self.ldx} ldy={self.ldy}"
        assert np.array_equal(got[~mask], self.y0[~mask]), f"{where}: wrote outside y's rows"
        err = np.abs(got[mask] - y[mask])
        assert np.all(err <= bound[mask] + 1e-30), f"{where}: max err {err.max()}"


SHAPES = [(1, 1), (3, 5), (4, 4), (7, 9), (8, 8), (9, 17), (13, 3), (16, 33), (31, 64), (33, 100), (64, 31), (100, 255)]
DENSITIES = [0.0, 0.03, 0.2, 0.5, 1.0]


def kernel_cases():
    rng = np.random.default_rng(11)
    cases = []
    for m, n in SHAPES:
        for d in DENSITIES:
            a = random_sparse(rng, m, n, d, empty_rows=0.2)
            cases.append(Case(rng, OP_SPMV_CSR, a))
            for br in (4, 8, 3):
                cases.append(Case(rng, OP_SPMV_BCSR, a, br=br))
            for nv in (1, 3, 4, 6, 9):
                cases.append(Case(rng, OP_SPMM_CSR, a, nv=nv))
                cases.append(Case(rng, OP_SPMM_BCSR, a, nv=nv, br=(4, 8, 2)[nv % 3]))
    # block-structured sparsity, bigger matrices, padded leading dimensions
    for block in ((8, 1), (4, 1), (1, 4)):
        a = random_sparse(rng, 72, 130, 0.3, empty_rows=0.1, block=block)
        for br in (4, 8):
            cases.append(Case(rng, OP_SPMV_BCSR, a, br=br))
            cases.append(Case(rng, OP_SPMM_BCSR, a, nv=5, br=br, ldx=133, ldy=75))
        cases.append(Case(rng, OP_SPMV_CSR, a))
        cases.append(Case(rng, OP_SPMM_CSR, a, nv=7, ldx=131, ldy=80))
    a = random_sparse(rng, 256, 256, 0.1)
    cases += [Case(rng, OP_SPMV_CSR, a), Case(rng, OP_SPMV_BCSR, a, br=8), Case(rng, OP_GEMV, a),
              Case(rng, OP_GEMM, a, nv=5)]
    return cases


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sparse_kernels")


def _skip(name):
    if name != "scalar-host" and not HAVE_CROSS:
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64")
    if name == "neon-clang" and not HAVE_CLANG:
        pytest.skip("needs clang")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_sparse_kernels_match_numpy(name, build_dir):
    _skip(name)
    exe = build_driver(name, build_dir)
    cases = kernel_cases()
    out = run_driver(name, exe, b"".join(c.record() for c in cases), build_dir)
    pos = 0
    for c in cases:
        c.check(out[pos: pos + c.y0.size], name)
        pos += c.y0.size
    assert pos == out.size


def test_kernels_compile_with_both_compilers(tmp_path):
    """-Wall -Wextra -Werror -pedantic, C99: portable (host gcc, clang), NEON (aarch64 gcc, clang)."""
    jobs = [(["gcc"], "scalar"), (["clang"], "scalar")] if HAVE_CLANG else [(["gcc"], "scalar")]
    if HAVE_CROSS:
        jobs += [([AARCH64_CC], "neon"), ([AARCH64_CC], "scalar")]
        if HAVE_CLANG:
            jobs += [(["clang", "--target=aarch64-linux-gnu"], "neon")]
    for cc, isa in jobs:
        for f in sorted(KERNELS.glob(f"f32-sp*-{isa}.c")):
            extra = ["-mcpu=cortex-a73"] if "aarch64" in " ".join(cc) else []
            _run(cc + ["-O2", "-c"] + extra + WARN + ["-I", RUNTIME, f, "-o", tmp_path / "k.o"])


# --------------------------------------------------------------------------
# Packing and choice
# --------------------------------------------------------------------------

def test_pack_round_trip_and_layout():
    rng = np.random.default_rng(5)
    for m, n in [(1, 1), (5, 7), (8, 8), (17, 3), (40, 66)]:
        for d in (0.0, 0.3, 1.0):
            a = random_sparse(rng, m, n, d, empty_rows=0.3)
            c = sparse.pack_csr(a)
            assert c.row_ptr.dtype == np.uint32 and c.col_idx.dtype == np.uint16
            assert c.row_ptr[0] == 0 and c.row_ptr[-1] == c.nnz == np.count_nonzero(a)
            assert np.array_equal(sparse.unpack_csr(c), a)
            for br in (4, 8, 3):
                b = sparse.pack_bcsr(a, br)
                assert b.block_ptr.size == -(-m // br) + 1 and b.values.size == b.blocks * br
                assert b.blocks == sparse.block_count(a, br)
                assert np.array_equal(sparse.unpack_bcsr(b), a)
                # block k = column block_col[k] of rows br*brow .. br*brow+br-1
                if b.blocks:
                    brow = int(np.searchsorted(b.block_ptr, 0, side="right")) - 1
                    rows = np.arange(brow * br, min(m, brow * br + br))
                    assert np.array_equal(b.values[: rows.size], a[rows, b.block_col[0]])


def test_choice_modes():
    rng = np.random.default_rng(6)
    dense = rng.standard_normal((64, 64)).astype(np.float32)
    very_sparse = random_sparse(rng, 256, 256, 0.02)
    blocky = random_sparse(rng, 256, 256, 0.2, block=(8, 1))
    for target in ("host", "cortex-a73"):
        kw = dict(nr=sparse_nr(target), target=target, gemm=False)
        for mode in sparse.MODES:
            assert sparse.choose(dense, mode, **kw).kind == "dense"  # no zeros: never sparse
        assert sparse.choose(very_sparse, "off", **kw).kind == "dense"
        assert sparse.choose(very_sparse, "csr", **kw).kind == "csr"
        ch = sparse.choose(very_sparse, "block", **kw)
        assert ch.kind == "bcsr" and ch.br in sparse.BLOCK_ROWS
        assert sparse.choose(very_sparse, "auto", **kw).kind != "dense"  # 2 % density: sparse wins
        assert sparse.choose(blocky, "auto", **kw).kind == "bcsr"
    with pytest.raises(ValueError):
        sparse.choose(dense, "fast", nr=8, target="host", gemm=False)


def sparse_nr(target):
    from hlfgen.pack import panel_rows
    return panel_rows(target)
