"""Weight quantization at build time (``hlfgen build --quantize``).

Every weight matrix the kernels stream (each factor of Algorithm 1
separately: A', the stacked C and each B; B·C is never formed) is stored in
one of three forms (runtime/hlf_qkernels.h):

  * ``none``: fp32, the panels of hlfgen/pack.py;
  * ``fp16``: IEEE binary16 in the same panels (storage only: the kernels
    widen to fp32 and compute in fp32);
  * ``int8``: symmetric int8 in [-127, 127] with one fp32 scale per row,
    ``scale = max|row| / 127``, ``q = round(a / scale)``; panels of nr rows
    whose 16-column cells are stored row by row (pack_qs8).  The vector each
    int8 kernel reads (x, h, t = C·x) is quantized the same way per call.

Biases, peepholes and the sparse kernels' values stay fp32.
"""

from __future__ import annotations

import numpy as np

from . import pack
from .config import QUANTIZE_MODES
from .errors import HlfgenError

MODES = QUANTIZE_MODES
QS8_KC = 16  # columns per int8 cell (HLF_QS8_KC)
QS8_MAX = 127  # |q| <= 127: two int8 products fit int16 (runtime/hlf_qkernels.h)
F16_MAX = 65504.0
# Kernel dtype names (file and function prefixes of runtime/kernels/).
KERNEL = {"none": "f32", "fp16": "f16", "int8": "qs8"}
# Weight element: C type and numpy dtype.
CTYPE = {"float32": "float", "float16": "uint16_t", "int8": "int8_t"}


def resolve(mode: str, fp16_weights: bool) -> str:
    """--quantize auto: fp16 storage for a model whose weight initializers are float16 (fp16 -> fp32
    is exact, so that is onnxruntime's math on the same file at half the bytes), else none."""
    if mode == "auto":
        return "fp16" if fp16_weights else "none"
    return check_mode(mode)


def keeps_qdq(mode: str) -> bool:
    """Whether a build (--quantize as given) stores DequantizeLinear weights as the file's int8 (hlfgen/qdq.py):
    auto and int8; none computes with their fp32 values (onnxruntime's math), fp16 rounds those to fp16."""
    return mode in ("auto", "int8")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise HlfgenError(f"unknown --quantize mode '{mode}' (choose from {', '.join(MODES)})")
    return mode


def qs8_padded(n: int) -> int:
    return -(-n // QS8_KC) * QS8_KC


def f16_bits(a: np.ndarray, what: str = "weights") -> np.ndarray:
    """fp32 -> binary16 bit patterns (uint16), round to nearest even."""
    a = np.asarray(a, np.float32)
    if a.size and not np.all(np.abs(a) <= F16_MAX):
        raise HlfgenError(
            f"{what}: values beyond the fp16 range (|w| > {F16_MAX:g}) or not finite; use --quantize int8 or none"
        )
    return a.astype(np.float16).view(np.uint16)


def pack_f16(a: np.ndarray, nr: int) -> np.ndarray:
    """The fp32 panels of pack.pack_panels, each weight as binary16 bits."""
    return f16_bits(pack.pack_panels(a, nr))  # the fp32 layout: the short last panel unpadded


def quantize_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row int8: a ~ scale[:, None] * q, |q| <= 127."""
    a = np.asarray(a, np.float32)
    if a.size and not np.all(np.isfinite(a)):
        raise HlfgenError("weights that are not finite cannot be quantized")
    amax = np.abs(a).max(axis=1) if a.shape[1] else np.zeros(a.shape[0], np.float32)
    scale = (amax / np.float32(QS8_MAX)).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1))
    q = np.clip(np.rint(a / safe[:, None]), -QS8_MAX, QS8_MAX).astype(np.int8)
    return q, scale


def int8_pays(n: int) -> bool:
    """Whether an int8 row of n columns (16-column cells plus a 4-byte scale) is smaller than fp16 (2n bytes).

    True from n = 11 on; narrower matrices (an HLF B of small rank k) are stored fp16 in --quantize int8.
    """
    return qs8_padded(n) + 4 < 2 * n


def int8_beats_fp32(n: int) -> bool:
    """Whether an int8 row of n columns (cells and scale) is smaller than fp32's 4n bytes: from n = 6 on.

    A DequantizeLinear matrix narrower than that (an HLF B of rank k <= 5) keeps its exact dequantized
    values on the fp32 kernels (or --quantize's form) instead of the file's int8."""
    return qs8_padded(n) + 4 < 4 * n


def pack_qs8(q: np.ndarray, nr: int) -> np.ndarray:
    """int8 m x n -> panels of nr rows, 16-column cells row by row (1-D int8).

    Element (i, j) lands at (i // nr) * nr * np_ + (j // 16) * nr * 16 + (i % nr) * 16 + j % 16,
    np_ = n rounded up to 16; rows past m and columns past n are zero.
    """
    m, n = q.shape
    panels, npad = -(-m // nr), qs8_padded(n)
    full = np.zeros((panels * nr, npad), np.int8)
    full[:m, :n] = q
    # (panel, row, cell, col) -> (panel, cell, row, col)
    return np.ascontiguousarray(full.reshape(panels, nr, npad // QS8_KC, QS8_KC).transpose(0, 2, 1, 3)).reshape(-1)


def pad_scales(scale: np.ndarray, nr: int) -> np.ndarray:
    out = np.zeros(-(-scale.size // nr) * nr, np.float32)
    out[: scale.size] = scale
    return out


def dequantize(a: np.ndarray, mode: str) -> np.ndarray:
    """The matrix the kernels multiply by, in fp32 (for error estimates and tests)."""
    a = np.asarray(a, np.float32)
    if mode == "fp16":
        return a.astype(np.float16).astype(np.float32)
    if mode == "int8":
        q, s = quantize_rows(a)
        return q.astype(np.float32) * s[:, None]
    return a


# ------------------------------------------------------------------ check tolerance
# A DynamicQuantizeLSTM file against onnxruntime on the same file (the same math, hlfgen/qlower.py):
# the activations (sigmoid/tanh) differ from MLAS's by ~1e-7, which now and then moves an h entry
# across a rounding boundary of its uint8 quantization; one such flip changes a gate by one
# quantization step times a weight (~4e-4 measured).  The bound the issue sets for this case.
ORT_DYNAMIC_ATOL = 2e-3
F16_UNIT = 2.0**-11  # relative rounding error of binary16 (round to nearest)
TOL_REALIZATIONS = 2  # perturbed models run by `hlfgen check` (their largest effect counts)
TOL_FACTOR = 3.0  # margin on that effect (docs/quantization.md, "Tolerance")
ACTIVATIONS = "activations"  # weight_noise: only the int8 kernels' input quantization (QDQ weights are exact)


def weight_noise(a: np.ndarray, mode: str, rng: np.random.Generator) -> np.ndarray:
    """A random perturbation of the size the quantization makes (the tolerance model of `hlfgen check`).

    fp16: each weight times (1 + d), d uniform in +-2^-11 (binary16 rounding).
    int8: uniform in +-s/2 with s = max|a| / 127 of the whole tensor (an upper
    bound of the per-row scales), times sqrt(2): the dynamic quantization of
    each product's input adds an error of the same size (s_x·|A_r| against
    s_r·|x|), so the variance is doubled.
    ACTIVATIONS (the file's own int8 weights, QDQ: exact): that input quantization
    alone, uniform in +-s/2 with the same s.
    """
    a = np.asarray(a, np.float32)
    if mode == "fp16":
        return a * rng.uniform(-F16_UNIT, F16_UNIT, a.shape).astype(np.float32)
    if mode in ("int8", ACTIVATIONS):
        s = float(np.abs(a).max()) / QS8_MAX if a.size else 0.0
        k = np.sqrt(2.0) if mode == "int8" else 1.0
        return (rng.uniform(-0.5, 0.5, a.shape) * s * k).astype(np.float32)
    return np.zeros_like(a)
