"""Weight packing: the order in which the kernels stream the weights.

Layout (runtime/hlf_kernels.h): panels of NR rows; inside a panel, column j
holds the NR weights of rows p*NR .. p*NR+NR-1 next to each other.  Rows past
m are zero.  One layout serves the portable and the NEON kernels.
"""

from __future__ import annotations

import numpy as np

NR = 8  # the default HLF_NR of runtime/hlf_kernels.h; the NEON kernels need 8

# Panel rows per target: the NEON kernels are written for 8 rows (two q
# registers); the portable kernels use compiler vectors of HLF_NR floats, and
# 16 fills an AVX-512 register (or two AVX / four SSE registers).
PANEL_ROWS = {"host": 16, "cortex-a73": 8, "aarch64": 8}


def panel_rows(target: str) -> int:
    return PANEL_ROWS.get(target, NR)


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
