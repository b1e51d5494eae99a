"""runtime/hlf_conv.c on its own (through ctypes) against onnxruntime.

Conv (im2col + packed GEMM, and the direct form), MaxPool, AveragePool and
the per-channel affine of BatchNormalization, on random shapes whose channel
counts and extents are not multiples of the vector widths, with pads,
auto_pad, strides, dilations, groups (depthwise included), ceil_mode and
count_include_pad.  The library is built with gcc -Wall -Wextra -Werror and
the portable kernels at both panel heights (HLF_NR 8: NEON's, 16: the host's).
"""

from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import REPO_ROOT
from hlfgen import pack

RT = REPO_ROOT / "runtime"
PAD_MODES = {"NOTSET": 0, "VALID": 1, "SAME_UPPER": 2, "SAME_LOWER": 3}


class Window(ctypes.Structure):
    _fields_ = [(f, ctypes.c_long * 2) for f in ("in_", "out", "kernel", "stride", "dilation", "pad_begin", "pad_end")]


@pytest.fixture(scope="module", params=[8, 16])
def lib(request, tmp_path_factory):
    nr = request.param
    so = tmp_path_factory.mktemp(f"conv_rt{nr}") / "libhlfconv.so"
    srcs = [RT / "hlf_conv.c", RT / "kernels" / "f32-gemv-acc-scalar.c", RT / "kernels" / "f32-gemm-acc-scalar.c"]
    subprocess.run(
        [
            "gcc",
            "-std=c99",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fPIC",
            "-shared",
            f"-DHLF_NR={nr}",
            f"-I{RT}",
            *map(str, srcs),
            "-o",
            str(so),
        ],
        check=True,
    )
    L = ctypes.CDLL(str(so))
    L.nr = nr
    fp = ctypes.POINTER(ctypes.c_float)
    lp = ctypes.POINTER(ctypes.c_long)
    sz = ctypes.c_size_t
    L.hlf_window_init.argtypes = [ctypes.POINTER(Window), ctypes.c_int, ctypes.c_int, lp, lp]
    L.hlf_conv_f32.argtypes = [ctypes.POINTER(Window), sz, sz, sz, sz, fp, fp, fp, fp, fp]
    L.hlf_conv_direct_f32.argtypes = [ctypes.POINTER(Window), sz, sz, sz, sz, fp, fp, fp, fp]
    L.hlf_maxpool_f32.argtypes = [ctypes.POINTER(Window), sz, fp, fp]
    L.hlf_avgpool_f32.argtypes = [ctypes.POINTER(Window), sz, ctypes.c_int, fp, fp]
    L.hlf_channel_affine_f32.argtypes = [sz, sz, sz, fp, fp, fp, fp]
    return L


def _f(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float)) if a is not None else None


def _l(vals):
    return (ctypes.c_long * 2)(*vals)


def _ort(node, feeds, opset=19):
    import onnxruntime as ort

    ins = [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in feeds.items()]
    g = helper.make_graph([node], "t", ins, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _window(lib, in_, k, s, d, pads, auto_pad, ceil_mode=0):
    """The 2-D geometry of an op with rank-1 or rank-2 spatial attributes (1-D: H = 1)."""
    r = len(in_)
    pad = lambda v: [1] * (2 - r) + list(v)
    w = Window()
    w.in_[:] = pad(in_)
    w.kernel[:] = pad(k)
    w.stride[:] = pad(s)
    w.dilation[:] = pad(d)
    pb = [0] * (2 - r) + list(pads[:r])
    pe = [0] * (2 - r) + list(pads[r:])
    rc = lib.hlf_window_init(ctypes.byref(w), PAD_MODES[auto_pad], ceil_mode, _l(pb), _l(pe))
    return w, rc, pe


def _attrs(k, s, d, pads, auto_pad, **kw):
    a = dict(kernel_shape=list(k), strides=list(s), **kw)
    if d is not None:
        a["dilations"] = list(d)
    if auto_pad == "NOTSET":
        a["pads"] = list(pads)
    else:
        a["auto_pad"] = auto_pad
    return a


CONV_CASES = [
    # (N, C, M, group, spatial, kernel, stride, dilation, pads, auto_pad)
    (2, 5, 7, 1, (23,), (3,), (1,), (1,), (1, 1), "NOTSET"),  # Conv1d over MFCC frames
    (1, 13, 19, 1, (37,), (5,), (2,), (1,), (0, 0), "NOTSET"),  # strided 1-D
    (3, 6, 9, 3, (17,), (4,), (3,), (2,), (2, 1), "NOTSET"),  # grouped, dilated, asymmetric pads
    (2, 1, 11, 1, (19, 13), (5, 3), (2, 1), (1, 1), (0, 1, 0, 1), "NOTSET"),  # CRNN [B, 1, T, F]
    (1, 7, 7, 7, (11, 9), (3, 3), (1, 2), (1, 1), (1, 1, 1, 1), "NOTSET"),  # depthwise
    (2, 4, 10, 2, (10, 7), (3, 2), (2, 2), (1, 1), None, "SAME_UPPER"),  # onnxruntime refuses SAME with dilations
    (1, 3, 4, 1, (11, 12), (3, 2), (1, 3), (1, 1), None, "SAME_LOWER"),
    (1, 3, 5, 1, (9, 8), (2, 3), (3, 2), (1, 1), None, "SAME_LOWER"),
    (1, 6, 17, 1, (8, 12), (3, 3), (1, 1), (1, 1), None, "VALID"),
    (2, 9, 20, 1, (70,), (3,), (1,), (1,), (1, 1), "SAME_UPPER"),  # more than one HLF_CONV_CHUNK of positions
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{len(c[4])}d-g{c[3]}-{c[9]}")
@pytest.mark.parametrize("direct", [False, True])
def test_conv(lib, case, direct):
    n, c, m, g, sp, k, s, d, pads, auto_pad = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = rng.standard_normal((n, c) + sp).astype(np.float32)
    wt = rng.standard_normal((m, c // g) + k).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    node = helper.make_node(
        "Conv", ["X", "W", "B"], ["Y"], group=g, **_attrs(k, s, d, pads or [0] * 2 * len(sp), auto_pad)
    )
    exp = _ort(node, {"X": x, "W": wt, "B": b})
    w, rc, _ = _window(lib, sp, k, s, d, pads or [0] * 4, auto_pad)
    assert rc == 0
    out = (w.out[0],) * (len(sp) == 2) + (w.out[1],)
    assert out == exp.shape[2:]
    y = np.full((n, m) + out, np.nan, np.float32)
    mg, cg = m // g, c // g
    if direct:
        lib.hlf_conv_direct_f32(ctypes.byref(w), n, g, cg, mg, _f(np.ascontiguousarray(wt)), _f(b), _f(x), _f(y))
    else:
        packed = np.concatenate([pack.pack_panels(wt[i * mg : (i + 1) * mg].reshape(mg, -1), lib.nr) for i in range(g)])
        scratch = np.full(32 * (cg * int(np.prod(k)) + mg), np.nan, np.float32)
        lib.hlf_conv_f32(ctypes.byref(w), n, g, cg, mg, _f(packed), _f(b), _f(x), _f(y), _f(scratch))
    np.testing.assert_allclose(y, exp, atol=1e-4, rtol=1e-4)


POOL_CASES = [
    # (spatial, kernel, stride, dilation, pads, auto_pad, ceil_mode)
    ((23,), (3,), (2,), (1,), (1, 1), "NOTSET", 0),
    ((24,), (3,), (2,), (1,), (0, 0), "NOTSET", 1),
    ((15, 11), (3, 2), (2, 2), (1, 1), (1, 0, 1, 1), "NOTSET", 1),
    ((13, 10), (2, 3), (2, 3), (1, 1), (0, 0, 0, 0), "NOTSET", 0),
    ((9, 14), (3, 3), (2, 2), (1, 1), None, "SAME_UPPER", 0),
    ((7, 9), (2, 4), (3, 2), (1, 1), None, "SAME_LOWER", 0),
    ((12, 17), (2, 2), (1, 3), (1, 1), None, "VALID", 1),
    ((18, 9), (3, 2), (2, 1), (2, 2), (1, 1, 2, 0), "NOTSET", 1),  # dilated (MaxPool only)
    ((11, 10), (3, 2), (2, 3), (2, 3), None, "SAME_UPPER", 0),
    ((10, 13), (2, 3), (3, 1), (3, 2), None, "SAME_LOWER", 0),
]


POOL_PARAMS = [
    pytest.param(case, op, id=f"{op}-{len(case[0])}d-{case[5]}-ceil{case[6]}-dil{max(case[3])}")
    for case in POOL_CASES
    for op in ("MaxPool", "AveragePool0", "AveragePool1")
    if op == "MaxPool" or max(case[3]) == 1
]  # AveragePool: no dilations (opset < 19)


@pytest.mark.parametrize("case,op", POOL_PARAMS)
def test_pool(lib, case, op):
    sp, k, s, d, pads, auto_pad, ceil_mode = case
    rng = np.random.default_rng(hash((case, op)) % 2**32)
    n, c = 2, 3
    x = rng.standard_normal((n, c) + sp).astype(np.float32)
    extra = {} if op == "MaxPool" else {"count_include_pad": int(op[-1])}
    node = helper.make_node(
        op.rstrip("01"),
        ["X"],
        ["Y"],
        **_attrs(
            k, s, d if op == "MaxPool" else None, pads or [0] * 2 * len(sp), auto_pad, ceil_mode=ceil_mode, **extra
        ),
    )
    exp = _ort(node, {"X": x})
    w, rc, _ = _window(lib, sp, k, s, d, pads or [0] * 4, auto_pad, ceil_mode)
    assert rc == 0
    out = (w.out[0],) * (len(sp) == 2) + (w.out[1],)
    assert out == exp.shape[2:]
    y = np.full((n, c) + out, np.nan, np.float32)
    if op == "MaxPool":
        lib.hlf_maxpool_f32(ctypes.byref(w), n * c, _f(x), _f(y))
    else:
        lib.hlf_avgpool_f32(ctypes.byref(w), n * c, int(op[-1]), _f(x), _f(y))
    np.testing.assert_allclose(y, exp, atol=1e-5, rtol=1e-5)


def test_channel_affine(lib):
    rng = np.random.default_rng(5)
    n, c, inner = 3, 7, 13
    x = rng.standard_normal((n, c, inner)).astype(np.float32)
    scale, shift = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    y = np.empty_like(x)
    lib.hlf_channel_affine_f32(n, c, inner, _f(scale), _f(shift), _f(x), _f(y))
    np.testing.assert_allclose(y, x * scale[:, None] + shift[:, None], rtol=1e-6, atol=1e-6)
