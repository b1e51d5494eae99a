"""The nn.LSTMCell decoder pattern: Gemm(s) + Split + Sigmoid/Tanh + Mul/Add, no LSTM node.

A decoder step (x [B, E], h, c [B, H] -> logits, h', c'), with PyTorch's own
nn.LSTMCell (dense) and with the same arithmetic on HLF-factored weight_ih /
weight_hh and classifier ([A ; B @ C], paper Figure 1), exported by the
TorchScript exporter and by dynamo (plain and optimized, which folds small
factors to dense), compiled with --dim B=3 and compared with onnxruntime.
The factored Gemms must run Algorithm 1 (t = C·x, B·t) and inspect must
report them as HLF with Eq. 4's counts.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_parity

CELL_SCRIPT = r'''
import sys, warnings
import torch
from torch import nn
import torch.nn.functional as F

class HLFLinearW(nn.Module):
    """An m x n weight [A ; B @ C] (paper Fig. 1), expanded in forward like hlfgen.torch.HLFBlock."""
    def __init__(self, m, n, j, k):
        super().__init__()
        self.A = nn.Parameter(torch.randn(j, n) / n ** 0.5)
        self.B = nn.Parameter(torch.randn(m - j, k) / k ** 0.5)
        self.C = nn.Parameter(torch.randn(k, n) / n ** 0.5)
    def forward(self):
        return torch.cat([self.A, self.B @ self.C], 0)

class HLFCell(nn.Module):
    """nn.LSTMCell's arithmetic with factored weight_ih / weight_hh."""
    def __init__(self, i, h):
        super().__init__()
        self.wi, self.wh = HLFLinearW(4 * h, i, 9, 3), HLFLinearW(4 * h, h, 7, 4)
        self.bi, self.bh = nn.Parameter(torch.randn(4 * h) * 0.1), nn.Parameter(torch.randn(4 * h) * 0.1)
    def forward(self, x, hc):
        h, c = hc
        gates = F.linear(x, self.wi(), self.bi) + F.linear(h, self.wh(), self.bh)
        i, f, g, o = gates.chunk(4, 1)
        c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c2), c2

class Decoder(nn.Module):
    def __init__(self, hlf, i=10, h=13, v=11):
        super().__init__()
        self.cell = HLFCell(i, h) if hlf else nn.LSTMCell(i, h)
        self.out_w = HLFLinearW(v, h, 3, 2)
        self.out_b = nn.Parameter(torch.randn(v) * 0.1)
    def forward(self, x, h, c):
        h2, c2 = self.cell(x, (h, c))
        return F.linear(h2, self.out_w(), self.out_b), h2, c2

which, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
torch.manual_seed(1)
net = Decoder(which == "hlf").eval()
ex = (torch.randn(2, 10), torch.randn(2, 13), torch.randn(2, 13))
names = ["x", "h", "c"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    if mode == "ts":
        torch.onnx.export(net, ex, out, dynamo=False, input_names=names, output_names=["logits", "h2", "c2"],
                          dynamic_axes={n: {0: "B"} for n in names})
    else:
        b = torch.export.Dim("B", min=1, max=8)
        torch.onnx.export(net, ex, out, dynamo=True, optimize=(mode == "opt"), input_names=names,
                          output_names=["logits", "h2", "c2"], dynamic_shapes=({0: b}, {0: b}, {0: b}))
'''

B = 3


def _export(tmp_path, which, mode):
    path = tmp_path / f"cell_{which}_{mode}.onnx"
    subprocess.run([sys.executable, "-c", CELL_SCRIPT, which, mode, str(path)], check=True,
                   capture_output=True, timeout=600)
    return path


def _feeds(seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal((B, k)).astype(np.float32) for n, k in (("x", 10), ("h", 13), ("c", 13))}


@pytest.mark.parametrize("which,mode", [
    ("dense", "ts"), ("hlf", "ts"), ("hlf", "opt"),
    pytest.param("dense", "dyn", marks=pytest.mark.slow), pytest.param("hlf", "dyn", marks=pytest.mark.slow),
    pytest.param("dense", "opt", marks=pytest.mark.slow),
])
def test_lstmcell_decoder(tmp_path, which, mode, target):
    path = _export(tmp_path, which, mode)
    rep = assert_parity(path, _feeds(), work_dir=tmp_path / "w", target=target, dims={"B": B})
    assert rep.ok


def test_lstmcell_hlf_runs_algorithm1(tmp_path):
    from hlfgen.build import generate
    from hlfgen.inspect import inspect_model

    path = _export(tmp_path, "hlf", "ts")
    gen = generate(path, tmp_path / "out", dims={"B": B})
    code = (gen.out_dir / f"{gen.model.name}.c").read_text()
    assert len(re.findall(r"factored: Algorithm 1", code)) == 3  # weight_ih, weight_hh, classifier
    structures = [lin["matrices"][0]["structure"] for lin in inspect_model(path)["linears"]]
    assert sorted(structures) == ["HLF j=3 k=2", "HLF j=7 k=4", "HLF j=9 k=3"], structures
