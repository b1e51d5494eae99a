"""Quantized ONNX as onnxruntime's ``quantize_dynamic`` writes it: com.microsoft DynamicQuantizeLSTM.

``rewrite`` runs on the ONNX proto before it is read: every
DynamicQuantizeLSTM node becomes a standard LSTM node whose W and R are the
dequantized initializers (so the reader, check and inspect see an ordinary
LSTM), and its int8 weights and scales are kept aside; ``attach`` hands them
to the recurrent layer read from that node (``RecurrentLayer.qweights``).
The lowering then compiles that layer as onnxruntime runs it
(hlfgen/qlower.py): the model's own int8 weights and scales, the input of
each product quantized to uint8 with onnxruntime's dynamic scale and zero
point, int32 accumulation.

DynamicQuantizeLSTM (onnxruntime contrib op): inputs X, W [D, I, 4H] int8,
R [D, H, 4H] int8, B, sequence_lens, initial_h, initial_c, P, W_scale,
W_zero_point, R_scale, R_zero_point; scales and zero points per direction
([D]) or per output channel ([D, 4H]); LSTM's attributes.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import HlfgenError

OP = "DynamicQuantizeLSTM"
DOMAIN = "com.microsoft"


def _init(inits: dict, name: str, what: str, label: str) -> np.ndarray:
    if name not in inits:
        raise HlfgenError(f"input {what} ('{name}') must be an initializer", label, OP)
    return numpy_helper.to_array(inits[name])


def _weights(inits, node, wi: int, si: int, zi: int, what: str, label: str):
    """(per direction: int8 rows [4H, n] and fp32 row scales [4H]), and the dequantized [D, 4H, n] float32."""
    q = _init(inits, node.input[wi], what, label)
    scale = _init(inits, node.input[si], f"{what}_scale", label).astype(np.float32)
    zp = _init(inits, node.input[zi], f"{what}_zero_point", label) if len(node.input) > zi and node.input[zi] else None
    if q.dtype != np.int8:
        raise HlfgenError(
            f"{what} is {q.dtype}; only int8 weights (quantize_dynamic weight_type=QInt8) are supported", label, OP
        )
    if zp is not None and np.any(zp != 0):
        raise HlfgenError(f"{what}_zero_point is not 0; only symmetric int8 weights are supported", label, OP)
    if q.ndim != 3:
        raise HlfgenError(f"{what} must have rank 3 [D, in, 4H], got {list(q.shape)}", label, OP)
    if np.any(q == -128):
        raise HlfgenError(
            f"{what} holds -128; the int8 kernels take weights in [-127, 127] (symmetric quantization)", label, OP
        )
    d, n, g = q.shape
    rows = np.ascontiguousarray(q.transpose(0, 2, 1))  # [D, 4H, n]: one row per gate unit
    s = np.broadcast_to(scale.reshape(d, -1), (d, g)) if scale.size in (d, d * g) else None
    if s is None:
        raise HlfgenError(f"{what}_scale has {scale.size} values; expected {d} or {d * g}", label, OP)
    deq = (rows.astype(np.float32) * s[:, :, None]).astype(np.float32)
    return [(rows[i], np.ascontiguousarray(s[i], np.float32)) for i in range(d)], deq


def rewrite(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    """proto with every DynamicQuantizeLSTM as an LSTM on dequantized weights, and {node label: qweights}."""
    if not any(n.op_type == OP and n.domain == DOMAIN for n in proto.graph.node):
        return proto, {}
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    inits = {t.name: t for t in out.graph.initializer}
    specs, nodes = {}, []
    for i, node in enumerate(out.graph.node):
        if node.op_type != OP or node.domain != DOMAIN:
            nodes.append(node)
            continue
        label = node.name or (node.output[0] if node.output else OP)
        if len(node.input) < 11:
            raise HlfgenError("needs W_scale and R_scale (inputs 8 and 10)", label, OP)
        wq, wf = _weights(inits, node, 1, 8, 9, "W", label)
        rq, rf = _weights(inits, node, 2, 10, 11, "R", label)
        wname, rname = f"{label}__W_dequantized", f"{label}__R_dequantized"
        out.graph.initializer.extend([numpy_helper.from_array(wf, wname), numpy_helper.from_array(rf, rname)])
        ins = [node.input[0], wname, rname] + list(node.input[3:8])
        lstm = helper.make_node("LSTM", ins, list(node.output), name=label)
        lstm.attribute.extend(node.attribute)
        nodes.append(lstm)
        specs[label] = {"W": wq, "R": rq, "source": OP}
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    used = {i for n in out.graph.node for i in n.input}
    keep = [t for t in out.graph.initializer if t.name in used]
    del out.graph.initializer[:]
    out.graph.initializer.extend(keep)
    if not any(n.domain == DOMAIN for n in out.graph.node):
        keep_ops = [o for o in out.opset_import if o.domain != DOMAIN]
        del out.opset_import[:]
        out.opset_import.extend(keep_ops)
    return out, specs


def attach(model, specs: dict) -> None:
    """Give each recurrent layer read from a rewritten node its int8 weights."""
    for layer in model.layers:
        if layer.node in specs:
            layer.qweights = specs[layer.node]
