"""Conv, BatchNormalization, MaxPool, AveragePool in compiled models, against onnxruntime.

Static extents here (a window over the run-time T needs the named dims): pads,
auto_pad, strides, dilations, groups (depthwise), bias, BatchNormalization
folded into a Conv and standing alone, ceil_mode, count_include_pad; on the
host and (NEON build) under qemu.  Channel counts and extents are not
multiples of the vector widths.  The C functions on their own:
tests/test_conv_runtime.py.
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import _compare, run_oracle

B = 3


# --------------------------------------------------------------------------
# helpers: one build, several runs, each compared with onnxruntime
# --------------------------------------------------------------------------


def build(path, work, target="host", **kw):
    from hlfgen.build import compile_out, generate

    gen = generate(path, work / "out", target=target, **kw)
    return gen, compile_out(gen.out_dir, work / "build", target=target)


def run_parity(gen, exe, path, feeds, work, target="host"):
    from hlfgen.build import run_runner

    outs, _ = run_runner(exe, feeds, target=target, work_dir=work)
    oracle, expected = run_oracle(path, feeds)
    for t in gen.model.outputs:
        got = outs[re.sub(r"[^A-Za-z0-9._-]", "_", t.name)]
        _compare(t.name, got, expected[t.name], f"runner vs {oracle}")
    return outs


class _G:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.outputs, self.n = [], [], [], 0

    def const(self, value, dtype=np.float32):
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def rand(self, *shape, scale=0.4):
        return self.const(self.rng.standard_normal(shape) * scale)

    def op(self, op_type, inputs, **attrs):
        self.n += 1
        out = f"{op_type.lower()}{self.n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"{op_type}_{self.n}", **attrs))
        return out

    def bn(self, x, c):
        return self.op(
            "BatchNormalization",
            [
                x,
                self.const(self.rng.uniform(0.5, 1.5, c)),
                self.rand(c),
                self.rand(c),
                self.const(self.rng.uniform(0.5, 2.0, c)),
            ],
            epsilon=1e-3,
        )

    def out(self, name):
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))

    def save(self, path, x_shape):
        x = helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)
        g = helper.make_graph(self.nodes, "conv", [x], self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        onnx.save(m, str(path))
        return path


# --------------------------------------------------------------------------
# static extents (an LSTM's final state reshaped into channels)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_model(tmp_path_factory):
    """Y_h [1, 2, 12] -> [2, 1, 12]: Conv1d (pads) + BN (folded) + Relu + MaxPool (ceil_mode); a strided
    SAME_LOWER Conv1d + AveragePool (count_include_pad); a depthwise dilated Conv1d; [2, 1, 3, 4]:
    Conv2d (strides, asymmetric pads) + a BN that stays (the Conv output is a graph output) and a
    dilated MaxPool2d."""
    g = _G(5)
    H, b = 12, 2
    g.nodes.append(
        helper.make_node("LSTM", ["X", g.rand(1, 4 * H, 5), g.rand(1, 4 * H, H)], ["y", "yh"], hidden_size=H)
    )
    t = g.op("Transpose", ["yh"], perm=[1, 0, 2])  # [B, 1, H]
    c = g.op("Conv", [t, g.rand(5, 1, 3), g.rand(5)], pads=[1, 1])
    g.out(g.op("MaxPool", [g.op("Relu", [g.bn(c, 5)])], kernel_shape=[2], strides=[2], ceil_mode=1))
    c1 = g.op("Conv", [t, g.rand(5, 1, 3), g.rand(5)], pads=[1, 1])
    c2 = g.op("Conv", [c1, g.rand(7, 5, 2)], strides=[2], auto_pad="SAME_LOWER")
    g.out(g.op("AveragePool", [c2], kernel_shape=[2], pads=[1, 0], count_include_pad=1))
    g.out(g.op("Conv", [c1, g.rand(5, 1, 3)], group=5, dilations=[2], pads=[2, 2]))
    r4 = g.op("Reshape", [t, g.const([b, 1, 3, 4], np.int64)])
    c4 = g.op("Conv", [r4, g.rand(6, 1, 2, 3), g.rand(6)], pads=[1, 1, 0, 1], strides=[1, 2])
    g.out(g.bn(c4, 6))
    g.out(c4)
    g.out(g.op("MaxPool", [c4], kernel_shape=[2, 2], dilations=[1, 2], pads=[0, 1, 1, 1]))
    return g.save(tmp_path_factory.mktemp("static") / "static.onnx", ["T", b, 5])


def _x(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_static_graph(static_model, tmp_path, target):
    from conftest import assert_parity

    rep = assert_parity(static_model, {"X": _x((6, 2, 5), 0)}, work_dir=tmp_path / "w", target=target)
    assert rep.ok
    code = (tmp_path / "w" / "out" / "static_model.c").read_text()
    assert code.count("folded in") == 1 and code.count("hlf_channel_affine_f32(") == 1  # one BN folded, one not
    assert "hlf_conv_direct_f32(" in code and "hlf_conv_f32(" in code  # depthwise direct, the others GEMM


def test_errors(tmp_path):
    from hlfgen.errors import HlfgenError
    from hlfgen.reader import read_model

    cases = [
        (dict(auto_pad="SAME_UPPER", dilations=[2]), "dilations"),
        (dict(strides=[2, 2]), "strides"),
        (dict(pads=[1, 1], auto_pad="VALID"), "auto_pad"),
    ]
    for attrs, words in cases:
        g = _G(3)
        g.out(g.op("Conv", ["X", g.rand(4, 3, 3)], **attrs))
        x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3, 9])
        m = helper.make_model(
            helper.make_graph(g.nodes, "e", [x], g.outputs, g.inits), opset_imports=[helper.make_opsetid("", 17)]
        )
        onnx.save(m, str(tmp_path / "e.onnx"))
        with pytest.raises(HlfgenError, match=words) as e:
            read_model(tmp_path / "e.onnx")
        assert "Conv" in str(e.value) and "\n" not in str(e.value)
