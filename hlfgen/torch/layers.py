"""HLFLSTM / HLFGRU: nn.LSTM / nn.GRU whose weight matrices are ``[A' ; B·C]``.

Every input (``weight_ih_l{l}[_reverse]``) and recurrent (``weight_hh_...``)
matrix of every layer and direction is parameterized as in Figure 1 of the
paper (§3.2): ``A'`` (j x n) dense rows on top, ``B·C`` ((m-j) x k times
k x n) below.  With ``per_gate=True`` each gate block (hidden x n) is factored
on its own; with ``per_gate=False`` the stacked gates*hidden x n matrix is
factored once.  Gates stay in PyTorch's order (LSTM ``i f g o``, GRU
``r z n``), so the expanded weights drop straight into nn.LSTM / nn.GRU.

The forward pass expands the factors and calls ``torch._VF.lstm`` /
``torch._VF.gru`` exactly as nn.LSTM / nn.GRU do, so training speed is that of
the dense layer.  Exported with ``hlfgen.torch.export`` the factors stay
initializers and hlfgen compiles Algorithm 1 (never expanding ``B·C``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from fractions import Fraction

import numpy as np
import torch
from torch import Tensor, _VF, nn
from torch.nn.utils.rnn import PackedSequence

from hlfgen.errors import HlfgenError
from hlfgen.hlf import factor_hlf, parse_cf

from .blocks import TORCH_GATES, HLFBlock, HLFWeight, _resolve_jk

__all__ = ["TORCH_GATES", "HLFBlock", "HLFWeight", "HLFLSTM", "HLFGRU", "from_dense"]


class _HLFRNNBase(nn.Module):
    """Shared machinery of HLFLSTM and HLFGRU (mirrors nn.RNNBase)."""

    mode = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        compression=None,
        k: int = 1,
        j: int | None = None,
        per_gate: bool = True,
        lmf: bool = False,
    ):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        for nm, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{nm} must be a positive integer, got {v!r}")
        if (compression is None) == (j is None):
            raise HlfgenError(f"HLF{self.mode}: give exactly one of compression= (j from Eq. 4) or j=")
        if lmf and compression is None:
            raise HlfgenError(f"HLF{self.mode}: lmf=True needs compression= (the rank of each matrix comes from it)")
        if not isinstance(k, int) or k < (0 if j is not None else 1):
            raise HlfgenError(f"HLF{self.mode}: k must be an integer >= 1, got {k!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        self.per_gate = bool(per_gate)
        self.compression = parse_cf(compression) if compression is not None else None
        self.k, self.j, self.lmf = k, j, bool(lmf)
        gates = TORCH_GATES[self.mode]
        g, h = len(gates), hidden_size
        block = h if self.per_gate else g * h
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            for sfx in ("", "_reverse")[: 2 if self.bidirectional else 1]:
                n_in = input_size if layer == 0 else h * (2 if self.bidirectional else 1)
                for kind, n in (("ih", n_in), ("hh", h)):
                    name = f"weight_{kind}_l{layer}{sfx}"
                    nblocks = g if self.per_gate else 1
                    jk = [_resolve_jk(block, n, k, j, self.compression, f"{name}", self.lmf) for _ in range(nblocks)]
                    setattr(self, name, HLFWeight(g * h, n, gates, self.per_gate, jk, device, dtype))
                names = [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
                if self.bias:
                    for kind in ("ih", "hh"):
                        name = f"bias_{kind}_l{layer}{sfx}"
                        self.register_parameter(name, nn.Parameter(torch.empty(g * h, device=device, dtype=dtype)))
                        names.append(name)
                self._flat_weights_names.extend(names)
        self.reset_parameters()

    # ------------------------------------------------------------ parameters
    def reset_parameters(self) -> None:
        """As nn.RNNBase: every weight entry ~ U(-1/sqrt(hidden), 1/sqrt(hidden)) (B·C in variance)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for name in self._flat_weights_names:
            obj = getattr(self, name)
            if isinstance(obj, HLFWeight):
                for b in obj.gates.values():
                    b.reset_parameters(bound)
            else:
                with torch.no_grad():
                    obj.uniform_(-bound, bound)

    def hlf_weights(self) -> dict[str, HLFWeight]:
        """Name (as in nn.LSTM / nn.GRU) -> its HLFWeight, in flat-weights order."""
        return {n: getattr(self, n) for n in self._flat_weights_names if n.startswith("weight_")}

    def _flat_weights(self) -> list[Tensor]:
        out = []
        for name in self._flat_weights_names:
            obj = getattr(self, name)
            out.append(obj() if isinstance(obj, HLFWeight) else obj)
        return out

    def flatten_parameters(self) -> None:
        """No-op, for code written for nn.LSTM / nn.GRU (weights are expanded per call)."""

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """As nn.RNNBase.all_weights: per layer and direction [w_ih, w_hh(, b_ih, b_hh)], expanded."""
        flat = self._flat_weights()
        step = 4 if self.bias else 2
        return [flat[i : i + step] for i in range(0, len(flat), step)]

    def expanded_state_dict(self) -> dict[str, Tensor]:
        """The nn.LSTM / nn.GRU state dict: every matrix expanded to [A' ; B·C] (detached)."""
        with torch.no_grad():
            return {n: t.detach().clone() for n, t in zip(self._flat_weights_names, self._flat_weights())}

    def to_dense(self) -> nn.Module:
        """An nn.LSTM / nn.GRU with the expanded weights (same outputs, dense storage)."""
        p = next(self.parameters())
        dense = getattr(nn, self.mode)(
            self.input_size,
            self.hidden_size,
            self.num_layers,
            self.bias,
            self.batch_first,
            self.dropout,
            self.bidirectional,
            device=p.device,
            dtype=p.dtype,
        )
        dense.load_state_dict(self.expanded_state_dict())
        return dense.train(self.training)

    def hlf_info(self) -> list[dict]:
        """Per matrix: name, shape, blocks [(name, j, k)], params and Eq. 4 compression."""
        rows = []
        for name, w in self.hlf_weights().items():
            params = w.params
            rows.append(
                {
                    "name": name,
                    "shape": (w.rows, w.n),
                    "blocks": [(nm, b.j, b.k) for nm, b in w.gates.items()],
                    "params": params,
                    "compression": Fraction(w.rows * w.n, params),
                }
            )
        return rows

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        s += f", compression={self.compression}" if self.compression is not None else f", j={self.j}"
        s += ", lmf=True" if self.lmf else ""
        return s + f", k={self.k}, per_gate={self.per_gate}"

    # ------------------------------------------------------------ forward
    def _check_input(self, input: Tensor) -> bool:
        if isinstance(input, PackedSequence):
            raise HlfgenError(
                f"HLF{self.mode} does not take a PackedSequence; pass a padded tensor "
                "(torch.nn.utils.rnn.pad_packed_sequence) instead"
            )
        if not isinstance(input, Tensor):
            raise TypeError(f"HLF{self.mode}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"{self.mode}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        if not torch.jit.is_tracing() and input.size(-1) != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {input.size(-1)}"
            )
        return input.dim() == 3

    def _check_hidden(self, hx: Tensor, batch: int, what: str) -> None:
        if torch.jit.is_tracing():  # sizes are traced values there; the trace's own shapes decide
            return
        want = (self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)
        if tuple(hx.size()) != want:
            raise RuntimeError(f"Expected {what} size {want}, got {tuple(hx.size())}")

    def _zeros(self, input: Tensor, batch: int) -> Tensor:
        return torch.zeros(
            self.num_layers * (2 if self.bidirectional else 1),
            batch,
            self.hidden_size,
            dtype=input.dtype,
            device=input.device,
        )


class HLFLSTM(_HLFRNNBase):
    """Drop-in nn.LSTM with HLF-factored weights (``compression`` + ``k``, or ``j`` + ``k``).

    ``compression``: Eq. 4 target for every matrix; each block's j is the
    largest reaching it (``hlf.hlf_j_for``).  ``j``: explicit rows of A' per
    block instead (``j=0`` is LMF with rank k).  ``lmf=True`` with
    ``compression``: plain low-rank factorization, each block's rank the
    largest reaching the compression (``hlf.lmf_rank``; it differs between
    the input and recurrent matrices when input_size != hidden_size).  A block is a gate (hidden x n) with
    ``per_gate=True``, else the whole gates*hidden x n matrix.
    ``forward(input, hx=None) -> (output, (h_n, c_n))`` exactly as nn.LSTM;
    ``weight_ih_l0`` etc. are ``HLFWeight`` modules (call one for the
    expanded matrix; ``expanded_state_dict()`` / ``to_dense()`` give nn.LSTM's).
    ``proj_size`` must be 0 (ONNX LSTM has no projection).
    """

    mode = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        compression=None,
        k: int = 1,
        j: int | None = None,
        per_gate: bool = True,
        lmf: bool = False,
    ):
        if proj_size:
            raise HlfgenError(f"HLFLSTM: proj_size={proj_size} is not supported (ONNX LSTM has no projection)")
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
            compression=compression,
            k=k,
            j=j,
            per_gate=per_gate,
            lmf=lmf,
        )

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        is_batched = self._check_input(input)
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        batch = input.size(0) if self.batch_first else input.size(1)
        if hx is None:
            hx = (self._zeros(input, batch), self._zeros(input, batch))
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("HLFLSTM: hx must be a tuple (h_0, c_0)")
            want = 3 if is_batched else 2
            if hx[0].dim() != want or hx[1].dim() != want:
                raise RuntimeError(
                    f"For {'batched 3-D' if is_batched else 'unbatched 2-D'} input, hx and cx "
                    f"should also be {want}-D but got ({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
                )
            if not is_batched:
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
            self._check_hidden(hx[0], batch, "hidden[0]")
            self._check_hidden(hx[1], batch, "hidden[1]")
            hx = (hx[0], hx[1])
        result = _VF.lstm(
            input,
            hx,
            self._flat_weights(),
            self.bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
            self.batch_first,
        )
        output, h, c = result[0], result[1], result[2]
        if not is_batched:
            output, h, c = output.squeeze(batch_dim), h.squeeze(1), c.squeeze(1)
        return output, (h, c)


class HLFGRU(_HLFRNNBase):
    """Drop-in nn.GRU with HLF-factored weights (``compression`` + ``k``, or ``j`` + ``k``).

    Arguments as HLFLSTM (without ``proj_size``).
    ``forward(input, hx=None) -> (output, h_n)`` exactly as nn.GRU.
    """

    mode = "GRU"

    def forward(self, input: Tensor, hx: Tensor | None = None):
        is_batched = self._check_input(input)
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        batch = input.size(0) if self.batch_first else input.size(1)
        if hx is None:
            hx = self._zeros(input, batch)
        else:
            want = 3 if is_batched else 2
            if hx.dim() != want:
                raise RuntimeError(
                    f"For {'batched 3-D' if is_batched else 'unbatched 2-D'} input, hx should "
                    f"also be {want}-D but got {hx.dim()}-D tensor"
                )
            if not is_batched:
                hx = hx.unsqueeze(1)
            self._check_hidden(hx, batch, "hidden")
        result = _VF.gru(
            input,
            hx,
            self._flat_weights(),
            self.bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
            self.batch_first,
        )
        output, h = result[0], result[1]
        if not is_batched:
            output, h = output.squeeze(batch_dim), h.squeeze(1)
        return output, h


def from_dense(
    module: nn.Module, compression=None, k: int = 1, per_gate: bool = True, *, j: int | None = None, lmf: bool = False
) -> _HLFRNNBase:
    """An HLFLSTM / HLFGRU from a trained nn.LSTM / nn.GRU (Figure 1 by truncated SVD).

    Each matrix (or gate block, ``per_gate=True``) keeps its top j rows in A'
    and the rank-k truncated SVD of the remaining rows as B·C
    (``hlf.factor_hlf``); j comes from Eq. 4 for ``compression`` unless given
    (``lmf=True``: j = 0, the LMF rank of each block from ``compression``).
    Biases are copied.  The error of each block is the SVD tail of its lower
    rows; fine-tune afterwards (HLF is training-aware, paper §3).
    """
    if isinstance(module, _HLFRNNBase):
        raise HlfgenError("from_dense: the module is already HLF-factored")
    if isinstance(module, nn.LSTM):
        if module.proj_size:
            raise HlfgenError(f"from_dense: nn.LSTM with proj_size={module.proj_size} is not supported")
        cls = HLFLSTM
    elif isinstance(module, nn.GRU):
        cls = HLFGRU
    else:
        raise HlfgenError(f"from_dense: want an nn.LSTM or nn.GRU, got {type(module).__name__}")
    p = next(module.parameters())
    hlf = cls(
        module.input_size,
        module.hidden_size,
        module.num_layers,
        module.bias,
        module.batch_first,
        module.dropout,
        module.bidirectional,
        device=p.device,
        dtype=p.dtype,
        compression=compression,
        k=k,
        j=j,
        per_gate=per_gate,
        lmf=lmf,
    )
    with torch.no_grad():
        for name in hlf._flat_weights_names:
            dense = getattr(module, name).detach()
            target = getattr(hlf, name)
            if not isinstance(target, HLFWeight):
                target.copy_(dense)
                continue
            W = dense.to("cpu", torch.float64).numpy()
            row = 0
            for blk in target.gates.values():
                A, B, C = factor_hlf(W[row : row + blk.m], blk.j, blk.k)
                row += blk.m
                for param, arr in ((blk.A, A), (blk.B, B), (blk.C, C)):
                    param.copy_(torch.from_numpy(np.ascontiguousarray(arr)))
    return hlf.train(module.training)
