"""QDQ weights on the int8 kernels: the integers of ``DequantizeLinear(int8/uint8 initializer)``, kept.

fold.py evaluates every DequantizeLinear of constants to its fp32 values
``y = (x - zero_point) * scale`` (per tensor or per axis, any opset) and, for
an integer ``x``, records them here (``Table.register``): every row (a vector
along the last axis) and every column (along the second-to-last axis) of y is
keyed by its float32 bytes, with the file's integers ``q = x - zero_point``
and the one scale of that vector.  The lowering looks up each matrix the
kernels stream (``Table.lookup`` from program.add_matrix): when every row is
such a vector, the matrix is stored int8 with exactly those integers and
scales, no re-rounding, and runs on the int8 kernels.

Keyed by content, the rows survive whatever rearranges them between the
DequantizeLinear and the recurrent op or MatMul: Slice/Concat of gates,
Unsqueeze, Transpose (a MatMul weight [K, N] with per-column scales, axis 1,
is the kernels' N x K matrix: its columns are the rows looked up), and the
factors of an HLF ``MatMul(B, C)``: B and C are looked up on their own, B·C is
never formed.  A vector whose values some other computation changed (a
product of factors, a Mul) is not found and stays fp32.

A vector is representable when its scale is one positive value (a per-axis
scale along the vector is not: the scale axis must be the output row) and
``q`` lies in [-127, 127]: int8 with zero point 0 (-128 excluded: the
kernels sum two int8 products in int16), uint8 with zero point 128, or any
zero point whose vector happens to stay in range.  Others are recorded with
the reason (``refused``), which the build reports when it keeps that matrix
fp32 (``--quantize auto``) or re-quantizes it (``--quantize int8``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .quant import QS8_MAX


def _key(v: np.ndarray) -> bytes:
    v = np.ascontiguousarray(v, np.float32)
    return v.size.to_bytes(8, "little") + hashlib.blake2b(v.tobytes(), digest_size=16).digest()


@dataclass
class Table:
    """The vectors of the model's DequantizeLinear outputs: key -> (int8 q, scale) or the reason it cannot be."""

    rows: dict[bytes, tuple[np.ndarray, np.float32]] = field(default_factory=dict)
    refused: dict[bytes, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rows or self.refused)

    def register(self, q: np.ndarray, scale: np.ndarray, axis: int | None, y: np.ndarray, label: str) -> None:
        """q = x - zero_point (int32), scale per tensor (axis None) or along axis; y the fp32 result."""
        if q.ndim < 2:
            return
        for vec_axis in (q.ndim - 1, q.ndim - 2):
            qv, yv = np.moveaxis(q, vec_axis, -1), np.moveaxis(y, vec_axis, -1)
            along = axis is not None and axis == vec_axis and scale.size > 1
            if axis is None or along:
                sv = np.broadcast_to(scale.reshape(()) if axis is None else scale.reshape(-1)[0], qv.shape[:-1])
            else:
                sv = np.moveaxis(np.broadcast_to(along_axis(scale, q.ndim, axis), q.shape), vec_axis, -1)[..., 0]
            for idx in np.ndindex(*qv.shape[:-1]):
                key = _key(yv[idx])
                if key in self.rows or key in self.refused:
                    continue
                why = _refusal(qv[idx], float(sv[idx]), along, axis, label)
                if why:
                    self.refused[key] = why
                else:
                    self.rows[key] = (qv[idx].astype(np.int8), np.float32(sv[idx]))

    def lookup(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray] | str | None:
        """(int8 rows, row scales) when every row of the matrix a is a representable vector; else the reason
        (a string) when some row comes from a DequantizeLinear; None when none does."""
        found, why, missing = [], "", 0
        for row in np.asarray(a, np.float32):
            key = _key(row)
            if key in self.rows:
                found.append(self.rows[key])
            elif key in self.refused:
                why = why or self.refused[key]
            else:
                missing += 1
        if not found and not why:
            return None
        if why:
            return why
        if missing:
            return f"{missing} of its {a.shape[0]} rows are not the output of a DequantizeLinear"
        return np.stack([q for q, _ in found]), np.array([s for _, s in found], np.float32)


def along_axis(v: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A per-axis scale or zero point (1-D) shaped to broadcast along axis of an ndim-D tensor."""
    shape = [1] * ndim
    shape[axis] = v.size
    return v.reshape(shape)


def _refusal(q: np.ndarray, s: float, along: bool, axis: int | None, label: str) -> str:
    where = f"DequantizeLinear '{label}'"
    if along:
        return f"{where}: its scale varies along the rows the kernels read (axis {axis}); it must be per output row"
    if not (np.isfinite(s) and s > 0):
        return f"{where}: scale {s:g} is not a positive number"
    lo, hi = int(q.min()), int(q.max())
    if lo == -QS8_MAX - 1 and hi <= QS8_MAX:
        return f"{where}: holds -128 (the int8 kernels sum two products in int16 and need [-127, 127])"
    if lo < -QS8_MAX or hi > QS8_MAX:
        return (
            f"{where}: integers minus the zero point span {lo}..{hi}, beyond int8's [-127, 127] "
            "(an asymmetric zero point)"
        )
    return ""
