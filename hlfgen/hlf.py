"""The paper's equations (hlf-paper.txt §3.2): HLF sizes, ranks and factorizations.

A matrix ``A`` (m x n) is stored as ``[A' ; B·C]`` (Figure 1): ``A'`` is j x n
dense, ``B`` is (m-j) x k, ``C`` is k x n.  ``j = 0`` is plain low-rank
factorization (LMF), ``k = 0`` a dense block.  Counts are exact: compression
factors are ``Fraction``s so that e.g. cf = 5/3 lands exactly on Table 1.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

import numpy as np

from hlfgen.errors import HlfgenError

CF = Union[Fraction, float, int, str]


def parse_cf(cf: CF) -> Fraction:
    """A compression factor as an exact ``Fraction`` (must be >= 1).

    Accepts ``"5/3"``, ``"2.5"``, ``"1.67"`` (decimal strings are exact), a
    ``Fraction``, an int, or a float (snapped to the nearest fraction with
    denominator <= 10**6, so ``5/3`` as a float becomes exactly 5/3).
    """
    try:
        if isinstance(cf, Fraction):
            f = cf
        elif isinstance(cf, float):
            f = Fraction(cf).limit_denominator(10**6)
        elif isinstance(cf, (int, str)) and not isinstance(cf, bool):
            f = Fraction(cf.strip() if isinstance(cf, str) else cf)
        else:
            raise TypeError
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        raise HlfgenError(f"bad compression factor {cf!r} (want e.g. 2.5 or 5/3)") from None
    if f < 1:
        raise HlfgenError(f"compression factor must be >= 1, got {cf!r}")
    return f


def _check(m: int, n: int, j: int = 0, k: int = 0) -> None:
    if m < 1 or n < 1 or j < 0 or k < 0 or j > m:
        raise HlfgenError(f"bad HLF shape m={m} n={n} j={j} k={k}")


def hlf_params(m: int, n: int, j: int, k: int) -> int:
    """Parameters of the HLF form: j·n + k·(m-j+n) (denominator of Eq. 4)."""
    _check(m, n, j, k)
    return j * n + k * (m - j + n)


def compression(m: int, n: int, j: int, k: int) -> Fraction:
    """Eq. 4: parameter reduction m·n / (j·n + k·(m-j+n)), exact (needs j + k >= 1)."""
    if j + k == 0:
        raise HlfgenError("j = k = 0 stores nothing")
    return Fraction(m * n, hlf_params(m, n, j, k))


def hlf_ops(m: int, n: int, j: int, k: int) -> int:
    """Multiply-adds of Algorithm 1: j·n + k·n + k·(m-j) (denominator of Eq. 5)."""
    _check(m, n, j, k)
    return j * n + k * n + k * (m - j)


def segment_counts(n: int, dense_rows: int, blocks: Sequence[tuple[int, Hashable, int]]) -> tuple[int, int]:
    """(parameters, Algorithm 1 multiply-adds) of a matrix stored as row segments: dense_rows rows
    of A' (j·n), each distinct C (key, rank k) once (k·n), each B block (rows x k) once.
    blocks: (rows, C key, rank) per low-rank segment.  One [A' ; B·C] gives hlf_params / hlf_ops
    (Eq. 4 and 5 denominators, which are the same number)."""
    ranks: dict = {}
    params = dense_rows * n
    for rows, key, k in blocks:
        if key not in ranks:
            ranks[key] = k
            params += k * n  # C·x once per distinct C (Algorithm 1, line 2)
        params += rows * k  # B·t (line 3)
    ops = params  # line 1: j·n, line 2: k·n per C, line 3: rows·k per block
    if len(ranks) == 1 and len({k for _, _, k in blocks}) == 1:
        m = dense_rows + sum(r for r, _, _ in blocks)
        k = next(iter(ranks.values()))
        assert (params, ops) == (hlf_params(m, n, dense_rows, k), hlf_ops(m, n, dense_rows, k))
    return params, ops


def op_reduction(m: int, n: int, j: int, k: int) -> Fraction:
    """Eq. 5: operation reduction m·n / (j·n + k·n + k·(m-j)), exact (needs j + k >= 1).

    The same number as Eq. 4: j·n + k·n + k·(m-j) = j·n + k·(m-j+n).
    """
    if j + k == 0:
        raise HlfgenError("j = k = 0 computes nothing")
    return Fraction(m * n, hlf_ops(m, n, j, k))


def max_rank(m: int, n: int, j: int, k: int) -> int:
    """Maximum rank of [A' ; B·C]: j + k (§3.2), never above min(m, n)."""
    _check(m, n, j, k)
    return min(j + k, m, n)


def lmf_rank(m: int, n: int, cf: CF) -> int:
    """Largest LMF rank r with r·(m+n) <= m·n / cf (Table 1, LMF column)."""
    _check(m, n)
    return int(Fraction(m * n) / parse_cf(cf) // (m + n))


def hlf_j_for(m: int, n: int, k: int, cf: CF) -> int | None:
    """Largest j (0 <= j < m) whose Eq. 4 compression is >= cf, else None (k >= 1).

    Params are j·(n-k) + k·(m+n), linear in j: solved in closed form.
    """
    _check(m, n, 0, k)
    if k < 1:
        raise HlfgenError(f"hlf_j_for needs k >= 1, got {k}")
    budget = Fraction(m * n) / parse_cf(cf)  # params allowed
    if n > k:
        j = min(m - 1, int((budget - k * (m + n)) // (n - k)))
    else:  # params do not grow with j: the largest j is best
        j = m - 1
    return j if j >= 0 and hlf_params(m, n, j, k) <= budget else None


@dataclass(frozen=True)
class LmfOption:
    """LMF at the compression target: rank r, r·(m+n) params."""

    rank: int
    params: int


@dataclass(frozen=True)
class HlfOption:
    """One HLF choice (j, k) reaching the target; compression is Eq. 4, op_reduction Eq. 5."""

    j: int
    k: int
    rank: int
    params: int
    compression: Fraction
    op_reduction: Fraction


@dataclass(frozen=True)
class Plan:
    """LMF vs HLF options for an m x n matrix at compression >= cf (Table 1)."""

    m: int
    n: int
    cf: Fraction
    lmf: LmfOption
    hlf: tuple[HlfOption, ...]  # k = 1, 2, ...; each with its largest j >= 1

    @property
    def rank_range(self) -> tuple[int, int] | None:
        """(min, max) HLF rank over the options, Table 1's "103 - 204"."""
        ranks = [o.rank for o in self.hlf]
        return (min(ranks), max(ranks)) if ranks else None


def plan(m: int, n: int, cf: CF) -> Plan:
    """All HLF (j >= 1, k >= 1) options with largest j per k, plus LMF, for cf.

    The minimum params over j >= 1 grows with k, so the scan stops at the first k
    with no feasible j >= 1.
    """
    _check(m, n)
    f = parse_cf(cf)
    r = lmf_rank(m, n, f)
    opts: list[HlfOption] = []
    k = 1
    while m > 1:
        j = hlf_j_for(m, n, k, f)
        if j is None or j < 1:
            break
        opts.append(
            HlfOption(
                j, k, max_rank(m, n, j, k), hlf_params(m, n, j, k), compression(m, n, j, k), op_reduction(m, n, j, k)
            )
        )
        k += 1
    return Plan(m, n, f, LmfOption(r, r * (m + n)), tuple(opts))


def _fmt_cf(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{str(f)} ({float(f):.4g})"


def format_plan(p: Plan, limit: int | None = None) -> str:
    """Plain-text table of a plan; ``limit`` shows only the first k options."""
    lines = [
        f"matrix {p.m} x {p.n}, {p.m * p.n} params, compression >= {_fmt_cf(p.cf)}",
        f"LMF  rank {p.lmf.rank:>5}  params {p.lmf.params:>9}",
    ]
    if not p.hlf:
        lines.append("HLF  no option with j >= 1, k >= 1 reaches this compression")
        return "\n".join(lines)
    lo, hi = p.rank_range  # type: ignore[misc]
    lines.append(f"HLF  rank {lo} - {hi} (max at k=1)")
    lines.append(f"{'k':>5} {'j':>6} {'rank':>6} {'params':>9} {'compr':>7} {'op-red':>7}")
    shown = p.hlf if limit is None else p.hlf[:limit]
    for o in shown:
        lines.append(
            f"{o.k:>5} {o.j:>6} {o.rank:>6} {o.params:>9} {float(o.compression):>7.3f} {float(o.op_reduction):>7.3f}"
        )
    if len(shown) < len(p.hlf):
        lines.append(f"  ... {len(p.hlf) - len(shown)} more (k up to {p.hlf[-1].k})")
    return "\n".join(lines)


def plan_to_json(p: Plan) -> dict:
    """{"lmf": {"rank", "params"}, "hlf": [{"j", "k", "rank", "params", "compression", "op_reduction"}]}."""
    return {
        "lmf": {"rank": p.lmf.rank, "params": p.lmf.params},
        "hlf": [
            {
                "j": o.j,
                "k": o.k,
                "rank": o.rank,
                "params": o.params,
                "compression": float(o.compression),
                "op_reduction": float(o.op_reduction),
            }
            for o in p.hlf
        ],
    }


def factor_hlf(A: np.ndarray, j: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Figure 1: A ≈ [A' ; B·C], A' = A[:j] exactly, B·C the rank-k truncated SVD of A[j:].

    B = U_k·S_k ((m-j) x k), C = V_k^T (k x n); zero-padded when k exceeds the
    rank available.  The error is the tail singular values of A[j:].
    """
    A = np.asarray(A)
    if A.ndim != 2:
        raise HlfgenError(f"factor_hlf wants a matrix, got shape {A.shape}")
    m, n = A.shape
    _check(m, n, j, k)
    dt = A.dtype if np.issubdtype(A.dtype, np.floating) else np.float64
    lower = A[j:].astype(np.float64)
    B = np.zeros((m - j, k))
    C = np.zeros((k, n))
    if lower.size:
        U, S, Vt = np.linalg.svd(lower, full_matrices=False)
        r = min(k, S.size)
        B[:, :r] = U[:, :r] * S[:r]
        C[:r] = Vt[:r]
    return A[:j].astype(dt), B.astype(dt), C.astype(dt)


def factor_lmf(A: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """LMF: A ≈ U·V with U = U_r·S_r (m x r), V = V_r^T (r x n); HLF with j = 0."""
    _, U, V = factor_hlf(A, 0, r)
    return U, V


def hlf_expand(A_top: np.ndarray, B: np.ndarray, C: np.ndarray) -> np.ndarray:
    """The dense matrix [A' ; B·C] (for checks; the compiler never expands)."""
    return np.concatenate([A_top, B @ C], axis=0)
