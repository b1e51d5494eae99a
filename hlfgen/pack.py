"""Weight packing: the order in which the kernels stream the weights.

Layout of an m x n fp32 matrix (runtime/hlf_kernels.h), for panels of NR rows:
  * m // NR full panels: panel p holds, column after column, the NR weights of
    rows p*NR .. p*NR+NR-1 next to each other (NR x n floats);
  * then, when r = m % NR > 0, one short panel of the last r rows, laid out
    the same way with r floats per column (r x n floats).
So the packed matrix is exactly m x n floats: no padding rows, and the weight
bytes are the parameter count x 4 (Eq. 4).  One layout serves the portable
and the NEON kernels, fp32 and fp16 alike (the int8 kernels' 16-column cells
are quant.pack_qs8's).  compact=False gives the older zero-padded layout (the
last panel NR rows wide).
"""

from __future__ import annotations

import numpy as np

from .config import DEFAULT_NR as NR  # the default HLF_NR of runtime/hlf_kernels.h; the NEON kernels need 8
from .config import PANEL_ROWS, panel_rows  # noqa: F401  (panel rows per target)


def _panels(a: np.ndarray, nr: int) -> np.ndarray:
    """Rows of a (a multiple of nr) as panels: (panel, col, row-in-panel), flattened."""
    m, n = a.shape
    return np.ascontiguousarray(a.reshape(m // nr, nr, n).transpose(0, 2, 1)).reshape(-1)


def pack_panels(a: np.ndarray, nr: int = NR, *, compact: bool = True) -> np.ndarray:
    """Pack an m x n matrix into panels of nr rows (1-D, packed_size(m, n, nr) floats)."""
    a = np.asarray(a, np.float32)
    m, n = a.shape
    full = m - m % nr
    if not compact and full < m:
        padded = np.zeros((full + nr, n), np.float32)
        padded[:m] = a
        return _panels(padded, nr)
    parts = [_panels(a[:full], nr)]
    if full < m:  # the short panel: r = m - full rows per column
        parts.append(_panels(a[full:], m - full))
    return np.concatenate(parts)


def unpack_panels(p: np.ndarray, m: int, n: int, nr: int = NR, *, compact: bool = True) -> np.ndarray:
    """Inverse of pack_panels (for tests)."""
    full = m - m % nr
    if not compact:
        panels = -(-m // nr)
        return p.reshape(panels, n, nr).transpose(0, 2, 1).reshape(panels * nr, n)[:m]
    top = p[: full * n].reshape(full // nr, n, nr).transpose(0, 2, 1).reshape(full, n)
    r = m - full
    tail = p[full * n :].reshape(n, r).T if r else np.zeros((0, n), p.dtype)
    return np.concatenate([top, tail])


def packed_size(m: int, n: int, nr: int = NR, *, compact: bool = True) -> int:
    return m * n if compact else -(-m // nr) * nr * n
