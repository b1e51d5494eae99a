"""Checks that turn invalid or absurd models into hlfgen's one-line errors.

Three stages, each raising HlfgenError (CLI: one line, exit 2):
  * check_proto(proto, path): the ONNX file itself, before reading it;
  * check_ir(model): the IR the reader made (ranks and the like);
  * check_program(prog): the lowered program (memory the build would need).
Limits come from hlfgen/config.py.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto

from . import config
from .errors import HlfgenError
from .ir import Model, RecurrentLayer

# The checker's findings that do not make a model invalid for hlfgen or
# onnxruntime (both run such files): graph outputs or value_info without a
# shape field (shapes are inferred); an IR-3 file whose initializers are not
# all listed as graph inputs (IR 4 dropped that rule); declared output shapes
# that disagree with the inferred ones (torch's dynamo exporter writes wrong
# ranks; onnxruntime merges leniently, hlfgen computes its own shapes).
BENIGN_CHECKER = (
    "Field 'shape' of 'type' is required but missing",
    "in initializer but not in graph input",
    "Inferred shape and existing shape differ",
)

# Recurrent operators' inputs by position (ONNX LSTM/GRU/RNN).
INPUT_NAMES = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
FLOAT_TYPES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.DOUBLE: "double",
    TensorProto.BFLOAT16: "bfloat16",
}


def _type_name(elem: int) -> str:
    return FLOAT_TYPES.get(elem) or TensorProto.DataType.Name(elem).lower()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def check_proto(proto: onnx.ModelProto, path: object = "") -> None:
    """Refuse what the ONNX spec forbids, before the reader sees the graph.

    hlfgen's own checks come first (each with a precise message); then
    onnx.checker (full check: strict shape and type inference) for the rest.
    The graph's value_info (intermediate shapes, a hint hlfgen does not use)
    is left out of both: exporters write wrong ones (torch: a wrong-rank
    value_info after a strided Conv2d) that onnxruntime ignores too.
    """
    _versions(proto)
    _unique_names(proto.graph)
    hints = list(proto.graph.value_info)
    del proto.graph.value_info[:]
    try:
        types, shapes = _value_types(proto)
        for node in proto.graph.node:
            if node.domain in ("", "ai.onnx") and node.op_type in config.RECURRENT_OPS:
                _recurrent(node, types, shapes, {i.name for i in proto.graph.input})
        _checker(proto)
    finally:
        proto.graph.value_info.extend(hints)


def _versions(proto: onnx.ModelProto) -> None:
    if proto.ir_version < 3:
        raise HlfgenError(f"ir_version {proto.ir_version} is not a valid ONNX IR version (3 to {onnx.IR_VERSION})")
    if proto.ir_version > onnx.IR_VERSION:
        raise HlfgenError(
            f"ir_version {proto.ir_version} is newer than this onnx ({onnx.__version__}) reads "
            f"(up to {onnx.IR_VERSION})"
        )
    default = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    newest = onnx.defs.onnx_opset_version()
    if not default:
        raise HlfgenError("the model imports no ONNX opset (opset_import has no default domain)")
    if not 1 <= default[0] <= newest:
        raise HlfgenError(f"opset {default[0]} is not an ONNX opset (1 to {newest} with onnx {onnx.__version__})")


def _unique_names(graph: onnx.GraphProto) -> None:
    """ONNX graphs are in static single-assignment form: every name is defined once."""
    seen: dict[str, str] = {}

    def define(name: str, what: str) -> None:
        if not name:
            return
        if name in seen and not (what == "initializer" and seen[name] == "graph input"):
            raise HlfgenError(f"'{name}' is defined twice ({seen[name]} and {what}); ONNX names are defined once")
        seen[name] = what

    inits = set()
    for init in graph.initializer:
        if init.name in inits:
            raise HlfgenError(f"initializer '{init.name}' is defined twice")
        inits.add(init.name)
    for gi in graph.input:
        if gi.name in seen:
            raise HlfgenError(f"graph input '{gi.name}' is listed twice")
        define(gi.name, "graph input")
    for init in graph.initializer:
        define(init.name, "initializer")
    for node in graph.node:
        label = node.name or node.op_type
        for o in node.output:
            define(o, f"output of node '{label}'")
    outs = set()
    for go in graph.output:
        if go.name in outs:
            raise HlfgenError(f"graph output '{go.name}' is listed twice")
        outs.add(go.name)


def _value_types(proto: onnx.ModelProto) -> tuple[dict[str, int], dict[str, list]]:
    """Element type and dims (int, str or None per axis) of every tensor that has them.

    From the graph's own declarations, then ONNX shape inference (non-strict:
    a model it cannot follow keeps what is declared).
    """
    g = proto.graph
    try:
        g = onnx.shape_inference.infer_shapes(proto, check_type=False, strict_mode=False).graph
    except Exception:  # inference is a help here, not a verdict (the checker gives the verdict)
        pass
    types: dict[str, int] = {}
    shapes: dict[str, list] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and tt.elem_type:
            types.setdefault(vi.name, tt.elem_type)
            if tt.HasField("shape"):
                shapes.setdefault(
                    vi.name, [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]
                )
    for init in g.initializer:
        types[init.name] = init.data_type
        shapes[init.name] = list(init.dims)
    for node in g.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    types.setdefault(node.output[0], a.t.data_type)
                    shapes.setdefault(node.output[0], list(a.t.dims))
    return types, shapes


def _recurrent(node: onnx.NodeProto, types: dict[str, int], shapes: dict[str, list], graph_inputs: set[str]) -> None:
    kind = config.RECURRENT_OPS[node.op_type]
    label, op = node.name or (node.output[0] if node.output else node.op_type), node.op_type
    most = config.MAX_INPUTS[kind]
    if len(node.input) > most:
        raise HlfgenError(
            f"{len(node.input)} inputs; {op} takes at most {most} ({', '.join(INPUT_NAMES[:most])})", label, op
        )
    outs = 3 if kind == "lstm" else 2
    if len(node.output) > outs:
        raise HlfgenError(f"{len(node.output)} outputs; {op} has at most {outs}", label, op)
    ins = list(node.input) + [""] * (most - len(node.input))
    x_type = types.get(ins[0])
    if x_type is not None and x_type not in FLOAT_TYPES:
        raise HlfgenError(
            f"input X ('{ins[0]}') is {_type_name(x_type)}; {op} takes float tensors (hlfgen compiles float32)",
            label,
            op,
        )
    if x_type is not None and x_type != TensorProto.FLOAT and ins[0] in graph_inputs:
        raise HlfgenError(f"input X ('{ins[0]}') is {_type_name(x_type)}; hlfgen compiles float32 data", label, op)
    if x_type is not None:
        for pos in (1, 2, 3, 5, 6, 7):
            name = ins[pos] if pos < most else ""
            t = types.get(name) if name else None
            if t is not None and t != x_type:
                raise HlfgenError(
                    f"input {INPUT_NAMES[pos]} ('{name}') is {_type_name(t)} but X is {_type_name(x_type)}; "
                    f"{op}'s inputs share one type T (convert the weights with a Cast node)",
                    label,
                    op,
                )
    seq = ins[4]
    if seq and types.get(seq) not in (None, TensorProto.INT32):
        raise HlfgenError(
            f"input sequence_lens ('{seq}') is {_type_name(types[seq])}; ONNX allows int32 only "
            "(onnxruntime refuses other types)",
            label,
            op,
        )
    _batch_agrees(node, ins, shapes, label, op)


def _batch_agrees(node, ins, shapes, label, op) -> None:
    """The static batch sizes of X, sequence_lens, initial_h and initial_c agree (ONNX shapes them all by B)."""
    layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
    axes = {0: 1 if layout == 0 else 0, 4: 0, 5: 1 if layout == 0 else 0, 6: 1 if layout == 0 else 0}
    found = []
    for pos, axis in axes.items():
        name = ins[pos] if pos < len(ins) else ""
        dims = shapes.get(name) if name else None
        if dims is not None and axis < len(dims) and isinstance(dims[axis], int) and dims[axis] > 0:
            found.append((INPUT_NAMES[pos], name, dims[axis]))
    for what, name, b in found[1:]:
        if b != found[0][2]:
            raise HlfgenError(
                f"input {what} ('{name}') has batch size {b}, input {found[0][0]} ('{found[0][1]}') "
                f"{found[0][2]}; they must agree",
                label,
                op,
            )


def _checker(proto: onnx.ModelProto) -> None:
    if any(o.type.HasField("tensor_type") and not o.type.tensor_type.HasField("shape") for o in proto.graph.output):
        # Outputs declared without a shape (onnxruntime runs them; the checker wants the field):
        # check a copy where they carry the inferred shape instead.
        copy = onnx.ModelProto()
        copy.CopyFrom(proto)
        try:
            inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(copy).graph.value_info}
        except Exception:
            inferred = {}
        for o in copy.graph.output:
            if o.name in inferred and not o.type.tensor_type.HasField("shape"):
                o.type.CopyFrom(inferred[o.name].type)
        proto = copy
    try:
        onnx.checker.check_model(proto, full_check=True)
    except ValueError as e:  # a model over 2 GB as one protobuf: the checker needs the file; skip
        if "2GB" not in str(e) and "2 GB" not in str(e):
            raise HlfgenError(f"invalid ONNX model ({_first_line(e)})") from None
    except Exception as e:  # onnx.checker.ValidationError, onnx.shape_inference.InferenceError
        msg = _first_line(e)
        if not any(b in msg for b in BENIGN_CHECKER):
            raise HlfgenError(f"invalid ONNX model (onnx.checker: {msg})") from None


def _producers(model: Model) -> dict[str, tuple[str, str]]:
    """Tensor name -> (node label, op) of the operation writing it."""
    out = {}
    for op in model.ops:
        if isinstance(op, RecurrentLayer):
            for n in (op.y, op.y_h, op.y_c):
                if n:
                    out[n] = (op.node, op.kind.upper())
        else:
            for n in op.outputs:
                out[n] = (op.node, op.attrs.get("onnx_op", op.op))
    return out


def check_ir(model: Model) -> None:
    """Every runtime tensor fits the C runtime's limits (rank <= config.MAX_RANK)."""
    producers = _producers(model)
    for name, info in model.tensors.items():
        if len(info.shape) > config.MAX_RANK:
            node, op = producers.get(name, (None, None))
            what = f"tensor '{name}'" if node else f"graph input '{name}'"
            raise HlfgenError(
                f"{what} has rank {len(info.shape)}; hlfgen supports rank up to {config.MAX_RANK}", node, op
            )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def check_program(prog) -> None:
    """The static memory a build would need is within config's limits (a larger one fails to link)."""
    from .lower import max_elems, work_bytes

    model = prog.model
    io = sum(
        max_elems(t.shape, model.max_dims) * config.DTYPES[t.dtype].size
        for t in list(model.inputs) + list(model.outputs)
    )
    work = work_bytes(prog)
    where = f"batch {model.batch}, max sequence length {model.max_seq_len}"
    if work > config.MAX_WORK_BYTES:
        raise HlfgenError(
            f"the model needs {_size(work)} of working memory ({where}); hlfgen's limit is "
            f"{_size(config.MAX_WORK_BYTES)}: lower --max-seq-len or --batch"
        )
    if io > config.MAX_WORK_BYTES:
        raise HlfgenError(
            f"the runner's input and output buffers need {_size(io)} ({where}); hlfgen's limit is "
            f"{_size(config.MAX_WORK_BYTES)}: lower --max-seq-len or --batch"
        )
    if prog.weight_bytes > config.MAX_WEIGHT_BYTES:
        raise HlfgenError(
            f"the weights take {_size(prog.weight_bytes)}; hlfgen's limit is {_size(config.MAX_WEIGHT_BYTES)}"
        )
