"""Read an ONNX file into the IR (ir.Model): the graph walk.

Constants (initializers, Constant nodes and everything computed from them
alone) are folded at build time (fold.py; weight expressions keep their
factors, weights.py).  Nodes that touch runtime data go to their registered
handler (ops/), which makes IR operations and the output shapes.

Symbolic dimensions (dims.py): every graph-input ``dim_param`` is a symbol,
an unnamed dynamic extent is the symbol ``INPUT:AXIS``.  A first walk with
every symbol free finds the roles -- the sequence and batch axes of the
recurrent layers' X -- whichever input and ops they come through; then each
symbol is fixed at build time (``--dim NAME=N``; the batch axis: ``--batch``,
default 1) or stays a run-time dimension 1..N (``--max-dim NAME=N``; the
sequence axis: ``--max-seq-len``, default 128; any other symbol:
DEFAULT_MAX_DIM), and the graph is walked again if that binding fixed a
symbol.  ``model.notes`` says what was chosen for each symbol the user did
not set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import dims as D
from . import cnames, fold, ops, qonnx, validate
from . import weights as W
from .config import DEFAULT_MAX_SEQ_LEN, ONNX_TO_DTYPE
from .errors import HlfgenError
from .ir import DimSymbol, Model, RecurrentLayer, TensorInfo
from .qdq import Table as QdqTable

# Run-time range of a symbol that is neither the sequence nor the batch axis
# of a recurrent layer, when --dim/--max-dim do not say.
DEFAULT_MAX_DIM = 128

ONNX_DTYPES = ONNX_TO_DTYPE


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
    dims: dict[str, int] | None = None,
    max_dims: dict[str, int] | None = None,
    name: str | None = None,
) -> Model:
    """The IR of an ONNX file.  dims: symbols fixed at build time; max_dims: run-time symbols' maxima."""
    proto = load_onnx(path)
    proto, qweights = qonnx.rewrite(proto)  # onnxruntime's DynamicQuantizeLSTM -> LSTM + its int8 weights
    validate.check_proto(proto, path)  # what the ONNX spec forbids: one-line errors before reading
    model = _read(proto, batch, max_seq_len, dict(dims or {}), dict(max_dims or {}))
    qonnx.attach(model, qweights)
    validate.check_ir(model)  # limits of the C runtime (config.MAX_RANK, ...)
    model.name = name or cnames.model_name(path)
    model.source = str(path)
    return model


def _read(proto, batch, max_seq_len, fixed: dict, max_dims: dict) -> Model:
    for what, table in (("--dim", fixed), ("--max-dim", max_dims)):
        for k, v in table.items():
            if int(v) < 1:
                raise HlfgenError(f"{what} {k}={v}: a dimension must be at least 1")
    for what, v in (("--batch", batch), ("--max-seq-len", max_seq_len)):
        if v is not None and int(v) < 1:
            raise HlfgenError(f"{what} {v}: must be at least 1")
    first = _Reader(proto, fixed)
    error = None
    try:
        first.walk()
    except HlfgenError as e:  # roles found before the failure still count; the second walk decides
        error = e
    known = list(first.symbols)
    for what, table in (("--dim", fixed), ("--max-dim", max_dims)):
        for k in table:
            if k not in known and not (what == "--dim" and k in first.fixed_seen):
                raise HlfgenError(
                    f"{what} {k}: the model has no symbolic dimension '{k}'"
                    + (f" (it has: {', '.join(known)})" if known else " (all its inputs are static)")
                )
    seq_syms, batch_syms, roles = set(), set(), {}
    for role, extent, label, op in first.roles:
        for s in D.symbols(extent):
            (seq_syms if role == "seq" else batch_syms).add(s)
            roles.setdefault(s, (role, f" (the {'sequence' if role == 'seq' else 'batch'} axis of {op} '{label}')"))
    if batch is not None and not batch_syms:
        static = [layer.batch for layer in first.layers if isinstance(layer.batch, int)]
        if static and static[0] != batch:
            raise HlfgenError(f"--batch {batch} contradicts the model's static batch size {static[0]}")
    bind = dict(fixed)
    runtime: dict[str, tuple[int, str]] = {}
    notes = []
    for s in known:
        role, where = roles.get(s, ("", ""))
        if s in fixed:
            continue
        if s in max_dims:
            runtime[s] = (int(max_dims[s]), role)
        elif role == "seq":
            runtime[s] = (int(max_seq_len or DEFAULT_MAX_SEQ_LEN), role)
            if max_seq_len is None:
                notes.append(
                    f"dimension {s}{where}: dynamic, 1..{runtime[s][0]} at run time "
                    f"(--max-seq-len N or --max-dim {s}=N to change, --dim {s}=N to fix)"
                )
        elif role == "batch" or (batch is not None and s in batch_syms):
            bind[s] = int(batch or 1)
            if batch is None:
                notes.append(
                    f"dimension {s}{where}: fixed to 1 (--batch N or --dim {s}=N to change, "
                    f"--max-dim {s}=N to keep it dynamic)"
                )
        else:
            runtime[s] = (DEFAULT_MAX_DIM, role)
            notes.append(
                f"dimension {s}: dynamic, 1..{DEFAULT_MAX_DIM} at run time "
                f"(--max-dim {s}=N to change, --dim {s}=N to fix)"
            )
    if error is None and bind == fixed:
        reader = first
    else:
        reader = _Reader(proto, bind)
        reader.walk()
    model = reader.model(runtime, bind)
    model.notes = notes + reader.notes
    return model


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _c_names(names) -> dict[str, str]:
    """Symbol -> a distinct C identifier (for NAME_DIM_<X> macros and the generated code's locals)."""
    out, used = {}, set()
    for n in names:
        base = cnames.identifier(n)
        c, k = base, 2
        while c.upper() in used:
            c, k = f"{base}_{k}", k + 1
        used.add(c.upper())
        out[n] = c
    return out


class _Reader:
    def __init__(self, proto: onnx.ModelProto, fixed: dict[str, int]):
        self.proto = proto
        self.graph = proto.graph
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.fixed = fixed
        self.fixed_seen: set[str] = set()  # symbols of the graph inputs that `fixed` replaced
        self.symbols: dict[str, None] = {}  # run-time symbols in order of appearance
        self.consts: dict[str, object] = {}  # numpy array, weights.SymTensor or a symbolic value (fold.py)
        self.tensors: dict[str, TensorInfo] = {}  # runtime tensors
        self.ops: list = []
        self.used_consts: dict[str, np.ndarray] = {}
        self.notes: list[str] = []
        self.qdq = QdqTable()  # the integers of DequantizeLinear weights (fold.py, hlfgen/qdq.py)
        self.roles: list = []  # recurrent layers' axes (ops.OpContext.roles)
        self.inputs: list[TensorInfo] = []

    @property
    def layers(self) -> list[RecurrentLayer]:
        return [op for op in self.ops if isinstance(op, RecurrentLayer)]

    # ------------------------------------------------------------ entry
    def walk(self) -> None:
        mats = {"half": 0, "full": 0}  # matrix-like initializers (two axes longer than 1) by precision
        for init in self.graph.initializer:
            self.consts[init.name] = self._tensor_value(init, "initializer")
            if sum(1 for d in init.dims if d > 1) >= 2:
                if init.data_type == onnx.TensorProto.FLOAT16:
                    mats["half"] += 1
                elif init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
                    mats["full"] += 1
        self.fp16_weights = mats["half"] > 0 and mats["full"] == 0
        for sp in self.graph.sparse_initializer:
            raise HlfgenError(f"sparse initializer '{sp.values.name}' is not supported")
        self._bind_inputs()
        for node in self._topological(self.graph.node):
            self._node(node)
        for layer in self.layers:  # a graph input feeding a layer's optional input may be omitted
            for n in (layer.seq_lens, layer.initial_h, layer.initial_c):
                if n in self.tensors and any(t.name == n for t in self.inputs):
                    self.tensors[n].optional = True

    def model(self, runtime: dict[str, tuple[int, str]], bind: dict) -> Model:
        outputs = []
        for out in self.graph.output:
            if out.name not in self.tensors:
                if out.name in self.consts:
                    raise HlfgenError(f"graph output '{out.name}' is a constant; nothing to compute")
                raise HlfgenError(f"graph output '{out.name}' is not produced by any node")
            outputs.append(self.tensors[out.name])
        if not self.ops:
            raise HlfgenError("the graph computes nothing on runtime data (no operator reads a graph input)")
        used = [s for s in self.symbols if s in runtime]
        cn = _c_names(used)
        dim_syms = [DimSymbol(s, runtime[s][0], runtime[s][1], cn[s]) for s in used]
        layers = self.layers
        seq_symbol = next((D.as_symbol(la.seq) for la in layers if D.as_symbol(la.seq) in runtime), None)
        static_t = next((la.seq for la in layers if isinstance(la.seq, int)), None)
        if seq_symbol is not None:
            max_t = runtime[seq_symbol][0]
        elif layers and not isinstance(layers[0].seq, int):
            max_t = D.dmax(layers[0].seq, {s: runtime[s][0] for s in runtime})
        else:
            max_t = static_t or 1
        return Model(
            name="model",
            batch=next((la.batch for la in layers if isinstance(la.batch, int)), 1),
            max_seq_len=max_t,
            static_seq_len=static_t,
            inputs=self.inputs,
            outputs=outputs,
            ops=self.ops,
            tensors=self.tensors,
            constants=self.used_consts,
            opset=self.opset,
            dims=dim_syms,
            fixed={k: v for k, v in bind.items() if k in self.fixed_seen},
            seq_symbol=seq_symbol,
            fp16_weights=self.fp16_weights,
            qdq=self.qdq if self.qdq else None,
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
    def _bind_inputs(self) -> None:
        """Each graph input's extents: static ints, fixed symbols' values, or symbols (dims.sym)."""
        for gi in self.graph.input:
            if gi.name in self.consts:
                continue  # an initializer with a default value: treated as constant
            if not gi.type.HasField("tensor_type"):
                raise HlfgenError(f"graph input '{gi.name}' is not a tensor")
            tt = gi.type.tensor_type
            dtype = ONNX_DTYPES.get(tt.elem_type)
            if dtype is None:
                raise HlfgenError(
                    f"graph input '{gi.name}' has unsupported dtype "
                    f"{onnx.TensorProto.DataType.Name(tt.elem_type).lower()} (float32 data, int32 sequence_lens)"
                )
            shape = []
            for axis, d in enumerate(tt.shape.dim):
                if d.HasField("dim_value"):
                    shape.append(int(d.dim_value))
                    continue
                name = d.dim_param or f"{gi.name}:{axis}"
                if name in self.fixed:
                    self.fixed_seen.add(name)
                    shape.append(int(self.fixed[name]))
                else:
                    self.symbols.setdefault(name)
                    shape.append(D.sym(name))
            info = TensorInfo(gi.name, dtype, tuple(shape))
            self.tensors[gi.name] = info
            self.inputs.append(info)

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
        if node.op_type in ("Shape", "Size") and runtime_in:
            self._shape_of(node)
        elif not runtime_in and node.op_type not in ops.ALWAYS:
            try:
                self._constant_node(node, label)
            except HlfgenError as first:
                # a value of symbolic length (Range(0, Shape(x)[1], 1)): computed at run time when an
                # operator module handles the node; otherwise the folding error stands
                if node.op_type not in ops.HANDLERS or not any(
                    fold.is_symbolic(self.consts[i]) or isinstance(self.consts[i], D.Dim) for i in ins
                ):
                    raise
                try:
                    self._data_node(node, label)
                except HlfgenError:
                    raise first from None
        elif node.op_type in ops.HANDLERS:
            self._data_node(node, label)
        else:
            raise HlfgenError(
                f"operator {node.op_type} on runtime data is not supported (supported: {', '.join(ops.supported())})",
                label,
                node.op_type,
            )

    def _shape_of(self, node):
        """Shape/Size of runtime data: a constant, symbolic where the extents are (fold.sym_array)."""
        dims = list(self.tensors[node.input[0]].shape)
        if node.op_type == "Size":
            value = fold.sym_array([D.prod(dims)]).reshape(())
        else:
            a = _attrs(node)
            start, end = int(a.get("start", 0)), a.get("end")
            value = fold.sym_array(dims[slice(start, None if end is None else int(end))])
        self.consts[node.output[0]] = fold.normalize(value)

    def _constant_node(self, node, label):
        """Evaluate a node whose inputs are all constant (fold.py)."""
        vals = [self.consts[i] if i else None for i in node.input]
        outs = fold.fold_node(node, vals, _attrs(node), self.opset, label, self.proto.opset_import, self.qdq)
        for name, v in zip(node.output, outs):
            if name:
                self.consts[name] = v

    def _data_node(self, node, label):
        """A node on runtime data: its operator module makes the IR operations."""
        ctx = ops.OpContext(
            node=node,
            label=label,
            attrs=_attrs(node),
            opset=self.opset,
            tensors=self.tensors,
            consts={i: self.consts[i] for i in node.input if i in self.consts},
            used_consts=self.used_consts,
            notes=self.notes,
            roles=self.roles,
            syms={
                i: self.consts[i] for i in node.input if isinstance(self.consts.get(i), (W.SymTensor, W.TransposedSym))
            },
        )
        try:
            new_ops, outs = ops.HANDLERS[node.op_type](ctx)
        except (
            TypeError,
            ValueError,
            IndexError,
            KeyError,
            ArithmeticError,
        ) as e:  # a case the handler did not foresee
            raise HlfgenError(f"cannot compile this node ({type(e).__name__}: {e})", label, node.op_type) from None
        for info in outs:
            self.tensors[info.name] = info
        self.ops.extend(new_ops)
