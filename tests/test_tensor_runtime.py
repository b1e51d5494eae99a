"""runtime/hlf_tensor.c against numpy, through ctypes (gcc and clang, host).

Random shapes, sizes that are not multiples of the vector width, every
element type the functions take.  The AArch64 builds are compiled here with
-Werror (the generated models run them under qemu in tests/test_ops_*.py).
"""

from __future__ import annotations

import ctypes as C
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

RUNTIME = Path(__file__).resolve().parent.parent / "runtime"
SOURCES = [RUNTIME / "hlf_tensor.c", RUNTIME / "hlf_nn.c"]
FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=fast", "-fno-trapping-math"]
ELEM = {np.float32: 0, np.int32: 1, np.int64: 2, np.bool_: 3}
COMPILERS = [c for c in ("gcc", "clang") if shutil.which(c)]


@pytest.fixture(scope="module", params=COMPILERS)
def lib(request, tmp_path_factory):
    so = tmp_path_factory.mktemp(request.param) / "libhlft.so"
    subprocess.run(
        [
            request.param,
            *FLAGS,
            "-DHLF_NR=16",
            "-shared",
            "-fPIC",
            f"-I{RUNTIME}",
            *map(str, SOURCES),
            "-lm",
            "-o",
            str(so),
        ],
        check=True,
    )
    return C.CDLL(str(so))


@pytest.mark.parametrize("cc", ["gcc", "clang", "aarch64-linux-gnu-gcc"])
@pytest.mark.parametrize("nr", [8, 16])
def test_compiles_werror(cc, nr, tmp_path):
    if not shutil.which(cc) or (cc.startswith("aarch64") and nr != 8):
        pytest.skip(f"{cc} not installed" if not shutil.which(cc) else "the NEON kernels use 8-row panels")
    extra = ["-mcpu=cortex-a73", "-DHLF_USE_NEON"] if cc.startswith("aarch64") else []
    for src in SOURCES:
        subprocess.run(
            [
                cc,
                *FLAGS,
                "-pedantic",
                f"-DHLF_NR={nr}",
                *extra,
                f"-I{RUNTIME}",
                "-c",
                str(src),
                "-o",
                str(tmp_path / "t.o"),
            ],
            check=True,
        )


def ptr(a: np.ndarray):
    return a.ctypes.data_as(C.c_void_p)


def longs(vals):
    vals = list(vals) or [1]
    return (C.c_long * len(vals))(*vals)


def full_mask(shape, out) -> int:
    off = len(out) - len(shape)
    return sum(1 << i for i in range(len(out)) if i >= off and shape[i - off] == out[i] and out[i] != 1)


RNG = np.random.default_rng(7)


def rand_shape(rank, hi=6):
    return tuple(int(v) for v in RNG.integers(1, hi, size=rank))


def broadcastable_pair(rank):
    out = rand_shape(rank)
    a = tuple(d if RNG.random() < 0.6 else 1 for d in out)
    b = tuple(d if RNG.random() < 0.6 else 1 for d in out)
    a = a[int(RNG.integers(0, rank + 1)) :] if RNG.random() < 0.3 else a
    return a, b, tuple(np.broadcast_shapes(a, b))


def rand(shape, dtype):
    if dtype == np.float32:
        v = RNG.standard_normal(shape)
    elif dtype == np.bool_:
        v = RNG.random(shape) < 0.5
    else:
        v = RNG.integers(-4, 5, size=shape)
    return np.ascontiguousarray(np.asarray(v, dtype))


# ------------------------------------------------------------------ MatMul


@pytest.mark.parametrize(
    "case",
    [
        ((1,), (3, 1), 1, 1, 1),
        ((), (), 7, 9, 17),
        ((2, 3), (2, 3), 5, 8, 33),
        ((2, 3), (1,), 4, 31, 16),
        ((3,), (3,), 1, 13, 67),
        ((1, 4), (3, 1), 9, 3, 5),
        ((), (), 33, 65, 129),
        ((2,), (2,), 6, 1, 40),
    ],
)
def test_matmul(lib, case):
    ba, bb, m, k, n = case
    a = RNG.standard_normal(ba + (m, k)).astype(np.float32)
    b = RNG.standard_normal(bb + (k, n)).astype(np.float32)
    exp = np.matmul(a, b)
    bdims = exp.shape[:-2]
    got = np.full(exp.shape, np.nan, np.float32)
    lib.hlf_f32_matmul(
        len(bdims),
        longs(bdims),
        full_mask(ba, bdims),
        full_mask(bb, bdims),
        C.c_size_t(m),
        C.c_size_t(k),
        C.c_size_t(n),
        ptr(a),
        ptr(b),
        ptr(got),
    )
    np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-5)


def test_matmul_2d_strided(lib):
    a = RNG.standard_normal((11, 40)).astype(np.float32)
    b = RNG.standard_normal((30, 50)).astype(np.float32)
    c = np.full((11, 60), 5.0, np.float32)
    lib.hlf_f32_matmul_2d(
        C.c_size_t(11),
        C.c_size_t(30),
        C.c_size_t(37),
        ptr(a),
        C.c_size_t(40),
        ptr(b),
        C.c_size_t(50),
        ptr(c),
        C.c_size_t(60),
    )
    np.testing.assert_allclose(c[:, :37], a[:, :30] @ b[:, :37], rtol=1e-5, atol=1e-5)
    assert np.all(c[:, 37:] == 5.0)  # nothing written past n


# -------------------------------------------------------------- reductions

REDUCE = {
    0: np.sum,
    1: np.mean,
    2: np.max,
    3: np.min,
    4: np.prod,
    5: lambda x, axis: np.sum(np.abs(x), axis),
    6: lambda x, axis: np.sqrt(np.sum(x * x, axis)),
    7: lambda x, axis: np.sum(x * x, axis),
}


@pytest.mark.parametrize("op", sorted(REDUCE))
def test_reduce_f32(lib, op):
    for trial in range(12):
        rank = int(RNG.integers(1, 5))
        shape = rand_shape(rank, 7)
        mask = int(RNG.integers(0, 1 << rank))
        x = RNG.uniform(0.5, 1.5, shape).astype(np.float32) * np.where(RNG.random(shape) < 0.5, -1, 1).astype(
            np.float32
        )
        axes = tuple(i for i in range(rank) if mask >> i & 1)
        exp = np.asarray(REDUCE[op](x.astype(np.float64), axis=axes), np.float32)
        got = np.zeros(exp.shape, np.float32)
        lib.hlf_f32_reduce(op, rank, longs(shape), mask, ptr(x), ptr(got))
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-5, err_msg=f"{shape} axes {axes}")


@pytest.mark.parametrize("dtype,fn", [(np.int64, "hlf_i64_reduce"), (np.int32, "hlf_i32_reduce")])
@pytest.mark.parametrize("op", [0, 1, 2, 3, 4])
def test_reduce_int(lib, dtype, fn, op):
    for trial in range(8):
        rank = int(RNG.integers(1, 4))
        shape = rand_shape(rank)
        mask = int(RNG.integers(1, 1 << rank))
        x = RNG.integers(-3, 4, size=shape).astype(dtype)
        axes = tuple(i for i in range(rank) if mask >> i & 1)
        if op == 1:  # integer mean: sum / count truncated toward zero (C, onnxruntime)
            s, cnt = np.sum(x, axis=axes), np.prod([shape[i] for i in axes])
            exp = (np.sign(s) * (np.abs(s) // cnt)).astype(dtype)
        else:
            exp = np.asarray(REDUCE[op](x, axis=axes), dtype)
        got = np.zeros(exp.shape, dtype)
        getattr(lib, fn)(op, rank, longs(shape), mask, ptr(x), ptr(got))
        np.testing.assert_array_equal(got, exp)


def test_reduce_empty_identity(lib):
    x = np.zeros((3, 0), np.float32)
    for op, val in ((0, 0.0), (4, 1.0), (2, -np.inf), (3, np.inf)):
        got = np.full(3, 7.0, np.float32)
        lib.hlf_f32_reduce(op, 2, longs((3, 0)), 2, ptr(x), ptr(got))
        assert np.all(got == val)


# --------------------------------------------------------- LayerNormalization


@pytest.mark.parametrize("outer,n,bias", [(1, 1, True), (5, 7, True), (3, 33, False), (4, 130, True)])
def test_layernorm(lib, outer, n, bias):
    x = (RNG.standard_normal((outer, n)) * 3 + 1).astype(np.float32)
    s = RNG.standard_normal(n).astype(np.float32)
    b = RNG.standard_normal(n).astype(np.float32)
    mu = x.astype(np.float64).mean(1, keepdims=True)
    inv = 1 / np.sqrt(((x - mu) ** 2).mean(1, keepdims=True) + 1e-5)
    exp = (x - mu) * inv * s + (b if bias else 0)
    y, m, r = np.zeros_like(x), np.zeros(outer, np.float32), np.zeros(outer, np.float32)
    lib.hlf_f32_layernorm(
        C.c_size_t(outer),
        C.c_size_t(n),
        ptr(x),
        ptr(s),
        ptr(b) if bias else None,
        C.c_float(1e-5),
        ptr(y),
        ptr(m),
        ptr(r),
    )
    np.testing.assert_allclose(y, exp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m, mu[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r, inv[:, 0], rtol=1e-5)


# --------------------------------------------- comparisons, logic, Where, ints

CMP = {0: np.less, 1: np.less_equal, 2: np.greater, 3: np.greater_equal, 4: np.equal}


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.bool_])
def test_compare(lib, dtype):
    for op, fn in CMP.items():
        for trial in range(6):
            sa, sb, out = broadcastable_pair(int(RNG.integers(1, 5)))
            a, b = rand(sa, dtype), rand(sb, dtype)
            if dtype == np.float32 and a.size and b.size:  # some exact ties
                a.reshape(-1)[0] = b.reshape(-1)[0]
            got = np.full(out, 7, np.uint8)
            lib.hlf_compare(
                op,
                ELEM[dtype],
                len(out),
                longs(out),
                ptr(np.ascontiguousarray(a)),
                full_mask(sa, out),
                ptr(np.ascontiguousarray(b)),
                full_mask(sb, out),
                ptr(got),
            )
            np.testing.assert_array_equal(got, fn(a, b).astype(np.uint8), err_msg=f"op {op} {sa} {sb}")


def test_logic_not(lib):
    for op, fn in {0: np.logical_and, 1: np.logical_or, 2: np.logical_xor}.items():
        for trial in range(8):
            sa, sb, out = broadcastable_pair(int(RNG.integers(1, 5)))
            a, b = rand(sa, np.bool_), rand(sb, np.bool_)
            got = np.full(out, 7, np.uint8)
            lib.hlf_logic(op, len(out), longs(out), ptr(a), full_mask(sa, out), ptr(b), full_mask(sb, out), ptr(got))
            np.testing.assert_array_equal(got, fn(a, b).astype(np.uint8))
    x = rand((37,), np.bool_)
    y = np.full(37, 7, np.uint8)
    lib.hlf_not(C.c_size_t(37), ptr(x), ptr(y))
    np.testing.assert_array_equal(y, (~x).astype(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.bool_])
def test_where(lib, dtype):
    for trial in range(10):
        rank = int(RNG.integers(1, 5))
        out = rand_shape(rank)
        shapes = [tuple(d if RNG.random() < 0.6 else 1 for d in out) for _ in range(3)]
        shapes[2] = shapes[2][int(RNG.integers(0, rank + 1)) :]
        out = tuple(np.broadcast_shapes(*shapes))
        c, x, y = rand(shapes[0], np.bool_), rand(shapes[1], dtype), rand(shapes[2], dtype)
        got = np.zeros(out, dtype)
        lib.hlf_where(
            len(out),
            longs(out),
            ptr(c),
            full_mask(shapes[0], out),
            ptr(x),
            full_mask(shapes[1], out),
            ptr(y),
            full_mask(shapes[2], out),
            C.c_size_t(np.dtype(dtype).itemsize),
            ptr(got),
        )
        np.testing.assert_array_equal(got, np.where(c, x, y))


@pytest.mark.parametrize("dtype,fn", [(np.int64, "hlf_i64_binary"), (np.int32, "hlf_i32_binary")])
def test_int_binary(lib, dtype, fn):
    ops = {
        0: np.add,
        1: np.subtract,
        2: np.multiply,
        3: lambda a, b: np.sign(a * b) * (np.abs(a) // np.abs(b)),
        5: np.maximum,
        6: np.minimum,
    }
    for op, f in ops.items():
        for trial in range(6):
            sa, sb, out = broadcastable_pair(int(RNG.integers(1, 4)))
            a, b = rand(sa, dtype) * 3, rand(sb, dtype)
            if op == 3:
                b[b == 0] = 2
            got = np.zeros(out, dtype)
            getattr(lib, fn)(op, len(out), longs(out), ptr(a), full_mask(sa, out), ptr(b), full_mask(sb, out), ptr(got))
            np.testing.assert_array_equal(got, np.asarray(f(a, b), dtype))


# ------------------------------------------------------------ Cast, Range


@pytest.mark.parametrize("src", [np.float32, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("dst", [np.float32, np.int32, np.int64, np.bool_])
def test_cast(lib, src, dst):
    x = (RNG.standard_normal(29) * 4).astype(src) if src != np.bool_ else rand(29, np.bool_)
    if src == np.float32:
        x[:4] = [0.0, -0.0, 0.5, -2.7]
    got = np.zeros(29, dst)
    lib.hlf_cast(ELEM[src], ELEM[dst], C.c_size_t(29), ptr(x), ptr(got))
    np.testing.assert_array_equal(got, x.astype(dst))


def test_range(lib):
    y = np.zeros(11, np.float32)
    lib.hlf_f32_range(C.c_size_t(11), C.c_float(-1.5), C.c_float(0.3), ptr(y))
    exp = np.zeros(11, np.float32)
    v = np.float32(-1.5)
    for i in range(11):  # onnxruntime accumulates
        exp[i] = v
        v = np.float32(v + np.float32(0.3))
    np.testing.assert_array_equal(y, exp)
    yi = np.zeros(6, np.int64)
    lib.hlf_i64_range(C.c_size_t(6), C.c_int64(10), C.c_int64(-3), ptr(yi))
    np.testing.assert_array_equal(yi, np.arange(10, -8, -3))
    y32 = np.zeros(5, np.int32)
    lib.hlf_i32_range(C.c_size_t(5), C.c_int32(2), C.c_int32(1), ptr(y32))
    np.testing.assert_array_equal(y32, np.arange(2, 7))


# ------------------------------------------------------------------ TopK


@pytest.mark.parametrize(
    "dtype,fn", [(np.float32, "hlf_f32_topk"), (np.int64, "hlf_i64_topk"), (np.int32, "hlf_i32_topk")]
)
@pytest.mark.parametrize("largest", [1, 0])
def test_topk(lib, dtype, fn, largest):
    for outer, n, inner, k in ((1, 1, 1, 1), (3, 9, 1, 4), (2, 17, 3, 17), (4, 6, 5, 0), (1, 33, 2, 5)):
        x = RNG.integers(-5, 6, size=(outer, n, inner)).astype(dtype)  # many ties
        key = -x.astype(np.float64) if largest else x.astype(np.float64)
        order = np.argsort(key, axis=1, kind="stable")[:, :k]  # ties: lower index first
        vals = np.zeros((outer, k, inner), dtype)
        idx = np.zeros((outer, k, inner), np.int64)
        rc = getattr(lib, fn)(
            C.c_size_t(outer), C.c_size_t(n), C.c_size_t(inner), C.c_size_t(k), largest, ptr(x), ptr(vals), ptr(idx)
        )
        assert rc == 0
        np.testing.assert_array_equal(idx, order)
        np.testing.assert_array_equal(vals, np.take_along_axis(x, order, axis=1))
    assert (
        getattr(lib, fn)(C.c_size_t(1), C.c_size_t(3), C.c_size_t(1), C.c_size_t(4), 1, ptr(x), ptr(vals), ptr(idx))
        == -1
    )


# ------------------------------------------------------- ScatterElements


def scatter_oracle(data, idx, upd, axis, reduction):
    out = data.copy()
    for p in np.ndindex(*idx.shape):
        q = list(p)
        q[axis] = int(idx[p]) % data.shape[axis]
        q = tuple(q)
        u = upd[p]
        out[q] = {0: u, 1: out[q] + u, 2: out[q] * u, 3: max(out[q], u), 4: min(out[q], u)}[reduction]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
@pytest.mark.parametrize("reduction", [0, 1, 2, 3, 4])
def test_scatter_elements(lib, dtype, reduction):
    for trial in range(6):
        rank = int(RNG.integers(1, 4))
        dims = rand_shape(rank)
        axis = int(RNG.integers(0, rank))
        idims = tuple(int(RNG.integers(1, d + 1)) for d in dims)
        idx = RNG.integers(-dims[axis], dims[axis], size=idims).astype(np.int64 if trial % 2 else np.int32)
        data, upd = rand(dims, dtype), rand(idims, dtype)
        got = np.zeros(dims, dtype)
        rc = lib.hlf_scatter_elements(
            ELEM[dtype],
            reduction,
            rank,
            longs(dims),
            longs(idims),
            axis,
            ptr(data),
            ptr(idx),
            int(idx.dtype == np.int64),
            ptr(upd),
            ptr(got),
        )
        assert rc == 0
        np.testing.assert_array_equal(got, scatter_oracle(data, idx, upd, axis, reduction))
    bad = np.array([dims[axis]] + [0] * (int(np.prod(idims)) - 1), np.int64).reshape(idims)
    assert (
        lib.hlf_scatter_elements(
            ELEM[dtype], reduction, rank, longs(dims), longs(idims), axis, ptr(data), ptr(bad), 1, ptr(upd), ptr(got)
        )
        == -1
    )


# ---------------------------------------------------------- Softmax (hlf_nn.c)


@pytest.mark.parametrize("log", [0, 1])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 17, 1), (2, 5, 7), (1, 9, 130), (4, 1, 3)])
def test_softmax_blocks(lib, shape, log):
    x = (RNG.standard_normal(shape) * 5).astype(np.float32)
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    exp = np.log(e / e.sum(1, keepdims=True)) if log else e / e.sum(1, keepdims=True)
    for inplace in (False, True):
        y = x.copy() if inplace else np.zeros_like(x)
        lib.hlf_f32_softmax(
            C.c_size_t(shape[0]), C.c_size_t(shape[1]), C.c_size_t(shape[2]), ptr(y if inplace else x), ptr(y), log
        )
        np.testing.assert_allclose(y, exp, rtol=1e-5, atol=1e-6)
