"""The quantized-weight kernels (runtime/hlf_qkernels.h, runtime/kernels/
{f16,qs8}-*), against numpy: fp16-weight GEMV/GEMM, int8 GEMV/GEMM with
per-row weight scales and a per-vector input scale, and the dynamic
quantization of the input vectors.  Built with the NEON kernels (gcc, clang;
run under qemu-aarch64) and the portable ones (aarch64 and host, 8- and
16-row panels).  Shapes include sizes that are not multiples of 4, 8 or 16;
every input array ends at a guard page (no reads past the end) and y's
entries outside the rows a call owns are checked untouched.
"""

from __future__ import annotations

import platform
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hlfgen import quant

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime"
DRIVER = ROOT / "tests" / "c" / "quant" / "qkernel_driver.c"
WARN = ["-Wall", "-Wextra", "-Werror", "-std=c99"]
A64 = ["-O2", "-mcpu=cortex-a73", "-static"]
HAVE_CROSS = shutil.which("aarch64-linux-gnu-gcc") is not None and shutil.which("qemu-aarch64") is not None
EPS = np.finfo(np.float32).eps


def _sources(isa: str) -> list[Path]:
    return sorted(p for pre in ("f16", "qs8") for p in (RUNTIME / "kernels").glob(f"{pre}-*-{isa}.c"))


# name: (compiler, flags, kernel set, emulated, panel rows)
VARIANTS = {
    "neon-gcc": (["aarch64-linux-gnu-gcc"], A64, "neon", True, 8),
    "neon-clang": (["clang", "--target=aarch64-linux-gnu"], A64, "neon", True, 8),
    "scalar-aarch64": (["aarch64-linux-gnu-gcc"], A64, "scalar", True, 8),
    "scalar-host": (["gcc"], ["-O2"], "scalar", False, 8),
    "scalar-host-nr16": (["gcc"], ["-O2"], "scalar", False, 16),
    "scalar-host-clang": (["clang"], ["-O2"], "scalar", False, 16),
    # the x86 variants of the dispatched build (hlf_dispatch.h): the kernels' AVX2 paths
    "scalar-host-avx2": (["gcc"], ["-O2", "-mavx2", "-mfma", "-mf16c"], "scalar", False, 16),
    "scalar-host-avx2-nr8": (["gcc"], ["-O2", "-mavx2", "-mfma", "-mf16c"], "scalar", False, 8),
    "scalar-host-avx512f": (["gcc"], ["-O2", "-mavx512f", "-mavx2", "-mfma", "-mf16c"], "scalar", False, 16),
    "scalar-host-avx2-clang": (["clang"], ["-O2", "-mavx2", "-mfma", "-mf16c"], "scalar", False, 16),
    # -march=native: the int8 GEMV's AVX-512BW / VNNI path on a CPU that has them
    "scalar-host-native": (["gcc"], ["-O3", "-march=native"], "scalar", False, 16),
    "scalar-host-native-clang": (["clang"], ["-O2", "-march=native"], "scalar", False, 16),
}
# host CPU features a variant's flags need to run
NEEDS = {"-mavx2": "avx2", "-mavx512f": "avx512f", "-mf16c": "f16c"}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _skip(name):
    cc, _, _, emulated, _ = VARIANTS[name]
    if emulated and not HAVE_CROSS:
        return "needs aarch64-linux-gnu-gcc and qemu-aarch64"
    if shutil.which(cc[0]) is None:
        return f"needs {cc[0]}"
    flags = VARIANTS[name][1]
    if any(f in NEEDS or f == "-march=native" for f in flags) and platform.machine() not in ("x86_64", "AMD64"):
        return "x86-64 variant"
    missing = [NEEDS[f] for f in flags if f in NEEDS and NEEDS[f] not in _cpu_flags()]
    if missing:
        return f"needs a CPU with {', '.join(missing)}"
    return None


_built: dict[str, Path] = {}


@pytest.fixture(params=list(VARIANTS), scope="module")
def variant(request, tmp_path_factory):
    name = request.param
    reason = _skip(name)
    if reason:
        pytest.skip(reason)
    if name not in _built:
        cc, flags, isa, _, nr = VARIANTS[name]
        exe = tmp_path_factory.mktemp("qk") / f"driver-{name}"
        cmd = (
            cc
            + flags
            + WARN
            + [f"-DHLF_NR={nr}", "-I", str(RUNTIME), str(DRIVER), *map(str, _sources(isa)), "-o", str(exe), "-lm"]
        )
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        _built[name] = exe
    return name, _built[name]


def _run(variant, records: bytes, tmp: Path) -> bytes:
    name, exe = variant
    inp, out = tmp / f"in-{name}.bin", tmp / f"out-{name}.bin"
    inp.write_bytes(records)
    cmd = (["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"] if VARIANTS[name][3] else []) + [
        str(exe),
        str(inp),
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def _hdr(op, nv, m, n, ldx, ldy, ny):
    return struct.pack("<8i", op, nv, m, n, ldx, ldy, ny, 0)


def _owned(nv, m, ldy, ny):
    mask = np.zeros(ny, bool)
    for v in range(nv):
        mask[v * ldy : v * ldy + m] = True
    return mask


# ------------------------------------------------------------------ packing
def test_qs8_packing_layout():
    rng = np.random.default_rng(0)
    for nr in (8, 16):
        for m, n in [(1, 1), (5, 17), (9, 16), (17, 33), (8, 40)]:
            q = rng.integers(-127, 128, (m, n)).astype(np.int8)
            p = quant.pack_qs8(q, nr)
            npad = -(-n // 16) * 16
            assert p.size == -(-m // nr) * nr * npad
            for i in range(m):
                for j in range(n):
                    assert p[(i // nr) * nr * npad + (j // 16) * nr * 16 + (i % nr) * 16 + j % 16] == q[i, j]
            assert np.count_nonzero(p) == np.count_nonzero(q)  # padding is zero


def test_quantize_rows_bounds():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((37, 29)).astype(np.float32)
    a[3] = 0.0
    q, s = quant.quantize_rows(a)
    assert q.dtype == np.int8 and np.abs(q.astype(int)).max() == 127
    assert s[3] == 0 and not q[3].any()
    # round to nearest: |a - s q| <= s / 2 per row
    err = np.abs(a - q.astype(np.float32) * s[:, None])
    assert np.all(err <= s[:, None] * (0.5 + 1e-5))


# ------------------------------------------------------------------ f16
F16_SHAPES = [
    (m, n)
    for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 16, 17, 33)
    for n in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 100)
]


def _f16_cases(rng, nr):
    cases = []
    for m, n in F16_SHAPES:
        cases.append((0, 1, m, n, n, m))
    for nv in range(1, 7):
        for m, n in [(5, 3), (9, 17), (16, 8), (33, 35), (21, 1), (79, 1)]:
            cases.append((1, nv, m, n, n + 3, m + 2))
    recs, expect = [], []
    for op, nv, m, n, ldx, ldy in cases:
        a = rng.uniform(-2, 2, (m, n)).astype(np.float32)
        a[0, 0] = 3e-6  # an fp16 subnormal
        bits = quant.pack_f16(a, nr)
        af = a.astype(np.float16).astype(np.float64)  # what the kernel multiplies by
        x = rng.uniform(-1, 1, (nv - 1) * ldx + n).astype(np.float32)
        ny = (nv - 1) * ldy + m + 3
        y0 = rng.uniform(-1, 1, ny).astype(np.float32)
        want = y0.astype(np.float64).copy()
        bound = np.zeros(ny)
        for v in range(nv):
            xv = x[v * ldx : v * ldx + n].astype(np.float64)
            want[v * ldy : v * ldy + m] += af @ xv
            bound[v * ldy : v * ldy + m] = (n + 2) * EPS * (np.abs(af) @ np.abs(xv) + np.abs(y0[v * ldy : v * ldy + m]))
        recs.append(_hdr(op, nv, m, n, ldx, ldy, ny) + bits.tobytes() + x.tobytes() + y0.tobytes())
        expect.append((f"f16 op={op} nv={nv} m={m} n={n}", y0, want, bound, _owned(nv, m, ldy, ny)))
    return b"".join(recs), expect


def _check(out: bytes, expect):
    got_all = np.frombuffer(out, np.float32)
    pos = 0
    for where, y0, want, bound, mask in expect:
        got = got_all[pos : pos + y0.size].astype(np.float64)
        pos += y0.size
        assert np.array_equal(got[~mask], y0[~mask]), f"{where}: wrote outside its rows"
        err = np.abs(got[mask] - want[mask])
        assert np.all(err <= bound[mask] + 1e-30), f"{where}: max err {err.max()}"
    assert pos == got_all.size


def test_f16_gemv_gemm(variant, tmp_path):
    nr = VARIANTS[variant[0]][4]
    recs, expect = _f16_cases(np.random.default_rng(2), nr)
    _check(_run(variant, recs, tmp_path), expect)


# ------------------------------------------------------------------ qs8
QS8_SHAPES = [(m, n) for m in (1, 3, 7, 8, 9, 15, 16, 17, 33, 100) for n in (1, 5, 15, 16, 17, 31, 32, 33, 100, 255)]


def _qs8_cases(rng, nr):
    cases = [(2, 1, m, n, -(-n // 16) * 16, m) for m, n in QS8_SHAPES]
    for nv in range(1, 7):
        for m, n in [(5, 3), (9, 17), (16, 32), (33, 35)]:
            cases.append((3, nv, m, n, -(-n // 16) * 16 + 16 * (nv % 2), m + 2))
    recs, expect = [], []
    for op, nv, m, n, ldq, ldy in cases:
        q = rng.integers(-127, 128, (m, n)).astype(np.int8)
        q[0, :] = 127  # extremes: two products of 127 * 127 summed in int16
        s = rng.uniform(1e-3, 1e-1, m).astype(np.float32)
        npad = -(-n // 16) * 16
        xq = np.zeros((nv - 1) * ldq + npad, np.int8)
        for v in range(nv):
            xq[v * ldq : v * ldq + n] = rng.integers(-127, 128, n)
            xq[v * ldq : v * ldq + min(n, 4)] = 127
        xs = rng.uniform(1e-3, 1e-1, nv).astype(np.float32)
        ny = (nv - 1) * ldy + m + 3
        y0 = rng.uniform(-1, 1, ny).astype(np.float32)
        want = y0.astype(np.float64).copy()
        bound = np.zeros(ny)
        for v in range(nv):
            acc = q.astype(np.int64) @ xq[v * ldq : v * ldq + n].astype(np.int64)  # exact
            term = (s * xs[v]).astype(np.float64) * acc
            want[v * ldy : v * ldy + m] += term
            bound[v * ldy : v * ldy + m] = 3 * EPS * (np.abs(term) + np.abs(y0[v * ldy : v * ldy + m]))
        recs.append(
            _hdr(op, nv, m, n, ldq, ldy, ny)
            + quant.pack_qs8(q, nr).tobytes()
            + quant.pad_scales(s, nr).tobytes()
            + xq.tobytes()
            + xs.tobytes()
            + y0.tobytes()
        )
        expect.append((f"qs8 op={op} nv={nv} m={m} n={n}", y0, want, bound, _owned(nv, m, ldy, ny)))
    return b"".join(recs), expect


def test_qs8_gemv_gemm(variant, tmp_path):
    nr = VARIANTS[variant[0]][4]
    recs, expect = _qs8_cases(np.random.default_rng(3), nr)
    _check(_run(variant, recs, tmp_path), expect)


def test_qs8_quantize(variant, tmp_path):
    rng = np.random.default_rng(4)
    cases, recs = [], []
    for nv, n, ldx in [
        (1, 1, 1),
        (1, 5, 5),
        (1, 16, 16),
        (1, 17, 17),
        (2, 33, 40),
        (3, 100, 100),
        (1, 255, 255),
        (2, 7, 7),
    ]:
        x = (rng.standard_normal((nv - 1) * ldx + n) * rng.uniform(0.01, 10)).astype(np.float32)
        if n == 7:
            x[:ldx] = 0.0  # an all-zero vector: scale 0, q 0
        # exact ties of x * 127 / max: round half to even
        if n == 100:
            x[0] = 127.0
            x[1:5] = [0.5, 1.5, -2.5, 3.5]
        ldq = -(-n // 16) * 16 + 16
        recs.append(_hdr(4, nv, 0, n, ldx, ldq, 0) + x.tobytes())
        cases.append((nv, n, ldx, ldq, x))
    out = _run(variant, b"".join(recs), tmp_path)
    pos = 0
    for nv, n, ldx, ldq, x in cases:
        q = np.frombuffer(out[pos : pos + nv * ldq], np.int8).reshape(nv, ldq)
        pos += nv * ldq
        sc = np.frombuffer(out[pos : pos + 4 * nv], np.float32)
        pos += 4 * nv
        for v in range(nv):
            xv = x[v * ldx : v * ldx + n]
            amax = np.float32(np.abs(xv).max())
            if amax == 0:
                want, ws = np.zeros(n, np.int8), np.float32(0)
            else:
                want = np.rint(xv * (np.float32(127) / amax)).astype(np.int8)
                ws = amax / np.float32(127)
            npad = -(-n // 16) * 16
            assert np.array_equal(q[v, :n], want), f"nv={nv} n={n} v={v}"
            assert not q[v, n:npad].any(), "padding not zeroed"
            assert np.all(q[v, npad:] == 0x55), "wrote past the padded vector"
            assert sc[v] == ws
    assert pos == len(out)
