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

import os
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
from test_neon_kernels import IS_X86_64, ISA_CPU_FLAGS, ISA_FLAGS, build_dispatch_driver, cpu_flags

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
# The x86-64 run-time dispatch (runtime/hlf_dispatch.h): the portable kernels
# compiled per instruction set, the driver calling them through
# hlf_dispatch.c, each variant selected through HLF_MAX_ISA (tests/test_neon_kernels.py).

VARIANTS.update({f"dispatch-{isa}": (["gcc"], ["-O2"] + WARN, isa, False) for isa in ISA_FLAGS})


def build_driver(name: str, out_dir: Path) -> Path:
    cc, flags, isa, _ = VARIANTS[name]
    exe = out_dir / f"sparse-driver-{name}"
    if name.startswith("dispatch-"):
        if not exe.exists():
            build_dispatch_driver(DRIVER, NR, out_dir, exe)
        return exe
    if not exe.exists():
        _run(cc + flags + ["-DHLF_NR=8", "-I", RUNTIME, DRIVER, *kernel_sources(isa), "-o", exe, "-lm"])
    return exe


def run_driver(name: str, exe: Path, blob: bytes, work: Path, reps: int = 1) -> np.ndarray:
    inp, out = work / f"in-{name}.bin", work / f"out-{name}.bin"
    inp.write_bytes(blob)
    cmd = ([QEMU, "-L", SYSROOT] if VARIANTS[name][3] else []) + [exe, inp, out, reps]
    if name.startswith("dispatch-"):
        cmd = [exe, inp, out, reps]
    env = {**os.environ, "HLF_MAX_ISA": VARIANTS[name][2]} if name.startswith("dispatch-") else None
    proc = _run(cmd, timeout=300, env=env)
    if name.startswith("dispatch-"):
        assert f"isa={VARIANTS[name][2]}" in proc.stderr, f"{name}: the dispatcher chose {proc.stderr.strip()}"
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
            self.y0[v * self.ldy : v * self.ldy + self.m] = rng.uniform(-2, 2, self.m)

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
        head = struct.pack(
            "<12i",
            self.op,
            self.nv,
            self.m,
            self.n,
            self.ldx,
            self.ldy,
            self.y0.size,
            self.br,
            ptr.size,
            col.size,
            val.size,
            0,
        )
        colb = col.astype("<u2").tobytes()
        colb += b"\0" * (-len(colb) % 4)
        return (
            head
            + ptr.astype("<u4").tobytes()
            + colb
            + val.astype("<f4").tobytes()
            + self.x.astype("<f4").tobytes()
            + self.y0.astype("<f4").tobytes()
        )

    def check(self, got, label):
        y = self.y0.astype(np.float64)
        mask = np.zeros(y.size, bool)
        bound = np.zeros_like(y)
        a64 = self.a.astype(np.float64)
        for v in range(self.nv):
            xv = self.x[v * self.ldx : v * self.ldx + self.n].astype(np.float64)
            sl = slice(v * self.ldy, v * self.ldy + self.m)
            y[sl] += a64 @ xv
            mask[sl] = True
            bound[sl] = (np.abs(a64) @ np.abs(xv) + np.abs(self.y0[sl])) * (self.n + 2) * 2.0**-24
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
    cases += [
        Case(rng, OP_SPMV_CSR, a),
        Case(rng, OP_SPMV_BCSR, a, br=8),
        Case(rng, OP_GEMV, a),
        Case(rng, OP_GEMM, a, nv=5),
    ]
    return cases


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sparse_kernels")


def _skip(name):
    if name.startswith("dispatch-"):
        isa = VARIANTS[name][2]
        if not IS_X86_64 or shutil.which("gcc") is None:
            pytest.skip("needs an x86-64 host with gcc")
        if not ISA_CPU_FLAGS[isa] <= cpu_flags():
            pytest.skip(f"this CPU has no {isa}")
        return
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
        c.check(out[pos : pos + c.y0.size], name)
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


# --------------------------------------------------------------------------
# Pruned models through the compiler: every --sparse mode, host and A73
# --------------------------------------------------------------------------

from conftest import TARGETS, assert_parity  # noqa: E402

from hlfgen.example import SCHEMES, make_example_model, write_example  # noqa: E402
from hlfgen.schemes import dense_weights, prune_magnitude, small_hidden, weight_stats  # noqa: E402

SPARSE_CALLS = {
    "csr": ("hlf_f32_spmv_csr_acc(", "hlf_f32_spmm_csr_acc("),
    "bcsr": ("hlf_f32_spmv_bcsr_acc(", "hlf_f32_spmm_bcsr_acc("),
}


def _generated_c(work: Path) -> str:
    """The generated model source (not the runner) of check(work_dir=work)."""
    return "".join(p.read_text() for p in (work / "out").glob("*.c") if not p.name.endswith("_run.c"))


@pytest.mark.parametrize("mode", ["auto", "off", "csr", "block"])
def test_pruned_lstm_parity_every_mode(tmp_path, mode):
    """A magnitude-pruned LSTM (m = 80 rows, n = 24 / 20: no multiple of the
    block sizes) matches onnxruntime with each --sparse mode on the host, and
    the generated code calls the kernels the mode asks for."""
    path = tmp_path / "pruned.onnx"
    write_example(path, "lstm", 24, 20, compression=2.5, seed=1, scheme="pruned")
    work = tmp_path / "w"
    assert_parity(path, target="host", sparse=mode, work_dir=work, seq_len=7)
    code = _generated_c(work)
    uses = {k for k, calls in SPARSE_CALLS.items() if all(c in code for c in calls)}
    if mode == "off":
        assert not uses and "hlf_sparse.h" not in code
    elif mode == "csr":
        assert uses == {"csr"}
    elif mode == "block":
        assert uses == {"bcsr"}
    weights_h = next((work / "out").glob("*_weights.h")).read_text()
    if mode in ("csr", "block"):
        assert "static const uint16_t" in weights_h and "static const uint32_t" in weights_h


@pytest.mark.parametrize("target", TARGETS)
def test_block_pruned_gru_parity(tmp_path, target):
    """Bidirectional GRU (R split in two products: linear_before_reset = 0),
    8x1-block-pruned, with the block and the CSR kernels; host and
    Cortex-A73 (NEON kernels, under qemu)."""
    path = tmp_path / "gru.onnx"
    write_example(
        path, "gru", 19, 24, compression="10/3", seed=2, direction="bidirectional", scheme="pruned", prune_block=(8, 1)
    )
    for mode in ("block", "csr"):
        work = tmp_path / f"w-{mode}"
        report = assert_parity(path, target=target, sparse=mode, work_dir=work, seq_len=5)
        assert report.ok
        code = _generated_c(work)
        assert all(c in code for c in SPARSE_CALLS["csr" if mode == "csr" else "bcsr"])


def test_pruned_clang_and_streaming(tmp_path):
    """clang -Werror builds the sparse code, and the streaming API (one step
    per call, the GEMM with rows = 1) gives the same outputs."""
    if not HAVE_CLANG:
        pytest.skip("needs clang")
    path = tmp_path / "rnn.onnx"
    write_example(path, "rnn", 33, 40, compression=5, seed=3, scheme="pruned", prune_block=(4, 1))
    assert_parity(path, target="host", sparse="block", compiler="clang", work_dir=tmp_path / "a", seq_len=6)
    assert_parity(path, target="host", sparse="csr", stream=True, work_dir=tmp_path / "b", seq_len=6)


def test_dense_models_unchanged_by_auto(tmp_path):
    """No exact zeros, nothing sparse: --sparse auto writes what off writes."""
    from hlfgen.build import generate

    path = tmp_path / "d.onnx"
    write_example(path, "lstm", 16, 16, scheme="dense")
    a = generate(path, tmp_path / "a", sparse="auto")
    b = generate(path, tmp_path / "b", sparse="off")
    assert not a.program.uses_sparse and not a.program.sparse_choices
    for f in ("d.c", "d_weights.h"):
        assert (tmp_path / "a" / f).read_text() == (tmp_path / "b" / f).read_text()
    with pytest.raises(Exception, match="sparse"):
        generate(path, tmp_path / "c", sparse="fast")


def test_auto_choice_recorded(tmp_path):
    """auto keeps an unstructured 60%-zero matrix dense (the dense kernel is
    faster there) but takes the block kernel for a 90%-zero 8x1-pruned one."""
    from hlfgen.build import generate

    for target in ("host", "cortex-a73"):
        p1, p2 = tmp_path / "u.onnx", tmp_path / "b.onnx"
        write_example(p1, "lstm", 64, 64, compression=2.5, scheme="pruned")
        write_example(p2, "lstm", 64, 64, compression=10, scheme="pruned", prune_block=(8, 1))
        g1 = generate(p1, tmp_path / "o1", target=target)
        g2 = generate(p2, tmp_path / "o2", target=target)
        assert {c["kernel"] for c in g1.program.sparse_choices} == {"dense"}
        assert {c["kernel"] for c in g2.program.sparse_choices} == {"bcsr8"}
        assert g2.program.weight_bytes < g1.program.weight_bytes / 3


# --------------------------------------------------------------------------
# example --scheme
# --------------------------------------------------------------------------


def _inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _ort(model, x):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x})


GATES_N = {"lstm": 4, "gru": 3, "rnn": 1}


@pytest.mark.parametrize(
    "kind,n,h,cf,direction",
    [("lstm", 40, 32, "2.5", "forward"), ("gru", 24, 36, "10/3", "bidirectional"), ("rnn", 50, 20, "5", "forward")],
)
def test_example_schemes(tmp_path, kind, n, h, cf, direction):
    cf = Fraction(cf)
    G, D = GATES_N[kind], 2 if direction == "bidirectional" else 1
    W0, R0, _ = dense_weights(kind, n, h, seed=5, direction=direction)
    dense_params = D * G * h * (n + h)
    x = np.random.default_rng(0).standard_normal((4, 1, n)).astype(np.float32)
    for scheme in SCHEMES:
        path = tmp_path / f"{scheme}.onnx"
        model = write_example(path, kind, n, h, compression=cf, k=1, seed=5, direction=direction, scheme=scheme)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        inits = _inits(model)
        outs = _ort(model, x)
        assert all(np.isfinite(o).all() for o in outs)
        props = {p.key: p.value for p in model.metadata_props}
        assert props["hlfgen.scheme"] == scheme
        if scheme in ("dense", "pruned", "small"):
            W, R = inits[f"{kind}.W"], inits[f"{kind}.R"]
        if scheme == "dense":
            assert np.array_equal(W, W0) and np.array_equal(R, R0)
            params = W.size + R.size
            assert params == dense_params
        elif scheme == "small":
            hs = W.shape[1] // G
            assert outs[0].shape == (4, D, 1, hs) and R.shape == (D, G * hs, hs) and W.shape == (D, G * hs, n)
            params = W.size + R.size
            # the largest hidden size within the budget, computed here by search
            budget = Fraction(dense_params) / cf
            assert D * G * hs * (n + hs) <= budget < D * G * (hs + 1) * (n + hs + 1)
            assert hs == small_hidden(kind, n, h, cf)
            assert np.array_equal(W[0, :hs], W0[0, :hs])  # top-left blocks of the same dense weights
        elif scheme == "pruned":
            params = int(np.count_nonzero(W) + np.count_nonzero(R))
            # per gate matrix: exactly floor(m*n/CF) largest magnitudes kept
            want = D * G * (int(Fraction(h * n) / cf) + int(Fraction(h * h) / cf))
            assert params == want
            for P, P0 in ((W, W0), (R, R0)):
                kept = P != 0
                assert np.array_equal(P[kept], P0[kept])  # same dense weights
                for d in range(D):
                    for g in range(G):
                        blk, blk0 = kept[d, g * h : (g + 1) * h], np.abs(P0[d, g * h : (g + 1) * h])
                        assert blk0[blk].min() >= blk0[~blk].max()
        else:  # lmf, hlf: every factor counts
            params = sum(v.size for k_, v in inits.items() if k_.split(".")[-1] in ("hlf_A", "hlf_B", "hlf_C"))
            if scheme == "lmf":
                assert not any(k_.endswith(".hlf_A") for k_ in inits)
            else:  # A' = the first j rows of the same dense gate matrix
                a = inits[f"{kind}.W.d0.{'iofc'[0] if kind == 'lstm' else 'z' if kind == 'gru' else 'i'}.hlf_A"]
                assert np.array_equal(a, W0[0, : a.shape[0]])
        if scheme != "dense":
            assert params <= Fraction(dense_params) / cf, (scheme, params)
        if scheme in ("hlf", "pruned"):  # and not much more than asked (LMF moves in steps of m + n)
            assert params >= Fraction(dense_params) / cf * Fraction(85, 100), (scheme, params)
        st = weight_stats(model)
        assert st["weights"] == params and st["dense"] == (dense_params if scheme != "small" else params)
        if scheme == "pruned":  # index storage counted: CSR = 6 B per nonzero + 4 B per row (+1)
            assert st["bytes_csr"] == 6 * params + 4 * D * 2 * (G * h + 1)


def test_example_pruned_blocks_and_hlf_sweep():
    W0, _, _ = dense_weights("lstm", 30, 16, seed=0)
    a = prune_magnitude(W0[0], 2.5, (8, 1))
    kept = a != 0
    # whole 8x1 blocks (rows 0-7, 8-15, ... of each column): all-zero or all-kept
    blocks = (a != 0).reshape(-1, 8, 30)
    assert np.all(blocks.all(axis=1) | ~blocks.any(axis=1))
    assert kept.sum() <= int(W0[0].size / 2.5)
    m1 = make_example_model("lstm", 30, 16, 2.5, k=None, scheme="hlf")
    m2 = make_example_model("lstm", 30, 16, 2.5, k=1, scheme="hlf")
    onnx.checker.check_model(m1, full_check=True)
    assert weight_stats(m1)["weights"] <= 4 * 16 * 46 / 2.5 and weight_stats(m2)["weights"] <= 4 * 16 * 46 / 2.5
    with pytest.raises(Exception, match="scheme"):
        make_example_model(scheme="sparse")


def test_cli_example_scheme_and_build_sparse(tmp_path, capsys):
    from hlfgen.cli import main

    path = tmp_path / "p.onnx"
    assert (
        main(
            [
                "example",
                "-o",
                str(path),
                "--scheme",
                "pruned",
                "--prune-block",
                "8x1",
                "--compression",
                "5",
                "--input-size",
                "32",
                "--hidden-size",
                "32",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "weights kept" in out and "csr" in out and "bcsr8" in out
    assert main(["build", str(path), "-o", str(tmp_path / "out"), "--sparse", "csr"]) == 0
    assert "csr" in capsys.readouterr().out
    assert "hlf_f32_spmv_csr_acc(" in (tmp_path / "out" / "p.c").read_text()
    assert main(["example", "-o", str(path), "--scheme", "pruned", "--prune-block", "8"]) == 2
