"""Lowering of a layer with the model's own int8 weights (onnxruntime DynamicQuantizeLSTM, hlfgen/qonnx.py).

The same math as onnxruntime's CPU kernel (rnn_helpers' quantized ComputeGemm):
  * each product's input A (all T*batch rows of X for the input projection,
    h of the step for the recurrence) is quantized to uint8 with one scale
    and zero point for the whole of A: range [min(A, 0), max(A, 0)],
    scale = range / 255, zero point = round_half_even(-min / scale),
    q = saturate(round_half_even(A / scale) + zp)  (hlf_qu8_quantize);
  * y = a_scale * w_scale[r] * sum_j w[r][j] (q[j] - zp), int32 sums.
The int8 kernels multiply q - 128 (int8) by the weights; the zero point is
one extra term per row, -(a_scale (zp - 128)) * (w_scale[r] sum_j w[r][j])
(hlf_qs8_offset_acc), with the row sums computed at build time.  The
per-step scale spans the batch in onnxruntime, so batch 1 only.
"""

from __future__ import annotations

import numpy as np

from . import quant
from .errors import HlfgenError


def _matrix(lw, q: np.ndarray, scale: np.ndarray, what: str, comment: str) -> str:
    from .lower import add_matrix

    sym = f"{lw.prefix}_{what}{lw.count}"
    lw.count += 1
    lw.dtypes[sym] = add_matrix(lw.prog, sym, q.astype(np.float32) * scale[:, None], comment, given=(q, scale))
    return sym


def _buffers(lw, name: str, n: int, nvec: int) -> int:
    ldq = quant.qs8_padded(n)
    for buf, floats in ((name, -(-nvec * ldq // 4)), (f"{name}s", nvec), (f"{name}o", 1)):
        lw.qneed[buf] = max(lw.qneed.get(buf, 0), floats)
    return ldq


def ort_dynamic(lw, lr, layer, d: int, nvec: int):
    """(input projection plan, [recurrent plan]) of direction d, as onnxruntime's DynamicQuantizeLSTM."""
    from .lower import MatCall, MatPlan

    if layer.batch != 1:
        raise HlfgenError(
            f"batch {layer.batch}: DynamicQuantizeLSTM compiles for batch 1 only (onnxruntime "
            "quantizes h with one scale across the batch)",
            layer.node,
            "DynamicQuantizeLSTM",
        )
    H, GH, n_in = layer.hidden, layer.gates * layer.hidden, layer.input_size
    qw, sw = layer.qweights["W"][d]
    qr, sr = layer.qweights["R"][d]
    w = _matrix(lw, qw, sw, "A", f"W (DynamicQuantizeLSTM int8, {GH}x{n_in})")
    r = _matrix(lr, qr, sr, "A", f"R (DynamicQuantizeLSTM int8, {GH}x{H})")
    ldx = _buffers(lw, "qx", n_in, nvec)
    ldh = _buffers(lr, "qh", H, 1)
    proj = MatPlan(
        [
            MatCall(
                "",
                n_in,
                n_in,
                "xc",
                "(int8_t *)qx",
                "X of all steps to uint8 (one scale and zero point, as onnxruntime)",
                ldx=n_in,
                ldy=ldx,
                kind="quant_u8",
                scale="qxs",
                xs="qxo",
            ),
            MatCall(
                w,
                GH,
                n_in,
                "(int8_t *)qx",
                "xwc",
                "X·W^T on int8 weights (int32 sums)",
                ldx=ldx,
                ldy=GH,
                dtype="qs8",
                scale=f"{w}_s",
                xs="qxs",
            ),
            MatCall(w, GH, n_in, "", "xwc", "the zero point's term", ldy=GH, kind="zp_acc", xs="-(qxs[0] * qxo[0])"),
        ],
        GH * n_in,
    )
    rec = MatPlan(
        [
            MatCall(
                "",
                H,
                H,
                "h",
                "(int8_t *)qh",
                "h to uint8 (one scale and zero point per step)",
                ldx=H,
                ldy=ldh,
                kind="quant_u8",
                scale="qhs",
                xs="qho",
            ),
            MatCall(
                r,
                GH,
                H,
                "(int8_t *)qh",
                "g",
                "h·R^T on int8 weights (int32 sums)",
                dtype="qs8",
                scale=f"{r}_s",
                xs="qhs",
            ),
            MatCall(r, GH, H, "", "g", "the zero point's term", kind="zp_acc", xs="-(qhs[0] * qho[0])"),
        ],
        GH * H,
    )
    return proj, [rec]
