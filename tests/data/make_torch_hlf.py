"""Make the committed PyTorch-exported HLF test models in tests/data/.

Each model is a torch.nn LSTM/GRU whose weight_ih / weight_hh are computed
from HLF factors by a parametrization (``torch.cat([A, B @ C])``), exported
with the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``).
The exporter keeps A, B, C as initializers, writes ``MatMul(B, C)`` and
reorders the gates (PyTorch i f g o / r z n -> ONNX i o f c / z r h) with
Slice ops whose boundaries fall inside the HLF blocks (j is chosen so).

Constant folding is off (``do_constant_folding=False``): with it on, the
exporter folds ``MatMul(B, C)`` of two initializers into one dense weight.

For each model NAME this writes NAME.onnx and NAME.npz (inputs ``in_*`` and
PyTorch's own outputs ``out_*`` for them), so tests compare against PyTorch
even where torch is not installed.

    python tests/data/make_torch_hlf.py          # needs torch==2.13.0
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _hlf_parametrization(m: int, n: int, j: int, k: int, gen):
    import torch
    from torch import nn

    class HLF(nn.Module):
        """W (m x n) = [A (j x n); B (m-j x k) @ C (k x n)]"""

        def __init__(self):
            super().__init__()
            self.A = nn.Parameter(torch.randn(j, n, generator=gen) / n**0.5)
            self.B = nn.Parameter(torch.randn(m - j, k, generator=gen) / k**0.5)
            self.C = nn.Parameter(torch.randn(k, n, generator=gen) / n**0.5)

        def forward(self, w):
            return torch.cat([self.A, self.B @ self.C], 0)

        def right_inverse(self, w):
            return w

    return HLF()


def _factorize(rnn, j: int, k: int, gen) -> None:
    import torch
    import torch.nn.utils.parametrize as P

    for name, w in list(rnn.named_parameters()):
        if name.startswith("weight_"):
            P.register_parametrization(rnn, name, _hlf_parametrization(w.shape[0], w.shape[1], j, k, gen), unsafe=True)
        else:
            with torch.no_grad():
                w.copy_(torch.randn(w.shape, generator=gen) * 0.3)


def build(name: str):
    """(module, example inputs tuple, input names, output names, dynamic axes)."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(1234)
    if name == "torch_lstm_bidir_hlf":
        # nn.LSTM(6, 10) bidirectional, default zero states (the exporter
        # writes them as ConstantOfShape(Shape(X)...)); 4H = 40 rows,
        # j = 15 falls in PyTorch's f block, inside the [H:3H] slice.
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(6, 10, bidirectional=True)
                _factorize(self.rnn, 15, 3, gen)

            def forward(self, x):
                y, (h, c) = self.rnn(x)
                return y, h, c

        x = torch.randn(5, 2, 6, generator=gen)
        return Net().eval(), (x,), ["X"], ["Y", "Y_h", "Y_c"], {"X": {0: "T"}, "Y": {0: "T"}}
    if name == "torch_gru2_hlf":
        # 2-layer nn.GRU(6, 11) with h0 as an input; 3H = 33 rows, j = 7
        # falls in PyTorch's r block, inside the [0:H] slice.
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(6, 11, num_layers=2)
                _factorize(self.rnn, 7, 4, gen)

            def forward(self, x, h0):
                return self.rnn(x, h0)

        x = torch.randn(4, 3, 6, generator=gen)
        h0 = torch.randn(2, 3, 11, generator=gen) * 0.5
        return Net().eval(), (x, h0), ["X", "h0"], ["Y", "h_n"], {"X": {0: "T"}, "Y": {0: "T"}}
    if name == "torch_lstm_batch_first_hlf":
        # nn.LSTM(5, 9, batch_first=True) with (h0, c0) inputs; j = 0 (LMF).
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(5, 9, batch_first=True)
                _factorize(self.rnn, 0, 4, gen)

            def forward(self, x, h0, c0):
                y, (h, c) = self.rnn(x, (h0, c0))
                return y, h, c

        x = torch.randn(2, 6, 5, generator=gen)
        h0 = torch.randn(1, 2, 9, generator=gen) * 0.5
        c0 = torch.randn(1, 2, 9, generator=gen) * 0.5
        return (Net().eval(), (x, h0, c0), ["X", "h0", "c0"], ["Y", "Y_h", "Y_c"],
                {"X": {1: "T"}, "Y": {1: "T"}})
    if name == "torch_lstm_h0_hlf":
        # nn.LSTM(6, 10), (h0, c0) inputs, j = 15 inside the [H:3H] slice.
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(6, 10)
                _factorize(self.rnn, 15, 3, gen)

            def forward(self, x, h0, c0):
                y, (h, c) = self.rnn(x, (h0, c0))
                return y, h, c

        x = torch.randn(5, 2, 6, generator=gen)
        h0 = torch.randn(1, 2, 10, generator=gen) * 0.5
        c0 = torch.randn(1, 2, 10, generator=gen) * 0.5
        return (Net().eval(), (x, h0, c0), ["X", "h0", "c0"], ["Y", "Y_h", "Y_c"],
                {"X": {0: "T"}, "Y": {0: "T"}})
    if name == "torch_gru_bidir_h0_hlf":
        # bidirectional nn.GRU(6, 9) with h0 input; 3H = 27 rows, j = 12
        # falls in PyTorch's z block, across the [H:2H] slice.
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(6, 9, bidirectional=True)
                _factorize(self.rnn, 12, 3, gen)

            def forward(self, x, h0):
                return self.rnn(x, h0)

        x = torch.randn(4, 3, 6, generator=gen)
        h0 = torch.randn(2, 3, 9, generator=gen) * 0.5
        return Net().eval(), (x, h0), ["X", "h0"], ["Y", "h_n"], {"X": {0: "T"}, "Y": {0: "T"}}
    raise KeyError(name)


NAMES = [
    "torch_lstm_h0_hlf",
    "torch_gru_bidir_h0_hlf",
    "torch_lstm_bidir_hlf",
    "torch_gru2_hlf",
    "torch_lstm_batch_first_hlf",
]


def export(name: str, out_dir: Path) -> Path:
    """Export model ``name`` to out_dir/NAME.onnx and write NAME.npz."""
    import torch

    module, args, in_names, out_names, dyn = build(name)
    path = Path(out_dir) / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, args, str(path), dynamo=False, opset_version=14, input_names=in_names,
            output_names=out_names, dynamic_axes=dyn, do_constant_folding=False,
        )
        with torch.no_grad():
            outs = module(*args)
    flat = []
    for o in outs:
        flat.extend(o if isinstance(o, tuple) else [o])
    data = {f"in_{n}": a.numpy() for n, a in zip(in_names, args)}
    data.update({f"out_{n}": o.numpy() for n, o in zip(out_names, flat)})
    np.savez(Path(out_dir) / f"{name}.npz", **data)
    return path


def main(argv=None) -> int:
    out = Path(argv[0]) if argv else HERE
    for name in NAMES:
        print(export(name, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
