"""Constant folding: every node whose inputs are all constant is evaluated at build time.

Three kinds of constant value flow through the graph walk (reader.py):

* a numpy array (initializers, Constant nodes, anything computed from them):
  evaluated by ``onnx.reference`` (the ONNX spec's own implementation);
* a ``weights.SymTensor``: a weight expression kept as row segments, with the
  rule table of weights.py (MatMul of factors, Concat, Slice, ...);
* a *symbolic* value: shape arithmetic on ``Shape(X)`` where X has symbolic
  extents.  An int64 shape tensor is then a numpy object array of ints and
  ``dims.Dim`` (``[T, 1, 4]``), and ``ConstantOfShape``/``Expand`` of such a
  shape is a ``Fill`` (one value over a symbolic shape).  The ops exporters
  use for shape glue (Shape, Gather, Slice, Concat, Unsqueeze, Squeeze,
  Reshape, Cast, Add, Sub, Mul, Div, Equal, Where, Max, Min, ReduceProd, ...)
  are evaluated here element by element on Dims; anything else on a symbolic
  value is an error naming the symbols.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import dims as D
from . import weights as W
from .errors import HlfgenError
from .qdq import Table as QdqTable
from .qdq import along_axis


@dataclass
class Fill:
    """A tensor holding one value over a shape with symbolic extents (ConstantOfShape(Shape(X)))."""

    value: np.ndarray  # 0-d, the dtype of the tensor
    shape: tuple  # ints and Dims, at least one Dim


def is_symbolic(v) -> bool:
    return isinstance(v, Fill) or (isinstance(v, np.ndarray) and v.dtype == object)


def _scalar_obj(v) -> np.ndarray:
    """A 0-d object array holding v (np.array(v, object) would try to iterate a Dim)."""
    arr = np.empty((), dtype=object)
    arr[()] = v
    return arr


def sym_array(values, shape=None) -> np.ndarray:
    """An int64 array, or an object array when an entry is a Dim."""
    vals = list(values)
    if any(isinstance(v, D.Dim) for v in vals):
        arr = np.empty(len(vals), dtype=object)
        arr[:] = vals
    else:
        arr = np.array([int(v) for v in vals], np.int64)
    return arr.reshape(shape) if shape is not None else arr


def normalize(v):
    """An object array with no Dim left becomes int64; a Fill with a static shape becomes an array."""
    if isinstance(v, Fill):
        if not any(isinstance(d, D.Dim) for d in v.shape):
            return np.full(tuple(int(d) for d in v.shape), v.value, dtype=v.value.dtype)
        return v
    if isinstance(v, np.ndarray) and v.dtype == object and not any(isinstance(x, D.Dim) for x in v.flat):
        return v.astype(np.int64)
    return v


def symbols_of(v) -> list[str]:
    if isinstance(v, Fill):
        return sorted(set().union(*(D.symbols(d) for d in v.shape)))
    if isinstance(v, np.ndarray) and v.dtype == object:
        return sorted(set().union(*(D.symbols(x) for x in v.flat)))
    return []


def _obj(v) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype == object:
        return a
    out = np.empty(a.shape, dtype=object)
    out.flat[:] = [int(x) for x in a.flat]
    return out


def _div(a, b):
    if isinstance(b, D.Dim):
        if a == b:
            return 1
        raise ValueError(f"division by the symbolic extent {b}")
    b = int(b)
    if isinstance(a, D.Dim):
        return D.floordiv(a, b)  # extents are non-negative: truncation == floor
    return int(np.trunc(int(a) / b)) if b else 0


def _max(a, b, pick_max: bool):
    if not isinstance(a, D.Dim) and not isinstance(b, D.Dim):
        return max(int(a), int(b)) if pick_max else min(int(a), int(b))
    if a == b:
        return a
    for x, y in ((a, b), (b, a)):  # an extent (>= 1) against a constant <= 1
        if isinstance(x, D.Dim) and not isinstance(y, D.Dim) and int(y) <= 1:
            return x if pick_max else y
    raise ValueError(f"{'Max' if pick_max else 'Min'} of {a} and {b}")


_BINARY = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": _div,
    "Equal": lambda a, b: a == b,
    "Max": lambda a, b: _max(a, b, True),
    "Min": lambda a, b: _max(a, b, False),
}


def _ints(v) -> list[int]:
    return [int(x) for x in np.ravel(W.materialize(v))]


def _broadcast(*shapes):
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        ds = {s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0}
        ds.discard(1)
        if len(ds) > 1:
            raise ValueError("shapes do not broadcast")
        out.append(ds.pop() if ds else 1)
    return tuple(out)


def _fold_fill(node, vals, a, evaluate_plain):
    """An element-wise node on Fills and single-valued constants: still a Fill."""
    shapes, singles = [], []
    for v in vals:
        if v is None:
            singles.append(None)
        elif isinstance(v, Fill):
            shapes.append(v.shape)
            singles.append(v.value.reshape(1))
        else:
            arr = np.asarray(W.materialize(v))
            if arr.dtype == object or (arr.size and not np.all(arr == arr.reshape(-1)[0])):
                return None
            shapes.append(arr.shape)
            singles.append(arr.reshape(-1)[:1] if arr.size else arr.reshape(-1))
    res = evaluate_plain(node, singles)
    if isinstance(res, list):
        return None
    return Fill(np.asarray(res).reshape(-1)[0].copy(), _broadcast(*shapes))


def fold_symbolic(node, vals, a: dict, opset: int, evaluate_plain):
    """Evaluate a node with a symbolic input (object arrays / Fills); returns the output value(s)."""
    op = node.op_type
    if op in ("Identity",) or (op == "Cast" and a.get("to") in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)):
        if isinstance(vals[0], Fill):
            to = helper.tensor_dtype_to_np_dtype(a["to"]) if op == "Cast" else vals[0].value.dtype
            return Fill(vals[0].value.astype(to), vals[0].shape)
        return vals[0]
    if op == "CastLike" and not isinstance(vals[1], Fill):  # to the type of input 1: extents are int64
        to = np.int64 if is_symbolic(vals[1]) else np.asarray(W.materialize(vals[1])).dtype
        if is_symbolic(vals[0]):
            if np.dtype(to).kind not in "iu":
                raise ValueError("CastLike of symbolic extents to a non-integer type")
            return vals[0]
        return np.asarray(W.materialize(vals[0])).astype(to)
    if op == "ConstantOfShape":
        v = numpy_helper.to_array(a["value"]).reshape(-1)[:1] if "value" in a else np.zeros(1, np.float32)
        return Fill(v.reshape(()), tuple(vals[0].tolist()))
    if op == "Expand" and not isinstance(vals[0], Fill) and not is_symbolic(vals[0]):
        base = np.asarray(W.materialize(vals[0]))
        if base.size and np.all(base == base.reshape(-1)[0]):
            return Fill(base.reshape(-1)[0].copy(), _broadcast(base.shape, tuple(np.asarray(vals[1]).tolist())))
    if op in ("Shape", "Size") and isinstance(vals[0], Fill):  # the extents of a constant-filled tensor
        dims = list(vals[0].shape)
        if op == "Size":
            return sym_array([D.prod(dims)]).reshape(())
        end = a.get("end")
        return sym_array(dims[slice(int(a.get("start", 0)), None if end is None else int(end))])
    if any(isinstance(v, Fill) for v in vals):
        out = _fold_fill(node, vals, a, evaluate_plain)
        if out is None:
            raise ValueError("a tensor of symbolic shape")
        return out
    x = vals[0]
    if op in _BINARY:
        f = np.frompyfunc(_BINARY[op], 2, 1)
        res = f(_obj(vals[0]), _obj(vals[1]))
        res = np.asarray(res, dtype=object)
        return res.astype(bool) if op == "Equal" else res
    if op == "Neg":
        return -_obj(x)
    if op == "Where":
        return np.where(np.asarray(W.materialize(vals[0])).astype(bool), _obj(vals[1]), _obj(vals[2]))
    if op == "Gather":
        idx = np.asarray(W.materialize(vals[1])).astype(np.int64)
        return np.take(_obj(x), idx, axis=int(a.get("axis", 0)))
    if op == "Concat":
        return np.concatenate([_obj(v) for v in vals if v is not None and np.asarray(v).size], axis=int(a["axis"]))
    if op == "Slice":
        arr = _obj(x)
        if opset < 10:
            starts, ends = a["starts"], a["ends"]
            axes, steps = a.get("axes", list(range(len(starts)))), [1] * len(starts)
        else:
            starts, ends = _ints(vals[1]), _ints(vals[2])
            axes = _ints(vals[3]) if len(vals) > 3 and vals[3] is not None else list(range(len(starts)))
            steps = _ints(vals[4]) if len(vals) > 4 and vals[4] is not None else [1] * len(starts)
        index = [slice(None)] * arr.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            index[ax % arr.ndim] = slice(s, e, st)  # numpy's slice rule is ONNX's
        return arr[tuple(index)]
    if op in ("Unsqueeze", "Squeeze"):
        axes = a.get("axes") if opset < 13 else (_ints(vals[1]) if len(vals) > 1 and vals[1] is not None else None)
        arr = _obj(x)
        if op == "Unsqueeze":
            for ax in sorted(int(v) % (arr.ndim + len(axes)) for v in axes):
                arr = np.expand_dims(arr, ax)
            return arr
        return np.squeeze(arr, axis=None if axes is None else tuple(int(v) % arr.ndim for v in axes))
    if op == "Reshape":
        shape = _ints(vals[1])
        arr = _obj(x)
        shape = [arr.shape[i] if s == 0 and not a.get("allowzero", 0) else s for i, s in enumerate(shape)]
        return arr.reshape(shape)
    if op == "Flatten":
        arr = _obj(x)
        ax = int(a.get("axis", 1)) % (arr.ndim + 1)
        return arr.reshape(int(np.prod(arr.shape[:ax])), -1)
    if op == "Transpose":
        return np.transpose(_obj(x), a.get("perm"))
    if op == "ReduceProd" and (opset < 18 or len(vals) < 2 or vals[1] is None) and a.get("axes") is None:
        out = D.prod(_obj(x).flat)
        res = sym_array([out])
        return res.reshape([1] * _obj(x).ndim) if int(a.get("keepdims", 1)) else res.reshape(())
    if op == "Size":
        return sym_array([D.prod(_obj(x).shape)]).reshape(())
    if op == "Shape":
        return sym_array(_obj(x).shape)
    raise ValueError(f"{op} of a value that depends on symbolic dimensions")


def fold_node(node, vals, a: dict, opset: int, label: str, opset_import, qdq: QdqTable | None = None) -> list:
    """The output values of a constant node (a list, one per output).

    qdq: where a DequantizeLinear of integers records its integers and scales (hlfgen/qdq.py)."""
    op = node.op_type

    def plain(n, values):
        return reference_eval(n, values, label, opset_import)

    vals = [
        _scalar_obj(v) if isinstance(v, D.Dim) else v for v in vals
    ]  # a bare extent (Gather(Shape(x), 1)) is symbolic

    if any(is_symbolic(v) for v in vals if v is not None):
        try:
            res = fold_symbolic(node, vals, a, opset, plain)
        except (ValueError, IndexError, KeyError, TypeError) as e:
            syms = sorted(set().union(*(symbols_of(v) for v in vals if v is not None)))
            raise HlfgenError(
                f"cannot fold this shape computation on the symbolic dimension(s) {', '.join(syms)} ({e})", label, op
            ) from None
        outs = res if isinstance(res, list) else [res]
        return [normalize(o) for o in outs]
    sym = any(isinstance(v, W.SymTensor) for v in vals)
    result = None
    try:
        if op == "MatMul":
            result = W.matmul(vals[0], vals[1], c_key=node.input[1])
        elif op == "MatMulInteger":  # quantize_dynamic on HLF factors: keep them factored
            result = W.matmul_integer(vals, c_key=node.input[1])
        elif sym and op == "Mul":  # ... and its dequantization by a scalar
            result = W.scale(vals[0], vals[1]) or W.scale(vals[1], vals[0])
        elif sym and op in ("Identity", "Cast") and (op == "Identity" or a.get("to") == onnx.TensorProto.FLOAT):
            result = vals[0]
        elif sym and op == "Concat":
            result = W.concat(vals, int(a["axis"]))
        elif sym and op == "Slice":
            result = _sym_slice(vals, a, opset)
        elif sym and op == "Unsqueeze":
            axes = a.get("axes") if opset < 13 else W.materialize(vals[1]).tolist()
            result = W.unsqueeze(vals[0], axes)
        elif sym and op == "Squeeze":
            axes = (
                a.get("axes")
                if opset < 13
                else (W.materialize(vals[1]).tolist() if len(vals) > 1 and vals[1] is not None else None)
            )
            result = W.squeeze(vals[0], axes)
        elif sym and op == "Reshape":
            result = W.reshape(vals[0], W.materialize(vals[1]).tolist(), int(a.get("allowzero", 0)))
        elif sym and op == "Transpose":
            result = W.transpose(vals[0], a.get("perm"))
        elif sym and op == "Split":
            result = _sym_split(node, vals, a, opset)
    except (ValueError, IndexError, KeyError, TypeError):
        result = None
    if result is None and op == "DequantizeLinear" and not a.get("block_size"):
        result = dequantize_linear([W.materialize(v) if v is not None else None for v in vals], a, label, qdq)
    if result is None:
        result = plain(node, [W.materialize(v) if v is not None else None for v in vals])
    return result if isinstance(result, list) else [result]


def dequantize_linear(vals, a: dict, label: str = "", qdq: QdqTable | None = None) -> np.ndarray | None:
    """ONNX DequantizeLinear: y = (x - zero_point) * scale, the scale (and zero point) per tensor or
    along `axis` (default 1); every opset's per-tensor and per-axis forms (onnx.reference has only
    the newest versions).  Blocked quantization (block_size) is left to onnx.reference.  The
    integers x - zero_point and the scales go to qdq (the int8 kernels' QDQ weights)."""
    x = np.asarray(vals[0])
    if x.dtype.kind not in "iu":  # float8 and the like: onnx.reference
        return None
    scale = np.asarray(vals[1], np.float32)
    zp = np.asarray(vals[2]) if len(vals) > 2 and vals[2] is not None else np.zeros((), x.dtype)
    axis = None
    if scale.ndim == 1 and x.ndim:
        axis = int(a.get("axis", 1)) % x.ndim
        scale, zp = along_axis(scale, x.ndim, axis), along_axis(zp, x.ndim, axis) if zp.ndim == 1 else zp
    q = x.astype(np.int32) - zp.astype(np.int32)
    y = (q.astype(np.float32) * scale).astype(np.float32)
    if qdq is not None:
        qdq.register(q, scale.reshape(-1), axis, y, label)
    return y


def _sym_slice(vals, a, opset):
    if opset < 10:
        starts, ends = a["starts"], a["ends"]
        axes = a.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = W.materialize(vals[1]).tolist()
        ends = W.materialize(vals[2]).tolist()
        axes = W.materialize(vals[3]).tolist() if len(vals) > 3 and vals[3] is not None else list(range(len(starts)))
        steps = W.materialize(vals[4]).tolist() if len(vals) > 4 and vals[4] is not None else [1] * len(starts)
    return W.slice_(W.as_sym(vals[0]), starts, ends, axes, steps)


def _sym_split(node, vals, a, opset):
    v = W.as_sym(vals[0])
    axis = int(a.get("axis", 0)) % v.ndim
    dim = v.shape[axis]
    if opset >= 13 and len(vals) > 1 and vals[1] is not None:
        sizes = W.materialize(vals[1]).tolist()
    elif "split" in a:
        sizes = list(a["split"])
    else:
        parts = int(a.get("num_outputs", len(node.output)))
        chunk = -(-dim // parts)
        sizes = [min(chunk, dim - i * chunk) for i in range(parts)]
    return W.split(v, axis, sizes)


def reference_eval(node, plain, label, opset_import):
    """Evaluate one constant node with onnx.reference (the ONNX spec's own implementation)."""
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if n else "" for i, n in enumerate(node.input)]
    feeds = {nm: v for nm, v in zip(names, plain) if nm}
    inputs = [
        helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.asarray(v).shape)
        for nm, v in feeds.items()
    ]
    outs = [f"out{i}" for i in range(len(node.output))]
    n2 = helper.make_node(node.op_type, names, outs, domain=node.domain)
    n2.attribute.extend(node.attribute)
    g = helper.make_graph([n2], "fold", inputs, [helper.make_value_info(o, onnx.TypeProto()) for o in outs])
    m = helper.make_model(g, opset_imports=list(opset_import))
    try:
        res = ReferenceEvaluator(m).run(None, {k: np.asarray(v) for k, v in feeds.items()})
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HlfgenError(f"cannot evaluate this constant expression ({first})", label, node.op_type) from None
    res = [np.asarray(r) for r in res]
    res = [r.astype(np.float32) if r.dtype in (np.float64, np.float16) else r for r in res]
    return res if len(res) > 1 else res[0]
