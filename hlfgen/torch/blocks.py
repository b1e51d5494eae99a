"""The parameters of HLF layers: ``HLFBlock`` (one matrix ``[A' ; B·C]``, Figure 1
of the paper), ``HLFWeight`` (a gates*hidden x n matrix of blocks in PyTorch gate
order) and the choice of (j, k) per block from Eq. 4 (``_resolve_jk``).
HLFLSTM / HLFGRU (layers.py) are built from them.
"""

from __future__ import annotations

from fractions import Fraction

import torch
from torch import Tensor, nn

from hlfgen.errors import HlfgenError
from hlfgen.hlf import hlf_j_for, hlf_params, lmf_rank

# PyTorch gate order (rows of weight_ih / weight_hh), per mode.
TORCH_GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}


class HLFBlock(nn.Module):
    """One m x n matrix ``[A ; B @ C]``: A (j x n), B ((m-j) x k), C (k x n)."""

    def __init__(self, m: int, n: int, j: int, k: int, device=None, dtype=None):
        super().__init__()
        if not (0 <= j <= m and k >= 0 and n >= 1):
            raise HlfgenError(f"bad HLF block m={m} n={n} j={j} k={k}")
        if j < m and k < 1:
            raise HlfgenError(f"HLF block {m}x{n} with j={j} < m needs k >= 1")
        if j == m and k:
            raise HlfgenError(f"HLF block {m}x{n} with j=m is dense; k must be 0, got {k}")
        self.m, self.n, self.j, self.k = m, n, j, k
        kw = {"device": device, "dtype": dtype}
        self.A = nn.Parameter(torch.empty(j, n, **kw))
        self.B = nn.Parameter(torch.empty(m - j, k, **kw))
        self.C = nn.Parameter(torch.empty(k, n, **kw))

    @property
    def params(self) -> int:
        """j·n + k·(m-j+n): the denominator of Eq. 4."""
        return hlf_params(self.m, self.n, self.j, self.k)

    def reset_parameters(self, bound: float) -> None:
        """A' ~ U(-bound, bound) like nn.LSTM; B, C ~ U(-b, b) with Var(B·C) = Var(A')."""
        with torch.no_grad():
            self.A.uniform_(-bound, bound)
            if self.k:
                b = (3.0 * bound * bound / self.k) ** 0.25  # k·(b²/3)² = bound²/3
                self.B.uniform_(-b, b)
                self.C.uniform_(-b, b)

    def forward(self) -> Tensor:
        if self.j == self.m:
            return self.A
        low = self.B @ self.C
        return torch.cat([self.A, low], 0) if self.j else low

    def extra_repr(self) -> str:
        return f"{self.m}x{self.n}, j={self.j}, k={self.k}"


class HLFWeight(nn.Module):
    """A gates*hidden x n weight matrix: HLF blocks stacked in PyTorch gate order.

    ``gates`` maps a block name (a gate letter, or all letters joined when the
    stacked matrix is factored once) to its ``HLFBlock``.  Calling the module
    returns the expanded matrix.
    """

    def __init__(
        self,
        rows: int,
        n: int,
        gates: tuple[str, ...],
        per_gate: bool,
        jk: list[tuple[int, int]],
        device=None,
        dtype=None,
    ):
        super().__init__()
        names = list(gates) if per_gate else ["".join(gates)]
        block_rows = rows // len(gates) if per_gate else rows
        self.gates = nn.ModuleDict({nm: HLFBlock(block_rows, n, j, k, device, dtype) for nm, (j, k) in zip(names, jk)})
        self.rows, self.n, self.per_gate = rows, n, per_gate

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self.rows, self.n))

    @property
    def params(self) -> int:
        return sum(b.params for b in self.gates.values())

    def forward(self) -> Tensor:
        blocks = [b() for b in self.gates.values()]
        return torch.cat(blocks, 0) if len(blocks) > 1 else blocks[0]

    def extra_repr(self) -> str:
        return f"{self.rows}x{self.n}, {'per gate' if self.per_gate else 'stacked gates'}"


def _resolve_jk(
    m: int, n: int, k: int, j: int | None, cf: Fraction | None, what: str, lmf: bool = False
) -> tuple[int, int]:
    """(j, k) for one m x n block: explicit j, the largest j reaching cf (Eq. 4), or with lmf
    j = 0 and the largest LMF rank reaching cf (Table 1's LMF column)."""
    if lmf:
        r = lmf_rank(m, n, cf)
        if r < 1:
            raise HlfgenError(f"{what}: a {m}x{n} block cannot reach compression {cf} with LMF (rank 0)")
        return 0, r
    if j is not None:
        if not 0 <= j <= m:
            raise HlfgenError(f"{what}: j={j} is outside 0..{m} for a {m}x{n} block")
        return j, (0 if j == m else k)
    jj = hlf_j_for(m, n, k, cf)
    if jj is None:
        raise HlfgenError(
            f"{what}: a {m}x{n} block with k={k} cannot reach compression {cf} (Eq. 4); lower k or the compression"
        )
    return jj, k
