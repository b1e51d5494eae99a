"""Conv, BatchNormalization, MaxPool, AveragePool in compiled models, against onnxruntime.

* the window rule of ops/window.py on a run-time extent T (an expression such
  as floor((T + 2 - 5) / 2) + 1) equals the rule on every concrete T;
* hand-made graphs (onnx.helper) over [B, C, T] and [B, 1, T, F] with a
  run-time T: pads, auto_pad, strides, dilations, groups (depthwise), bias,
  BatchNormalization folded into a Conv and standing alone, ceil_mode and
  count_include_pad; built once with --max-dim T and run at two lengths, on
  the host and (NEON build) under qemu;
* PyTorch CRNN keyword spotters (Conv1d -> LSTM; strided Conv2d + BatchNorm
  -> MaxPool -> reshape -> LSTM), exported in a subprocess, at two lengths.

Channel counts and extents are not multiples of the vector widths.
"""

from __future__ import annotations

import re
import subprocess
import sys

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
        return self.op("BatchNormalization", [x, self.const(self.rng.uniform(0.5, 1.5, c)), self.rand(c),
                                              self.rand(c), self.const(self.rng.uniform(0.5, 2.0, c))],
                       epsilon=1e-3)

    def out(self, name):
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))

    def save(self, path, x_shape):
        x = helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)
        g = helper.make_graph(self.nodes, "conv", [x], self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        onnx.save(m, str(path))
        return path


# --------------------------------------------------------------------------
# the window rule on a run-time extent
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kernel,stride,dilation,pads,auto_pad,ceil", [
    (5, 2, 1, (1, 1), "NOTSET", 0), (3, 3, 2, (2, 0), "NOTSET", 0), (4, 1, 1, (0, 0), "VALID", 0),
    (3, 2, 1, None, "SAME_UPPER", 0), (2, 3, 1, None, "SAME_LOWER", 0), (3, 2, 2, None, "SAME_UPPER", 0),
    (2, 2, 1, (0, 0), "NOTSET", 1), (3, 2, 1, (1, 2), "NOTSET", 1),
])
def test_window_rule_on_runtime_extent(kernel, stride, dilation, pads, auto_pad, ceil):
    from hlfgen import dims as D
    from hlfgen.ops.window import Window, out_extent

    pb, pe = pads or (0, 0)
    win = Window(1, [kernel], [stride], [dilation], [pb], [pe], auto_pad, ceil)
    expr = out_extent(None, win, 0, D.sym("T"))
    for t in range(dilation * (kernel - 1) + 1, 40):
        assert D.evaluate(expr, {"T": t}) == out_extent(None, win, 0, t), (expr, t)


# --------------------------------------------------------------------------
# hand-made graphs, run-time T
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conv1d_model(tmp_path_factory):
    """[B, 13, T]: Conv1d (pads, stride 2) + BN (folded) + Relu, a depthwise dilated Conv1d,
    a grouped SAME_UPPER Conv1d, MaxPool1d (ceil_mode), AveragePool1d (count_include_pad)."""
    g = _G(1)
    y = g.op("Relu", [g.bn(g.op("Conv", ["X", g.rand(22, 13, 5), g.rand(22)], pads=[1, 1], strides=[2]), 22)])
    dw = g.op("Conv", [y, g.rand(22, 1, 3)], group=22, pads=[2, 2], dilations=[2])  # depthwise, no bias
    gr = g.op("Conv", [dw, g.rand(10, 11, 3), g.rand(10)], group=2, auto_pad="SAME_UPPER", strides=[2])
    g.out(g.op("MaxPool", [gr], kernel_shape=[2], strides=[2], ceil_mode=1, pads=[0, 0]))
    g.out(g.op("AveragePool", [dw], kernel_shape=[3], strides=[1], pads=[1, 1], count_include_pad=1))
    g.out(g.op("AveragePool", [y], kernel_shape=[4], strides=[3], pads=[2, 0], count_include_pad=0))
    return g.save(tmp_path_factory.mktemp("conv1d") / "conv1d.onnx", ["B", 13, "T"])


@pytest.fixture(scope="module")
def conv2d_model(tmp_path_factory):
    """[B, 1, T, 10]: strided Conv2d (the CRNN front end), a BatchNormalization that cannot be
    folded (the Conv output is also an output), MaxPool over F, grouped 2-D Conv, AveragePool 2-D."""
    g = _G(2)
    c = g.op("Conv", ["X", g.rand(6, 1, 5, 3), g.rand(6)], strides=[2, 1], pads=[0, 1, 0, 1])
    g.out(c)
    y = g.op("Relu", [g.bn(c, 6)])
    p = g.op("MaxPool", [y], kernel_shape=[1, 2], strides=[1, 2])
    g.out(p)
    q = g.op("Conv", [p, g.rand(9, 2, 3, 2), g.rand(9)], group=3, pads=[1, 0, 1, 1], dilations=[2, 1])
    g.out(g.op("AveragePool", [q], kernel_shape=[2, 2], strides=[1, 2], count_include_pad=0))
    g.out(g.op("MaxPool", [q], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], dilations=[1, 2]))
    return g.save(tmp_path_factory.mktemp("conv2d") / "conv2d.onnx", ["B", 1, "T", 10])


def _x(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_conv1d_graph(conv1d_model, tmp_path, target):
    gen, exe = build(conv1d_model, tmp_path, target, dims={"B": B}, max_dims={"T": 40})
    code = (gen.out_dir / f"{gen.model.name}.c").read_text()
    assert "folded in" in code and "hlf_channel_affine_f32(" not in code  # BN went into the Conv's weights
    assert "hlf_conv_direct_f32(" in code and "hlf_conv_f32(" in code  # depthwise direct, the others GEMM
    for t in (40, 23):
        run_parity(gen, exe, conv1d_model, {"X": _x((B, 13, t), t)}, tmp_path / f"run{t}", target)


def test_conv2d_graph(conv2d_model, tmp_path, target):
    gen, exe = build(conv2d_model, tmp_path, target, dims={"B": B}, max_dims={"T": 31})
    code = (gen.out_dir / f"{gen.model.name}.c").read_text()
    assert "hlf_channel_affine_f32(" in code  # the Conv output is a graph output too: BN stays
    for t in (31, 12):
        run_parity(gen, exe, conv2d_model, {"X": _x((B, 1, t, 10), t)}, tmp_path / f"run{t}", target)


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
        x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3, "T"])
        m = helper.make_model(helper.make_graph(g.nodes, "e", [x], g.outputs, g.inits),
                              opset_imports=[helper.make_opsetid("", 17)])
        onnx.save(m, str(tmp_path / "e.onnx"))
        with pytest.raises(HlfgenError, match=words) as e:
            read_model(tmp_path / "e.onnx", max_dims={"T": 9})
        assert "Conv" in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------
# PyTorch CRNNs
# --------------------------------------------------------------------------

CRNN_SCRIPT = r'''
import sys, warnings
import torch
from torch import nn

class CRNN1d(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv = nn.Conv1d(13, 22, kernel_size=5, stride=2, padding=1)
        s.bn = nn.BatchNorm1d(22)
        s.dw = nn.Conv1d(22, 22, kernel_size=3, padding=1, groups=22)
        s.lstm = nn.LSTM(22, 19, batch_first=True)
        s.fc = nn.Linear(19, 7)
    def forward(s, x):                      # x [B, 13, T] (MFCC frames)
        y = s.dw(torch.relu(s.bn(s.conv(x)))).transpose(1, 2)
        out, _ = s.lstm(y)
        return s.fc(out[:, -1])

class CRNN2d(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv = nn.Conv2d(1, 6, kernel_size=(5, 3), stride=(2, 1), padding=(0, 1))
        s.bn = nn.BatchNorm2d(6)
        s.pool = nn.MaxPool2d((1, 2))
        s.lstm = nn.LSTM(30, 17)
        s.fc = nn.Linear(17, 5)
    def forward(s, x):                      # x [B, 1, T, 10]
        y = s.pool(torch.relu(s.bn(s.conv(x))))
        b, c, t, f = y.shape
        out, _ = s.lstm(y.permute(2, 0, 1, 3).reshape(t, b, c * f))
        return s.fc(out[-1])

which, mode, out = sys.argv[1:4]
torch.manual_seed(0)
net = {"1d": CRNN1d, "2d": CRNN2d}[which]().eval()
with torch.no_grad():
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5); m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.3, 0.3)
ex = torch.randn(2, 13, 21) if which == "1d" else torch.randn(2, 1, 21, 10)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    if mode == "ts":
        torch.onnx.export(net, (ex,), out, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "B", 2: "T"}})
    else:
        torch.onnx.export(net, (ex,), out, dynamo=True, optimize=(mode == "opt"), input_names=["x"],
                          output_names=["y"], dynamic_shapes=({0: torch.export.Dim("B", min=1, max=8),
                                                               2: torch.export.Dim("T", min=9, max=64)},))
'''


@pytest.mark.parametrize("which", ["1d", "2d"])
@pytest.mark.parametrize("mode", ["ts", "dyn", pytest.param("opt", marks=pytest.mark.slow)])
def test_torch_crnn(tmp_path, which, mode):
    path = tmp_path / f"crnn_{which}_{mode}.onnx"
    subprocess.run([sys.executable, "-c", CRNN_SCRIPT, which, mode, str(path)], check=True,
                   capture_output=True, timeout=600)
    gen, exe = build(path, tmp_path, dims={"B": B}, max_dims={"T": 30})
    for t in (30, 11):
        shape = (B, 13, t) if which == "1d" else (B, 1, t, 10)
        run_parity(gen, exe, path, {"x": _x(shape, t)}, tmp_path / f"run{t}")
