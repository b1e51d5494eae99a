"""Read an ONNX file into the IR (ir.Model).

Constants (initializers, Constant nodes and everything computed from them
alone) are evaluated at build time; weight expressions keep their factored
structure (weights.py).  Nodes that touch runtime data become IR operations.
Symbolic dimensions are bound here: the sequence axis becomes T (a run-time
value up to max_seq_len), the batch axis the build's batch size.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import ops, qonnx, validate
from . import weights as W
from .errors import HlfgenError
from .ops.shape_ops import fmt as _fmt
from .ir import (
    DEFAULT_ACTIVATIONS,
    GATES,
    Activation,
    Model,
    RecurrentLayer,
    TensorInfo,
)

from .config import DEFAULT_MAX_SEQ_LEN, ONNX_TO_DTYPE, RECURRENT_OPS

# Shape arithmetic is folded at two sequence lengths: a value that differs
# between them depends on T (ops.decode_t turns it back into T multiples).
T_PRIMARY, T_ALT = 97, 89

# ONNX activation names -> (takes alpha, takes beta, default alpha, default beta),
# following onnxruntime's rule: alpha/beta lists are consumed in order, only by
# the activations that take them; missing values take these defaults.
ACTIVATION_ARGS = {
    "Relu": (False, False, 0.0, 0.0),
    "Tanh": (False, False, 0.0, 0.0),
    "Sigmoid": (False, False, 0.0, 0.0),
    "Affine": (True, True, 0.0, 0.0),
    "LeakyRelu": (True, False, 0.01, 0.0),
    "ThresholdedRelu": (True, False, 0.0, 0.0),
    "ScaledTanh": (True, True, 0.0, 0.0),
    "HardSigmoid": (True, True, 0.2, 0.5),
    "Elu": (True, False, 1.0, 0.0),
    "Softsign": (False, False, 0.0, 0.0),
    "Softplus": (False, False, 0.0, 0.0),
}
_ACT_BY_LOWER = {k.lower(): k for k in ACTIVATION_ARGS}

KNOWN_ATTRS = {
    "lstm": {"hidden_size", "direction", "activations", "activation_alpha", "activation_beta", "clip", "input_forget", "layout"},
    "gru": {"hidden_size", "direction", "activations", "activation_alpha", "activation_beta", "clip", "linear_before_reset", "layout"},
    "rnn": {"hidden_size", "direction", "activations", "activation_alpha", "activation_beta", "clip", "layout"},
}

ONNX_DTYPES = ONNX_TO_DTYPE


# Names that would clash with system libraries (lib<name>.a), C keywords, or
# standard headers (<name>.h would hide <time.h>, <math.h>, ...).
RESERVED_NAMES = {
    "m", "c", "dl", "rt", "pthread", "main", "model", "int", "float", "void", "static", "const",
    "assert", "complex", "ctype", "errno", "fenv", "inttypes", "iso646", "limits", "locale", "math",
    "setjmp", "signal", "stdalign", "stdarg", "stdatomic", "stdbool", "stddef", "stdint", "stdio",
    "stdlib", "stdnoreturn", "string", "tgmath", "threads", "time", "uchar", "wchar", "wctype",
}


def c_identifier(text: str) -> str:
    """A C identifier made from a file name or tensor name."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", text)
    if not ident or ident[0].isdigit():
        ident = "m_" + ident
    return ident


def model_name(path) -> str:
    """Default model name: a C identifier from the file name, never a reserved one."""
    ident = c_identifier(Path(path).name.split(".")[0])
    return ident + "_model" if ident in RESERVED_NAMES or ident.startswith("hlf_") else ident


def load_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Load a model with its external data; bad files raise HlfgenError."""
    path = Path(path)
    if not path.is_file():
        raise HlfgenError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=True)
    except Exception as e:  # protobuf DecodeError, missing external data, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HlfgenError(f"{path}: not a readable ONNX model ({first})") from None
    if not model.graph.node and not model.graph.output:
        raise HlfgenError(f"{path}: not an ONNX model (empty graph)")
    return model


def read_model(
    path: str | os.PathLike,
    *,
    batch: int | None = None,
    max_seq_len: int | None = None,
    name: str | None = None,
) -> Model:
    proto = load_onnx(path)
    proto, qweights = qonnx.rewrite(proto)  # onnxruntime's DynamicQuantizeLSTM -> LSTM + its int8 weights
    validate.check_proto(proto, path)  # what the ONNX spec forbids: one-line errors before reading
    reader = _Reader(proto, batch, max_seq_len)
    model = reader.run()
    qonnx.attach(model, qweights)
    validate.check_ir(model)  # limits of the C runtime (config.MAX_RANK, ...)
    model.name = name or model_name(path)
    model.source = str(path)
    return model


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


class _Reader:
    def __init__(self, proto: onnx.ModelProto, batch: int | None, max_seq_len: int | None):
        self.proto = proto
        self.graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.user_batch = batch
        self.user_max_seq_len = max_seq_len
        self.consts: dict[str, object] = {}  # np.ndarray or weights.SymTensor
        self.tensors: dict[str, TensorInfo] = {}  # runtime tensors
        self.runtime_deps: dict[str, str] = {}  # runtime tensor -> a graph input it depends on
        self.ops: list = []
        self.used_consts: dict[str, np.ndarray] = {}
        # Constants that depend on the sequence length (shape arithmetic on
        # Shape(X)): consts holds the value at T = T_PRIMARY, alt at T = T_ALT.
        self.alt: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------ entry
    def run(self) -> Model:
        for init in self.graph.initializer:
            self.consts[init.name] = self._tensor_value(init, "initializer")
        for sp in self.graph.sparse_initializer:
            raise HlfgenError(f"sparse initializer '{sp.values.name}' is not supported")
        inputs = self._bind_inputs()
        for node in self._topological(self.graph.node):
            self._node(node)
        outputs = []
        for out in self.graph.output:
            if out.name not in self.tensors:
                if out.name in self.consts:
                    raise HlfgenError(f"graph output '{out.name}' is a constant; nothing to compute")
                raise HlfgenError(f"graph output '{out.name}' is not produced by any node")
            outputs.append(self.tensors[out.name])
        if not self.ops:
            raise HlfgenError("the graph has no LSTM, GRU or RNN node")
        return Model(
            name="model",
            batch=self.batch,
            max_seq_len=self.max_seq_len,
            static_seq_len=self.static_seq_len,
            inputs=inputs,
            outputs=outputs,
            ops=self.ops,
            tensors=self.tensors,
            constants=self.used_consts,
            opset=self.opset,
        )

    def _tensor_value(self, t: onnx.TensorProto, what: str) -> np.ndarray:
        try:
            arr = numpy_helper.to_array(t)
        except Exception as e:
            raise HlfgenError(f"{what} '{t.name}' cannot be read ({e})") from None
        if arr.dtype == np.float64 or arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        return arr

    @staticmethod
    def _topological(nodes):
        produced = {}
        for i, n in enumerate(nodes):
            for o in n.output:
                if o:
                    produced[o] = i
        order, state = [], {}

        def visit(i):
            if state.get(i) == 2:
                return
            if state.get(i) == 1:
                raise HlfgenError("the graph has a cycle", nodes[i].name or nodes[i].op_type, nodes[i].op_type)
            state[i] = 1
            for inp in nodes[i].input:
                if inp in produced:
                    visit(produced[inp])
            state[i] = 2
            order.append(nodes[i])

        for i in range(len(nodes)):
            visit(i)
        return order

    # ------------------------------------------------------------ inputs
    def _bind_inputs(self) -> list[TensorInfo]:
        """Bind each graph input's dims: sequence axis -> T, batch axis -> batch."""
        roles = self._input_roles()
        seq_static, batch_static = [], []
        for gi in self.graph.input:
            if gi.name in self.consts:
                continue  # an initializer with a default value: treated as constant
            dims = gi.type.tensor_type.shape.dim
            for axis, role in roles.get(gi.name, {}).items():
                if axis < len(dims) and dims[axis].HasField("dim_value"):
                    (seq_static if role == "T" else batch_static).append(dims[axis].dim_value)
        if batch_static and self.user_batch is not None and self.user_batch != batch_static[0]:
            raise HlfgenError(f"--batch {self.user_batch} contradicts the model's static batch size {batch_static[0]}")
        self.batch = self.user_batch or (batch_static[0] if batch_static else 1)
        self.static_seq_len = seq_static[0] if seq_static else None
        default_t = seq_static[0] if seq_static else DEFAULT_MAX_SEQ_LEN
        self.max_seq_len = self.user_max_seq_len or default_t
        if self.batch < 1 or self.max_seq_len < 1:
            raise HlfgenError("batch and max sequence length must be at least 1")

        names: dict[str, int] = {}  # dim_param -> bound value (negative: T)
        for gi in self.graph.input:
            dims = gi.type.tensor_type.shape.dim
            for axis, role in roles.get(gi.name, {}).items():
                if axis < len(dims) and dims[axis].dim_param:
                    names[dims[axis].dim_param] = -1 if role == "T" else self.batch

        out = []
        for gi in self.graph.input:
            if gi.name in self.consts:
                continue
            tt = gi.type.tensor_type
            if not gi.type.HasField("tensor_type"):
                raise HlfgenError(f"graph input '{gi.name}' is not a tensor")
            dtype = ONNX_DTYPES.get(tt.elem_type)
            if dtype is None:
                raise HlfgenError(
                    f"graph input '{gi.name}' has unsupported dtype "
                    f"{onnx.TensorProto.DataType.Name(tt.elem_type).lower()} (float32 data, int32 sequence_lens)"
                )
            shape = []
            for axis, d in enumerate(tt.shape.dim):
                role = roles.get(gi.name, {}).get(axis)
                if role == "T":
                    shape.append(-1)
                elif role == "B":
                    shape.append(self.batch)
                elif d.HasField("dim_value"):
                    shape.append(d.dim_value)
                elif d.dim_param in names:
                    shape.append(names[d.dim_param])
                else:
                    raise HlfgenError(
                        f"graph input '{gi.name}': dimension {axis} ('{d.dim_param or '?'}') is symbolic "
                        "and is neither the sequence nor the batch axis"
                    )
            info = TensorInfo(gi.name, dtype, tuple(shape), optional=gi.name in self._optional_inputs)
            self.tensors[gi.name] = info
            self.runtime_deps[gi.name] = gi.name
            out.append(info)
        return out

    def _input_roles(self) -> dict[str, dict[int, str]]:
        """Which axis of which graph input is the sequence (T) or batch (B) axis."""
        roles: dict[str, dict[int, str]] = {}
        self._optional_inputs: set[str] = set()
        self._producers = {o: n for n in self.graph.node for o in n.output if o}
        for node in self.graph.node:
            if node.op_type not in RECURRENT_OPS:
                continue
            layout = int(_attrs(node).get("layout", 0))
            ins = list(node.input) + [""] * 8
            t_axis, b_axis = (0, 1) if layout == 0 else (1, 0)
            slots = {ins[0]: {t_axis: "T", b_axis: "B"}, ins[4]: {0: "B"}}
            state_b = 1 if layout == 0 else 0
            slots[ins[5]] = {state_b: "B"}
            if node.op_type == "LSTM":
                slots[ins[6]] = {state_b: "B"}
            for name, r in slots.items():
                if name:
                    self._trace_roles(name, r, roles)
            for name in (ins[4], ins[5], ins[6] if node.op_type == "LSTM" else ""):
                if name:
                    self._optional_inputs.add(name)
        return roles

    def _trace_roles(self, name: str, axes: dict[int, str], roles: dict, depth: int = 0) -> None:
        """Carry axis roles from a tensor back to the graph input it comes from.

        Through the ops exporters put between a graph input and a recurrent
        node: Transpose (batch_first), element-wise ops, Cast, an embedding
        Gather (token ids [T, B] -> [T, B, E]), a MatMul by a constant.
        """
        roles.setdefault(name, {}).update(axes)
        producer = self._producers.get(name)
        if producer is None or depth > 32:
            return
        op, ins = producer.op_type, [i for i in producer.input]
        if op == "Transpose":
            perm = _attrs(producer).get("perm")
            if perm is not None:
                self._trace_roles(ins[0], {int(perm[a]): r for a, r in axes.items() if a < len(perm)}, roles, depth + 1)
        elif op in ("Identity", "Cast", "Relu", "Tanh", "Sigmoid", "Dropout", "Neg", "Abs", "Exp", "Log", "Sqrt",
                    "Slice", "Split"):  # Slice/Split: PyTorch's h0[layer] of a [layers*D, B, H] input
            self._trace_roles(ins[0], axes, roles, depth + 1)
        elif op in ("Add", "Sub", "Mul", "Div", "MatMul"):
            for i in ins:
                if i and i not in self.consts:
                    self._trace_roles(i, axes, roles, depth + 1)
        elif op == "Gather" and int(_attrs(producer).get("axis", 0)) == 0 and ins[0] in self.consts:
            self._trace_roles(ins[1], axes, roles, depth + 1)  # indices axes come first in the output

    # ------------------------------------------------------------ nodes
    def _node(self, node: onnx.NodeProto) -> None:
        label = node.name or (node.output[0] if node.output else node.op_type)
        if node.domain not in ("", "ai.onnx"):
            raise HlfgenError(f"operator domain '{node.domain}' is not supported", label, node.op_type)
        ins = [i for i in node.input if i]
        runtime_in = [i for i in ins if i in self.tensors]
        unknown = [i for i in ins if i not in self.tensors and i not in self.consts]
        if unknown:
            raise HlfgenError(f"input '{unknown[0]}' is not defined", label, node.op_type)
        if node.op_type in RECURRENT_OPS:
            self._recurrent(node, label)
        elif node.op_type in ("Shape", "Size") and runtime_in:
            self._shape_of(node, label)
        elif not runtime_in:
            self._constant_node(node, label)
        elif node.op_type in ops.HANDLERS:
            self._data_node(node, label)
        else:
            raise HlfgenError(
                f"operator {node.op_type} on runtime data is not supported "
                f"(supported: {', '.join(sorted(RECURRENT_OPS) + ops.supported())})",
                label,
                node.op_type,
            )

    # ------------------------------------------------------------ constants
    def _const_arg(self, node, idx, label):
        if idx >= len(node.input) or not node.input[idx]:
            return None
        v = self.consts.get(node.input[idx])
        if v is None:
            raise HlfgenError(f"input {idx} ('{node.input[idx]}') must be a constant", label, node.op_type)
        return W.materialize(v)

    def _shape_of(self, node, label):
        """Shape/Size of runtime data: a constant once batch is bound; T enters symbolically."""
        dims = self.tensors[node.input[0]].shape
        a = _attrs(node)

        def value(t):
            full = np.array([-d * t if d < 0 else d for d in dims], np.int64)
            if node.op_type == "Size":
                return np.array(full.prod(), np.int64)
            start, end = int(a.get("start", 0)), a.get("end")
            return full[slice(start, None if end is None else int(end))]

        self.consts[node.output[0]] = value(T_PRIMARY)
        alt = value(T_ALT)
        if not np.array_equal(alt, self.consts[node.output[0]]):
            self.alt[node.output[0]] = alt

    def _constant_node(self, node, label):
        """Evaluate a node whose inputs are all constant, keeping factors when possible."""
        op = node.op_type
        a = _attrs(node)
        vals = [self.consts[i] if i else None for i in node.input]
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
                result = self._sym_slice(node, vals, a, label)
            elif sym and op == "Unsqueeze":
                axes = a.get("axes") if self.opset < 13 else W.materialize(vals[1]).tolist()
                result = W.unsqueeze(vals[0], axes)
            elif sym and op == "Squeeze":
                axes = a.get("axes") if self.opset < 13 else (
                    W.materialize(vals[1]).tolist() if len(vals) > 1 and vals[1] is not None else None)
                result = W.squeeze(vals[0], axes)
            elif sym and op == "Reshape":
                result = W.reshape(vals[0], W.materialize(vals[1]).tolist(), int(a.get("allowzero", 0)))
            elif sym and op == "Transpose":
                result = W.transpose(vals[0], a.get("perm"))
            elif sym and op == "Split":
                result = self._sym_split(node, vals, a)
        except (ValueError, IndexError, KeyError, TypeError):
            result = None
        if result is None:
            plain = [W.materialize(v) if v is not None else None for v in vals]
            result = self._reference_eval(node, plain, label)
        outs = result if isinstance(result, list) else [result]
        for name, v in zip(node.output, outs):
            if name:
                self.consts[name] = v
        if any(i in self.alt for i in node.input):  # evaluate again at the other T
            plain = [self.alt.get(i, W.materialize(self.consts[i]) if i else None) if i else None for i in node.input]
            alt = self._reference_eval(node, plain, label)
            for name, v, p in zip(node.output, alt if isinstance(alt, list) else [alt], outs):
                if name and not np.array_equal(np.asarray(v), W.materialize(p)):
                    self.alt[name] = np.asarray(v)

    def _sym_slice(self, node, vals, a, label):
        if self.opset < 10:
            starts, ends = a["starts"], a["ends"]
            axes = a.get("axes", list(range(len(starts))))
            steps = [1] * len(starts)
        else:
            starts = W.materialize(vals[1]).tolist()
            ends = W.materialize(vals[2]).tolist()
            axes = W.materialize(vals[3]).tolist() if len(vals) > 3 and vals[3] is not None else list(range(len(starts)))
            steps = W.materialize(vals[4]).tolist() if len(vals) > 4 and vals[4] is not None else [1] * len(starts)
        return W.slice_(W.as_sym(vals[0]), starts, ends, axes, steps)

    def _sym_split(self, node, vals, a):
        v = W.as_sym(vals[0])
        axis = int(a.get("axis", 0)) % v.ndim
        dim = v.shape[axis]
        if self.opset >= 13 and len(vals) > 1 and vals[1] is not None:
            sizes = W.materialize(vals[1]).tolist()
        elif "split" in a:
            sizes = list(a["split"])
        else:
            parts = int(a.get("num_outputs", len(node.output)))
            chunk = -(-dim // parts)
            sizes = [min(chunk, dim - i * chunk) for i in range(parts)]
        return W.split(v, axis, sizes)

    def _reference_eval(self, node, plain, label):
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
        m = helper.make_model(g, opset_imports=list(self.proto.opset_import))
        try:
            res = ReferenceEvaluator(m).run(None, {k: np.asarray(v) for k, v in feeds.items()})
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise HlfgenError(f"cannot evaluate this constant expression ({first})", label, node.op_type) from None
        res = [np.asarray(r) for r in res]
        res = [r.astype(np.float32) if r.dtype in (np.float64, np.float16) else r for r in res]
        return res if len(res) > 1 else res[0]

    # ------------------------------------------------------------ runtime data ops
    def _shape(self, name):
        return self.tensors[name].shape

    def _add_tensor(self, name, shape, dtype="float32"):
        if name:
            self.tensors[name] = TensorInfo(name, dtype, tuple(int(d) for d in shape))

    def _data_node(self, node, label):
        """A non-recurrent node on runtime data: its operator module makes the IR nodes."""
        ctx = ops.OpContext(
            node=node, label=label, attrs=_attrs(node), opset=self.opset, tensors=self.tensors,
            consts={i: W.materialize(self.consts[i]) for i in node.input if i in self.consts},
            alt={i: self.alt[i] for i in node.input if i in self.alt},
            syms={i: self.consts[i] for i in node.input
                  if isinstance(self.consts.get(i), (W.SymTensor, W.TransposedSym))},
        )
        nodes, outs = ops.HANDLERS[node.op_type](ctx)
        src = next((self.runtime_deps.get(i, i) for i in node.input if i in self.tensors), None)
        for info in outs:
            self.tensors[info.name] = info
            self.runtime_deps[info.name] = src
        self.ops.extend(nodes)

    # ------------------------------------------------------------ recurrent layers
    def _recurrent(self, node, label):
        kind = RECURRENT_OPS[node.op_type]
        op = node.op_type
        a = _attrs(node)
        for k in a:
            if k not in KNOWN_ATTRS[kind]:
                raise HlfgenError(f"attribute '{k}' is not supported", label, op)
        if "layout" in a and self.opset < 14:
            raise HlfgenError("attribute 'layout' needs opset 14 or later", label, op)
        ins = list(node.input) + [""] * (8 - len(node.input))
        outs = list(node.output) + [""] * (3 - len(node.output))
        x = ins[0]
        if x not in self.tensors:
            raise HlfgenError(f"input X ('{x}') must be runtime data, not a constant", label, op)
        gates = len(GATES[kind])
        direction = _text(a.get("direction", "forward"))
        if direction not in ("forward", "reverse", "bidirectional"):
            raise HlfgenError(f"direction '{direction}' is not one of forward, reverse, bidirectional", label, op)
        nd = 2 if direction == "bidirectional" else 1
        layout = int(a.get("layout", 0))
        if layout not in (0, 1):
            raise HlfgenError(f"layout {layout} is not 0 or 1", label, op)

        xshape = self._shape(x)
        if len(xshape) != 3:
            raise HlfgenError(f"X must have rank 3, got shape {_fmt(xshape)}", label, op)
        t_dim, b_dim, input_size = (xshape[0], xshape[1], xshape[2]) if layout == 0 else (xshape[1], xshape[0], xshape[2])
        if t_dim != -1:
            raise HlfgenError(f"X's sequence axis has a static size {t_dim}; expected the sequence length T", label, op)
        if b_dim != self.batch:
            raise HlfgenError(f"X's batch axis is {b_dim}, the build's batch is {self.batch}", label, op)

        w_val = self._weight(node, 1, "W", label)
        r_val = self._weight(node, 2, "R", label)
        hidden = a.get("hidden_size")
        if hidden is None:
            hidden = w_val.shape[1] // gates if w_val.ndim == 3 else 0
        hidden = int(hidden)
        if hidden <= 0:
            raise HlfgenError(f"hidden_size must be positive, got {hidden}", label, op)
        _expect_shape(w_val.shape, (nd, gates * hidden, input_size), "W", label, op)
        _expect_shape(r_val.shape, (nd, gates * hidden, hidden), "R", label, op)
        bias = self._small_const(node, 3, "B", (nd, 2 * gates * hidden), label)
        peep = self._small_const(node, 7, "P", (nd, 3 * hidden), label) if kind == "lstm" else None

        seq_lens = self._state_input(ins[4], "sequence_lens", (self.batch,), label, op, dtype=("int32", "int64"))
        if seq_lens in self.tensors:
            self.tensors[seq_lens].int_range = "lengths"
        state_shape = (nd, self.batch, hidden) if layout == 0 else (self.batch, nd, hidden)
        initial_h = self._state_input(ins[5], "initial_h", state_shape, label, op)
        initial_c = self._state_input(ins[6], "initial_c", state_shape, label, op) if kind == "lstm" else None

        clip = a.get("clip")
        if clip is not None and not clip > 0:
            raise HlfgenError(f"clip must be positive, got {clip}", label, op)
        input_forget = bool(a.get("input_forget", 0))
        lbr = bool(a.get("linear_before_reset", 0))
        acts = self._activations(a, kind, nd, label, op)

        layer = RecurrentLayer(
            node=label, kind=kind, direction=direction, hidden=hidden, input_size=input_size,
            batch=self.batch, layout=layout,
            W=[w_val.matrix((d,)) for d in range(nd)],
            R=[r_val.matrix((d,)) for d in range(nd)],
            bias=bias, peephole=peep, activations=acts,
            clip=float(clip) if clip is not None else None,
            input_forget=input_forget, linear_before_reset=lbr,
            x=x, seq_lens=seq_lens, initial_h=initial_h, initial_c=initial_c,
            y=outs[0] or None, y_h=outs[1] or None, y_c=(outs[2] or None) if kind == "lstm" else None,
        )
        if kind != "lstm" and outs[2]:
            raise HlfgenError(f"{op} has no third output", label, op)
        y_shape = (-1, nd, self.batch, hidden) if layout == 0 else (self.batch, -1, nd, hidden)
        self._add_tensor(layer.y, y_shape)
        self._add_tensor(layer.y_h, state_shape)
        self._add_tensor(layer.y_c, state_shape)
        for o in (layer.y, layer.y_h, layer.y_c):
            if o:
                self.runtime_deps[o] = self.runtime_deps.get(x, x)
        self.ops.append(layer)

    def _no_t(self, name, what, label, op):
        if name in self.alt:
            raise HlfgenError(f"input {what} ('{name}') depends on the sequence length; it must be a constant", label, op)

    def _weight(self, node, idx, what, label) -> W.SymTensor:
        name = node.input[idx] if idx < len(node.input) else ""
        if not name:
            raise HlfgenError(f"input {what} is missing", label, node.op_type)
        self._no_t(name, what, label, node.op_type)
        if name in self.tensors:
            src = self.runtime_deps.get(name, name)
            raise HlfgenError(
                f"input {what} ('{name}') is computed from runtime graph input '{src}'; "
                "hlfgen needs constant weights (initializers or constant expressions)",
                label, node.op_type,
            )
        v = self.consts[name]
        if not isinstance(v, W.SymTensor):
            arr = np.asarray(v)
            if arr.dtype != np.float32:
                raise HlfgenError(f"input {what} has unsupported dtype {arr.dtype}; expected float32", label, node.op_type)
            if arr.ndim != 3:
                raise HlfgenError(f"input {what} must have rank 3, got shape {_fmt(arr.shape)}", label, node.op_type)
        return W.as_sym(v)

    def _small_const(self, node, idx, what, shape, label):
        name = node.input[idx] if idx < len(node.input) else ""
        if not name:
            return None
        if name in self.tensors:
            raise HlfgenError(f"input {what} ('{name}') must be a constant", label, node.op_type)
        self._no_t(name, what, label, node.op_type)
        arr = W.materialize(self.consts[name])
        if arr.dtype != np.float32:
            raise HlfgenError(f"input {what} has unsupported dtype {arr.dtype}; expected float32", label, node.op_type)
        _expect_shape(arr.shape, shape, what, label, node.op_type)
        return np.ascontiguousarray(arr, np.float32)

    def _state_input(self, name, what, shape, label, op, dtype=("float32",)):
        """sequence_lens / initial_h / initial_c: runtime data or a constant."""
        if not name:
            return None
        if name in self.tensors:
            info = self.tensors[name]
            if info.dtype not in dtype:
                raise HlfgenError(f"input {what} has dtype {info.dtype}; expected {' or '.join(dtype)}", label, op)
            _expect_shape(info.shape, shape, what, label, op)
            return name
        self._no_t(name, what, label, op)
        arr = W.materialize(self.consts[name])
        if arr.dtype.name not in dtype:
            raise HlfgenError(f"input {what} has dtype {arr.dtype}; expected {' or '.join(dtype)}", label, op)
        _expect_shape(arr.shape, shape, what, label, op)
        self.used_consts[name] = arr.astype(np.int32 if what == "sequence_lens" else np.float32)
        return name

    def _activations(self, a, kind, nd, label, op) -> list[list[Activation]]:
        per_dir = len(DEFAULT_ACTIVATIONS[kind])
        names = [_text(s) for s in a.get("activations", [])] or list(DEFAULT_ACTIVATIONS[kind]) * nd
        if len(names) == per_dir and nd == 2:
            names = names * 2
        if len(names) != per_dir * nd:
            raise HlfgenError(
                f"{len(names)} activations given; {op} with direction {'bidirectional' if nd == 2 else 'forward/reverse'} "
                f"takes {per_dir * nd}", label, op)
        alphas = list(a.get("activation_alpha", []))
        betas = list(a.get("activation_beta", []))
        acts = []
        for nm in names:
            canon = _ACT_BY_LOWER.get(nm.lower())
            if canon is None:
                raise HlfgenError(f"activation '{nm}' is not supported (ONNX lists {', '.join(ACTIVATION_ARGS)})", label, op)
            takes_a, takes_b, da, db = ACTIVATION_ARGS[canon]
            alpha = (alphas.pop(0) if alphas else da) if takes_a else 0.0
            beta = (betas.pop(0) if betas else db) if takes_b else 0.0
            acts.append(Activation(canon, float(alpha), float(beta)))
        return [acts[d * per_dir:(d + 1) * per_dir] for d in range(nd)]


# ---------------------------------------------------------------- shape helpers
def _expect_shape(got, want, what, label, op):
    if tuple(got) != tuple(want):
        raise HlfgenError(f"input {what} has shape {_fmt(got)}, expected {_fmt(want)} (from hidden_size, direction and X)", label, op)
