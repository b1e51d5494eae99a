"""ONNX MaxPool and AveragePool (1-D and 2-D) on runtime data.

MaxPool: kernel_shape, strides, pads / auto_pad, dilations, ceil_mode (the
Indices output is not supported); padding never wins.  AveragePool: the same
without dilations, count_include_pad.  One plane [spatial...] at a time over
N*C planes (runtime/hlf_conv.c).
"""

from __future__ import annotations

from ..ir import Node, TensorInfo
from . import OpContext, register
from .util import dim_product, fmt, require_float
from .window import out_dims, read_window


@register("MaxPool", "AveragePool")
def pool(ctx: OpContext):
    x = ctx.info(0)
    require_float(ctx, x.dtype, "input X")
    if len(x.shape) not in (3, 4):
        raise ctx.error(f"X must be [N, C, L] or [N, C, H, W], got {fmt(x.shape)}")
    if ctx.output(1):
        raise ctx.error("the Indices output is not supported")
    ks = ctx.attrs.get("kernel_shape")
    if ks is None:
        raise ctx.error("attribute kernel_shape is required")
    rank = len(x.shape) - 2
    is_max = ctx.op == "MaxPool"
    if int(ctx.attrs.get("storage_order", 0)) and not is_max:
        raise ctx.error("storage_order is a MaxPool attribute")
    win = read_window(ctx, [int(k) for k in ks], rank, dilations=is_max, ceil=True)
    spatial_in = list(x.shape[2:])
    spatial_out = out_dims(ctx, win, spatial_in)
    out = TensorInfo(ctx.output(), "float32", (x.shape[0], x.shape[1], *spatial_out))
    attrs = {
        "onnx_op": ctx.op,
        "planes": dim_product(list(x.shape[:2]), ctx),
        "max": is_max,
        "count_include_pad": int(ctx.attrs.get("count_include_pad", 0)),
        **win.c_attrs(spatial_in, spatial_out),
    }
    if any(not isinstance(d, int) for d in spatial_in):
        attrs["no_stream"] = True  # windows over the run-time axis (T) mix its steps
    return [Node(ctx.label, "pool", [x.name], [out.name], attrs)], [out]
