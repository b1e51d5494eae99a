"""Dropout at inference: the identity (a view).  The optional mask output and
training_mode = true are not supported."""

from __future__ import annotations

import numpy as np

from ..ir import Node, TensorInfo
from . import OpContext, register


@register("Dropout")
def dropout(ctx: OpContext):
    x = ctx.info(0)
    if ctx.output(1):
        raise ctx.error("the mask output of Dropout is not supported")
    if ctx.input(2) and bool(np.ravel(ctx.const(2, "training_mode"))[0]):
        raise ctx.error("Dropout with training_mode = true is not supported (inference only)")
    if int(ctx.attrs.get("is_test", 1)) == 0 and ctx.opset < 7:
        raise ctx.error("Dropout with is_test = 0 is not supported (inference only)")
    out = TensorInfo(ctx.output(), x.dtype, x.shape)
    return [Node(ctx.label, "view", [x.name], [out.name], {"onnx_op": "Dropout"}, alias=True)], [out]
