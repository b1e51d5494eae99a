"""Symbolic evaluation of constant weight expressions as row segments.

A weight input of an LSTM/GRU/RNN node is usually not an initializer but a
constant sub-expression: ``Concat(A', MatMul(B, C))`` per gate, gates stacked,
``Unsqueeze``d, maybe reordered by ``Slice`` (see shared/hlf-onnx.md).  This
module evaluates such expressions without multiplying the factors: a value is
either a plain numpy array or a ``SymTensor`` -- a tensor ``[*prefix, m, n]``
whose every ``m x n`` matrix is a list of row segments (``ir.Dense`` or
``ir.LowRank``).  Ops that rearrange rows, prefixes or columns keep the
structure; any other op folds it to a dense array (correct, just not faster).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .ir import Dense, FactoredMatrix, LowRank, Segment

Value = "np.ndarray | SymTensor"


@dataclass
class SymTensor:
    """cells[idx] is the tuple of row segments of matrix idx (shape = prefix)."""

    cells: np.ndarray  # dtype=object, shape = prefix dims
    m: int
    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.cells.shape) + (self.m, self.n)

    @property
    def ndim(self) -> int:
        return self.cells.ndim + 2

    def materialize(self) -> np.ndarray:
        out = np.empty(self.shape, np.float32)
        for idx in np.ndindex(*self.cells.shape):
            out[idx] = FactoredMatrix(list(self.cells[idx]), self.n).dense()
        return out

    def matrix(self, idx: tuple[int, ...]) -> FactoredMatrix:
        return FactoredMatrix(merge_segments(list(self.cells[idx])), self.n)


@dataclass
class TransposedSym:
    """The transpose (last two axes swapped) of a SymTensor whose matrices have
    several row segments: column segments, which a SymTensor cannot hold.

    Kept so that ``MatMul(x, Transpose(W))`` (PyTorch's export of ``nn.Linear``
    on a factored ``W``) still lowers by Algorithm 1 over W's rows (the MatMul
    handler reads ``inner``); any other use sees a plain array (``__array__``).
    """

    inner: SymTensor

    @property
    def shape(self) -> tuple[int, ...]:
        s = self.inner.shape
        return s[:-2] + (s[-1], s[-2])

    @property
    def ndim(self) -> int:
        return self.inner.ndim

    def materialize(self) -> np.ndarray:
        return np.ascontiguousarray(np.swapaxes(self.inner.materialize(), -1, -2))

    def __array__(self, dtype=None, copy=None):
        a = self.materialize()
        return a if dtype is None else a.astype(dtype)


def _cells(shape: tuple[int, ...], fill: Callable[[tuple[int, ...]], tuple]) -> np.ndarray:
    cells = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        cells[idx] = fill(idx)
    return cells


def as_sym(v) -> SymTensor:
    """A plain array (ndim >= 2) as one dense segment per matrix."""
    if isinstance(v, SymTensor):
        return v
    a = np.asarray(v, np.float32)
    return SymTensor(_cells(a.shape[:-2], lambda idx: (Dense(a[idx]),)), a.shape[-2], a.shape[-1])


def materialize(v) -> np.ndarray:
    return v.materialize() if isinstance(v, (SymTensor, TransposedSym)) else v


def merge_segments(segs: list[Segment]) -> list[Segment]:
    """Join neighbours: dense rows into one block, low-rank rows sharing C into one B."""
    out: list[Segment] = []
    for s in segs:
        if s.rows == 0:
            continue
        prev = out[-1] if out else None
        if isinstance(s, Dense) and isinstance(prev, Dense):
            out[-1] = Dense(np.concatenate([prev.data, s.data]), prev.origin)
        elif isinstance(s, LowRank) and isinstance(prev, LowRank) and prev.c_key == s.c_key:
            out[-1] = LowRank(np.concatenate([prev.B, s.B]), prev.C, prev.c_key)
        else:
            out.append(s)
    return out


def factor_key(C: np.ndarray) -> str:
    """The c_key of a low-rank factor C: its content (shape and float32 bytes).

    Segments share one t = C·x exactly when their C are equal, whatever
    expression produced them (a name-based key merged different C factors
    once: gates written Transpose(MatMul(C_g, B)) sharing B).
    """
    c = np.ascontiguousarray(C, np.float32)
    h = hashlib.blake2b(repr(c.shape).encode() + c.tobytes(), digest_size=12).hexdigest()
    return f"C{c.shape[0]}x{c.shape[1]}:{h}"


def slice_rows(segs: tuple, start: int, stop: int) -> tuple:
    return tuple(FactoredMatrix(list(segs), 0).row_range(start, stop).segments)


def slice_cols(segs: tuple, start: int, stop: int) -> tuple:
    out = []
    for s in segs:
        if isinstance(s, Dense):
            out.append(Dense(s.data[:, start:stop], s.origin))
        else:
            out.append(LowRank(s.B, s.C[:, start:stop], factor_key(s.C[:, start:stop])))
    return tuple(out)


# ---------------------------------------------------------------- op rules
# Each returns the output value(s), or None when the structure cannot be kept
# (the caller then folds the inputs to dense and evaluates the op plainly).


def matmul(a, b, c_key: str = ""):
    """MatMul of two constants: low-rank when the inner dim makes that cheaper.

    c_key (the C input's name) is only a label; segments are keyed by content (factor_key).
    """
    if isinstance(a, SymTensor) or isinstance(b, SymTensor):
        return None
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if a.ndim < 2 or b.ndim < 2:
        return None
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if k * (m + n) >= m * n:
        return None
    prefix = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    A = np.broadcast_to(a, prefix + (m, k))
    Bm = np.broadcast_to(b, prefix + (k, n))
    return SymTensor(_cells(prefix, lambda idx: (LowRank(A[idx], Bm[idx], factor_key(Bm[idx])),)), m, n)


def matmul_integer(vals, c_key: str):
    """MatMulInteger of two constants (quantize_dynamic on factors: A, B, a_zero_point, b_zero_point):
    the integer factors minus their zero points, kept low-rank as MatMul is (exact in float32 for
    8-bit operands up to k = 2^24 / 255^2 terms)."""
    a, b = (np.asarray(v) for v in vals[:2])
    if isinstance(vals[0], SymTensor) or isinstance(vals[1], SymTensor) or a.ndim != 2 or b.ndim != 2:
        return None
    za = np.asarray(vals[2]).astype(np.int32) if len(vals) > 2 and vals[2] is not None else np.int32(0)
    zb = np.asarray(vals[3]).astype(np.int32) if len(vals) > 3 and vals[3] is not None else np.int32(0)
    if za.size not in (1, a.shape[0]) or zb.size not in (1, b.shape[1]):
        return None
    af = (a.astype(np.int32) - za.reshape(-1, 1)).astype(np.float32)
    bf = (b.astype(np.int32) - zb.reshape(1, -1)).astype(np.float32)
    return matmul(af, bf, c_key)


def scale(v, c):
    """SymTensor times a scalar constant (the dequantization Mul after MatMulInteger): B or A' scaled."""
    if not isinstance(v, SymTensor) or isinstance(c, SymTensor) or np.asarray(c).size != 1:
        return None
    k = np.float32(np.asarray(c).reshape(-1)[0])

    def seg(x):
        return Dense(x.data * k, x.origin) if isinstance(x, Dense) else LowRank(x.B * k, x.C, x.c_key)

    return SymTensor(_cells(v.cells.shape, lambda idx: tuple(seg(x) for x in v.cells[idx])), v.m, v.n)


def concat(values: list, axis: int):
    syms = [as_sym(v) for v in values]
    nd = syms[0].ndim
    axis = axis % nd
    if any(s.ndim != nd for s in syms):
        return None
    if axis == nd - 1:
        return None
    if axis == nd - 2:
        if any(s.cells.shape != syms[0].cells.shape or s.n != syms[0].n for s in syms):
            return None
        cells = _cells(syms[0].cells.shape, lambda idx: sum((s.cells[idx] for s in syms), ()))
        return SymTensor(cells, sum(s.m for s in syms), syms[0].n)
    if any((s.m, s.n) != (syms[0].m, syms[0].n) for s in syms):
        return None
    return SymTensor(np.concatenate([s.cells for s in syms], axis=axis), syms[0].m, syms[0].n)


def slice_(v: SymTensor, starts, ends, axes, steps):
    cells, m, n = v.cells, v.m, v.n
    nd = v.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % nd
        if axis == nd - 2:
            dim = m
        elif axis == nd - 1:
            dim = n
        else:
            dim = cells.shape[axis]
        a, b, st = slice(int(start), int(end), int(step)).indices(dim)
        if axis < nd - 2:
            index = [slice(None)] * cells.ndim
            index[axis] = slice(a, b, st)
            cells = cells[tuple(index)]
            continue
        if st != 1:
            return None
        b = max(a, b)
        if axis == nd - 2:
            cells = _cells(cells.shape, lambda idx, c=cells: slice_rows(c[idx], a, b))
            m = b - a
        else:
            cells = _cells(cells.shape, lambda idx, c=cells: slice_cols(c[idx], a, b))
            n = b - a
    return SymTensor(cells, m, n)


def unsqueeze(v: SymTensor, axes):
    out_nd = v.ndim + len(axes)
    axes = sorted(int(a) % out_nd for a in axes)
    if any(a >= out_nd - 2 for a in axes):
        return None
    return SymTensor(np.expand_dims(v.cells, tuple(axes)), v.m, v.n)


def squeeze(v: SymTensor, axes):
    if axes is None:
        axes = [i for i, d in enumerate(v.cells.shape) if d == 1]
    axes = [int(a) % v.ndim for a in axes]
    if any(a >= v.ndim - 2 for a in axes):
        return None
    return SymTensor(np.squeeze(v.cells, axis=tuple(axes)), v.m, v.n)


def reshape(v: SymTensor, shape, allowzero: int = 0):
    shape = [int(s) for s in shape]
    if not allowzero:
        shape = [v.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    total = int(np.prod(v.shape))
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        shape[shape.index(-1)] = total // known if known else 0
    shape = tuple(shape)
    if len(shape) >= 2 and shape[-2:] == (v.m, v.n):
        return SymTensor(v.cells.reshape(shape[:-2]), v.m, v.n)
    if len(shape) == 2 and shape[1] == v.n:  # prefix folded into rows
        flat = v.cells.reshape(-1)
        return SymTensor(_cells((), lambda idx: sum(flat, ())), shape[0], v.n)
    if v.cells.ndim == 0 and len(shape) >= 3 and shape[-1] == v.n:  # rows split into a prefix
        rows = shape[-2]
        prefix = shape[:-2]
        segs = v.cells[()]
        flat_idx = lambda idx: int(np.ravel_multi_index(idx, prefix)) if prefix else 0
        cells = _cells(prefix, lambda idx: slice_rows(segs, flat_idx(idx) * rows, (flat_idx(idx) + 1) * rows))
        return SymTensor(cells, rows, v.n)
    return None


def transpose(v: SymTensor, perm):
    nd = v.ndim
    perm = tuple(int(p) for p in perm) if perm is not None else tuple(reversed(range(nd)))
    head, tail = perm[:-2], perm[-2:]
    if any(p >= nd - 2 for p in head):
        return None
    if tail == (nd - 2, nd - 1):
        return SymTensor(v.cells.transpose(head), v.m, v.n)

    def flip(segs):
        if len(segs) != 1:
            return None
        s = segs[0]
        if isinstance(s, Dense):
            return (Dense(s.data.T, s.origin),)
        return (LowRank(s.C.T, s.B.T, factor_key(s.B.T)),)

    cells = v.cells.transpose(head)
    flipped = _cells(cells.shape, lambda idx: flip(cells[idx]))
    if any(c is None for c in flipped.reshape(-1)):
        return TransposedSym(SymTensor(cells, v.m, v.n))
    return SymTensor(flipped, v.n, v.m)


def split(v: SymTensor, axis: int, sizes: list[int]):
    outs, pos = [], 0
    for s in sizes:
        o = slice_(v, [pos], [pos + s], [axis], [1])
        if o is None:
            return None
        outs.append(o)
        pos += s
    return outs
