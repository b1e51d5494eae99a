"""ONNX Conv (1-D and 2-D) on runtime data: im2col + the packed GEMM kernels.

Y[n, g*Mg + m] = B[g*Mg + m] + W[g*Mg + m] ⋆ X[n, g*Cg : (g+1)*Cg] (ONNX Conv:
pads / auto_pad, strides, dilations, group, optional bias).  Per group the
weights are the Mg x (Cg·kh·kw) matrix of the GEMM, packed at build time
(lower._lower_node, a (groups, Mg, Cg·K) stack); hlf_conv_f32 gathers
CONV_CHUNK output positions at a time into the node's scratch (bounded,
whatever the run-time extents) and multiplies.  With few output channels per
group (depthwise), where a panel of rows would be mostly padding, the direct
form hlf_conv_direct_f32 runs on the weights as ONNX stores them.
"""

from __future__ import annotations

import numpy as np

from ..config import CONV_CHUNK
from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import const_float, fmt, require_float
from .window import out_dims, read_window

# Output channels per group below which the direct form beats a GEMM whose
# panels (8 or 16 rows) would be mostly zero padding.
DIRECT_MAX_COUT = 3


@register("Conv")
def conv(ctx: OpContext):
    x = ctx.info(0)
    require_float(ctx, x.dtype, "input X")
    if ctx.is_runtime(1):
        raise ctx.error("weights W computed at run time are not supported; W must be a constant")
    w = const_float(ctx, ctx.const(1, "W"), "input W")
    rank = len(x.shape) - 2
    if len(x.shape) not in (3, 4):
        raise ctx.error(f"X must be [N, C, L] or [N, C, H, W], got {fmt(x.shape)}")
    if w.ndim != len(x.shape):
        raise ctx.error(f"W has rank {w.ndim}; X {fmt(x.shape)} needs rank {len(x.shape)}")
    groups = int(ctx.attrs.get("group", 1))
    c = x.shape[1]
    if not isinstance(c, int) or c < 0:
        raise ctx.error("the channel axis of X must have a static extent")
    m, cg = int(w.shape[0]), int(w.shape[1])
    if groups < 1 or c % groups or m % groups or cg * groups != c:
        raise ctx.error(f"group {groups} does not split X's {c} channels and W's {m} filters of {cg} channels")
    win = read_window(ctx, [int(k) for k in w.shape[2:]], rank, dilations=True, ceil=False)
    if win.auto_pad.startswith("SAME") and any(d != 1 for d in win.dilation):
        raise ctx.error(
            f"auto_pad {win.auto_pad} with dilations {win.dilation} is not supported "
            "(onnxruntime refuses it too); give explicit pads"
        )
    bias = None
    if ctx.input(2):
        if ctx.is_runtime(2):
            raise ctx.error("bias B computed at run time is not supported; B must be a constant")
        bias = const_float(ctx, ctx.const(2, "B"), "input B").reshape(-1)
        if bias.size != m:
            raise ctx.error(f"bias B has {bias.size} entries, W has {m} filters")
    spatial_in = list(x.shape[2:])
    spatial_out = out_dims(ctx, win, spatial_in)
    out = TensorInfo(ctx.output(), "float32", (x.shape[0], m, *spatial_out))
    mg = m // groups
    taps = int(np.prod(w.shape[2:]))
    direct = mg <= DIRECT_MAX_COUT
    attrs = {
        "batch": x.shape[0],
        "groups": groups,
        "cg": cg,
        "mg": mg,
        "direct": direct,
        "bias": bias is not None,
        "taps": taps,
        **win.c_attrs(spatial_in, spatial_out),
    }
    if any(not isinstance(d, int) for d in spatial_in):
        attrs["no_stream"] = True  # windows over the run-time axis (T) mix its steps
    weights = {"b": bias} if bias is not None else {}
    packed = {}
    if direct:
        weights["w"] = w.reshape(-1)
    else:
        packed["w"] = np.ascontiguousarray(w.reshape(groups, mg, cg * taps))
        attrs["scratch_floats"] = CONV_CHUNK * (cg * taps + mg)  # HLF_CONV_SCRATCH
    node = Node(ctx.label, "conv", [x.name], [out.name], attrs, weights=weights, packed=packed)
    return [node], [out]
