"""Weight packing: the order in which the kernels stream the weights.

Layout (runtime/hlf_kernels.h): panels of NR rows; inside a panel, column j
holds the NR weights of rows p*NR .. p*NR+NR-1 next to each other.  Rows past
m are zero.  One layout serves the portable and the NEON kernels.
"""

from __future__ import annotations

import numpy as np

from .config import DEFAULT_NR as NR  # the default HLF_NR of runtime/hlf_kernels.h; the NEON kernels need 8
from .config import PANEL_ROWS, panel_rows  # noqa: F401  (panel rows per target)


def pack_panels(a: np.ndarray, nr: int = NR) -> np.ndarray:
    """Pack an m x n matrix into ceil(m/nr) panels of n columns x nr rows (1-D)."""
    a = np.asarray(a, np.float32)
    m, n = a.shape
    panels = -(-m // nr)
    padded = np.zeros((panels * nr, n), np.float32)
    padded[:m] = a
    # (panel, row-in-panel, col) -> (panel, col, row-in-panel)
    return np.ascontiguousarray(padded.reshape(panels, nr, n).transpose(0, 2, 1)).reshape(-1)


def unpack_panels(p: np.ndarray, m: int, n: int, nr: int = NR) -> np.ndarray:
    """Inverse of pack_panels (for tests)."""
    panels = -(-m // nr)
    return p.reshape(panels, n, nr).transpose(0, 2, 1).reshape(panels * nr, n)[:m]


def packed_size(m: int, n: int, nr: int = NR) -> int:
    return -(-m // nr) * nr * n
