"""Export a model with HLF layers to ONNX so that the factors survive, and prove it.

``export`` calls ``torch.onnx.export`` with the settings that keep
``MatMul(B, C)`` of two initializers in the graph (shared/hlf-onnx.md):

* TorchScript exporter (``dynamo=False``, the default): constant folding off
  (``do_constant_folding=False``).  PyTorch 2.13's folding leaves ``MatMul``
  alone (tests/test_torch_layers.py checks it), but nothing is gained by
  folding and other versions may fold the product.  Gates are reordered with
  ``Slice`` ops; the reader follows them.
* dynamo exporter (``dynamo=True``): ``optimize=False`` (the optimizer folds
  small products).  torch.export specializes the sequence length of
  ``aten.lstm`` / ``aten.gru`` (PyTorch 2.13, nn.LSTM alike), so the sequence
  axis cannot be dynamic there: the file is exported at the example's length
  (with a warning) unless you pass your own ``dynamic_axes``/``dynamic_shapes``.

Then it verifies, with ``hlfgen.inspect``, that every recurrent weight matrix is
read back as HLF or LMF, and raises ``HlfgenError`` naming each matrix that
arrived dense (folded-dense).  When the compiler cannot read the whole graph
yet (an unsupported glue operator around the recurrent nodes) the check runs on
a view of the file holding only the recurrent nodes and their constant weight
expressions, and a warning names the operator.

A recurrent layer called without ``hx`` (nn.LSTM and the HLF layers alike) is
exported with its zero initial state computed as ``Expand(0, Shape(X)...)``
(whatever the model writes, PyTorch's exporter rebuilds it so); ``export``
replaces such an all-zero state by an absent input, which ONNX defines as
zeros, so that no shape arithmetic on runtime data is left for the compiler.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from hlfgen.errors import HlfgenError
from hlfgen.inspect import inspect_model

from .layers import _HLFRNNBase

RECURRENT_OPS = ("LSTM", "GRU", "RNN")
AUTO = "auto"  # default of dynamic_axes: the first input's sequence axis, named "T"

FOLD_HINT = (
    "the factors were multiplied out: export with do_constant_folding=False (TorchScript) or "
    "optimize=False (dynamo), and do not simplify the file (onnxsim, onnxslim and onnxruntime's "
    "optimized model fold MatMul(B, C))"
)


def _flatten(x) -> list:
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _flatten(item)]
    return [x]


def _rnn_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (_HLFRNNBase, nn.RNNBase))]


def export(
    model: nn.Module,
    example_inputs,
    path: str | os.PathLike,
    *,
    dynamo: bool = False,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes=AUTO,
    opset_version: int | None = None,
    verify: bool = True,
    drop_zero_states: bool = True,
    **export_kwargs,
) -> dict | None:
    """Write ``model`` to ONNX at ``path`` keeping the HLF factors; return the inspection.

    ``example_inputs``: a tensor or a tuple of positional arguments (nested
    tuples such as ``(x, (h0, c0))`` are flattened into graph inputs).
    ``input_names`` default to ``X`` then ``h0``/``c0`` for a bare HLF layer,
    ``X, input_1, ...`` otherwise; ``output_names`` to ``Y, Y_h[, Y_c]`` for a
    bare HLF layer.  ``dynamic_axes="auto"`` makes the first input's sequence
    axis (0, or 1 when the first recurrent layer is ``batch_first``) dynamic,
    named ``T``; pass a dict (or None) to choose.  Extra keyword arguments go to
    ``torch.onnx.export``.  ``drop_zero_states`` (TorchScript exporter): an
    initial state that is all zeros (nn.LSTM / HLF layers called without hx
    write ``Expand(0, Shape(X)...)``) becomes an absent input, which ONNX
    defines as zeros; the shape arithmetic goes with it.  With ``verify``
    (default) the file is read back with ``hlfgen.inspect`` and
    ``HlfgenError`` is raised, naming the matrix, if any HLF weight matrix
    arrived dense.  Returns the inspection (as
    ``inspect_model``), or None when ``verify=False``.
    """
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    flat = [t for t in _flatten(args) if isinstance(t, torch.Tensor)]
    if not flat:
        raise HlfgenError("export: example_inputs holds no tensor")
    hlf_mods = [m for m in model.modules() if isinstance(m, _HLFRNNBase)]
    rnns = _rnn_modules(model)
    if input_names is None:
        extra = ["h0", "c0"] if isinstance(model, _HLFRNNBase) else [f"input_{i}" for i in range(1, len(flat))]
        input_names = (["X"] + extra)[: len(flat)]
    if output_names is None and isinstance(model, _HLFRNNBase):
        output_names = ["Y", "Y_h", "Y_c"] if model.mode == "LSTM" else ["Y", "Y_h"]
    x0 = flat[0]
    batch_first = bool(rnns and getattr(rnns[0], "batch_first", False))
    # 3-D float data, or 2-D token ids feeding an embedding, have a batch axis;
    # 2-D float data is an unbatched (T, input_size) sequence.
    has_batch = x0.dim() == 3 or (x0.dim() == 2 and not x0.is_floating_point())
    seq_axis = 1 if has_batch and batch_first else 0
    auto = isinstance(dynamic_axes, str) and dynamic_axes == AUTO
    if auto:
        dynamic_axes = {input_names[0]: {seq_axis: "T"}}

    path = Path(path)
    kwargs = dict(export_kwargs)
    if opset_version is not None:
        kwargs["opset_version"] = opset_version
    if dynamo:
        kwargs.setdefault("optimize", False)
        kwargs.setdefault("verbose", False)
        if auto:
            warnings.warn(
                "hlfgen.torch.export(dynamo=True): torch.export specializes the sequence length of "
                f"aten.lstm/aten.gru, so the file has a static sequence length of {x0.shape[seq_axis]}; "
                "use dynamo=False for a dynamic sequence axis",
                stacklevel=2,
            )
            dynamic_axes = None
    else:
        kwargs.setdefault("do_constant_folding", False)
    with warnings.catch_warnings():
        # chosen on purpose (it keeps the sequence axis dynamic): no deprecation notice
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=dynamo,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            **kwargs,
        )
    if drop_zero_states and not dynamo:
        proto = onnx.load(str(path))
        if drop_zero_initial_states(proto):
            onnx.checker.check_model(proto)
            onnx.save(proto, str(path))
    if not verify:
        return None
    expected = sum(1 for m in hlf_mods for w in m.hlf_weights().values() if any(b.j < b.m for b in w.gates.values()))
    return verify_factored(path, expected=expected)


# ---------------------------------------------------------------- zero initial states

_ZERO_PASS = {
    "Slice",
    "Gather",
    "Squeeze",
    "Unsqueeze",
    "Reshape",
    "Identity",
    "Transpose",
    "Cast",
    "Flatten",
    "Expand",
    "Tile",
}


def drop_zero_initial_states(proto: onnx.ModelProto) -> int:
    """Replace every all-zero initial_h / initial_c input of a recurrent node by
    an absent input (zeros by the ONNX spec) and drop the nodes left unused.

    A tensor is known zero when it is a constant of zeros, a ConstantOfShape of
    zero, or a rearrangement (Expand, Slice, Gather, Reshape, ...) of a known
    zero tensor, or a Concat of them.  Returns how many inputs were dropped.
    """
    g = proto.graph
    consts = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output if o}
    memo: dict[str, bool] = {}

    def zero(name: str) -> bool:
        if name in memo:
            return memo[name]
        memo[name] = False  # cycles (none in valid ONNX) stay non-zero
        res = False
        if name in consts:
            res = not np.any(numpy_helper.to_array(consts[name]))
        elif name in producer:
            n = producer[name]
            attrs = {a.name: a for a in n.attribute}
            if n.op_type == "Constant" and "value" in attrs:
                res = not np.any(numpy_helper.to_array(attrs["value"].t))
            elif n.op_type == "ConstantOfShape":
                res = "value" not in attrs or not np.any(numpy_helper.to_array(attrs["value"].t))
            elif n.op_type in _ZERO_PASS and n.input and n.input[0]:
                res = zero(n.input[0])
            elif n.op_type == "Concat":
                res = all(zero(i) for i in n.input if i)
        memo[name] = res
        return res

    graph_inputs = {i.name for i in g.input}
    dropped = 0
    for n in g.node:
        if n.op_type not in RECURRENT_OPS:
            continue
        for pos in (5, 6) if n.op_type == "LSTM" else (5,):
            if pos < len(n.input) and n.input[pos] and n.input[pos] not in graph_inputs and zero(n.input[pos]):
                n.input[pos] = ""
                dropped += 1
        while n.input and not n.input[-1]:
            n.input.pop()
    if not dropped:
        return 0
    outputs = {o.name for o in g.output}
    while True:  # drop nodes whose outputs nobody reads
        used = {i for n in g.node for i in n.input} | outputs
        dead = [n for n in g.node if not any(o in used for o in n.output if o)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    used = {i for n in g.node for i in n.input} | outputs
    for t in [t for t in g.initializer if t.name not in used and t.name not in graph_inputs]:
        g.initializer.remove(t)
    for vi in [vi for vi in g.value_info if vi.name not in used]:
        g.value_info.remove(vi)
    return dropped


# ---------------------------------------------------------------- verification


def verify_factored(path: str | os.PathLike, expected: int | None = None) -> dict | None:
    """Inspect ``path``; raise HlfgenError naming each weight matrix that is not HLF/LMF.

    Returns the inspection (``info["compiler_error"]`` set when the compiler
    cannot read the whole graph and only the weights were inspected), or None,
    with a warning, when not even the weight expressions can be evaluated.

    ``expected``: how many matrices must be factored (e.g. those of the HLF
    layers when the model also holds dense ones); default every matrix.
    """
    try:
        info = inspect_model(path)
    except HlfgenError as e:
        try:
            info = _inspect_weights_only(path)
        except _NotConstant as nc:
            warnings.warn(
                f"hlfgen.torch.export: cannot verify the factors of {path}: the compiler cannot read "
                f"the graph ({e}) and {nc}",
                stacklevel=3,
            )
            return None
        info["compiler_error"] = str(e)
        warnings.warn(
            f"hlfgen.torch.export: {path} keeps its factors, but hlfgen cannot compile it yet: {e}", stacklevel=3
        )
    mats = [(layer, m) for layer in info["layers"] for m in layer["matrices"]]
    factored = [m for _, m in mats if m["structure"].startswith(("HLF", "LMF"))]
    want = len(mats) if expected is None else expected
    if len(factored) < want:
        bad = [
            f"node '{layer['node']}' {m['name']} ({m['shape'][0]}x{m['shape'][1]}) is {m['structure']}"
            for layer, m in mats
            if not m["structure"].startswith(("HLF", "LMF"))
        ]
        raise HlfgenError(f"{path}: {'; '.join(bad) or 'no recurrent weight matrix found'}: {FOLD_HINT}")
    return info


class _NotConstant(Exception):
    pass


def _inspect_weights_only(path) -> dict:
    """inspect_model on a copy holding only the recurrent nodes and their weight expressions."""
    from hlfgen.reader import load_onnx

    view = weights_view(load_onnx(path))
    with tempfile.TemporaryDirectory(prefix="hlfgen-verify-") as tmp:
        p = Path(tmp) / Path(path).name
        onnx.save(view, str(p))
        info = inspect_model(p)
    info["model"] = str(path)
    return info


def weights_view(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The recurrent nodes of ``proto`` fed by fresh X inputs, with only the constant
    sub-graphs computing their W, R and B (Shape of a statically shaped tensor
    becomes a constant).  Raises _NotConstant when a weight needs runtime data."""
    g = proto.graph
    inits = {t.name for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output if o}
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:  # noqa: BLE001 - shape inference is best effort here
        inferred = proto
    shapes: dict[str, list | None] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)

    keep: dict[int, onnx.NodeProto] = {}
    order = {id(n): i for i, n in enumerate(g.node)}
    extra: list[onnx.NodeProto] = []
    seen: set[str] = set()

    def need(name: str, who: str) -> None:
        if not name or name in inits or name in seen:
            return
        seen.add(name)
        node = producer.get(name)
        if node is None:
            raise _NotConstant(f"{who} depends on graph input '{name}'")
        if node.op_type == "Shape" and node.input[0] not in inits:
            dims = shapes.get(node.input[0])
            if dims is None or any(d is None for d in dims):
                raise _NotConstant(f"{who} depends on Shape node '{node.name}' of a dynamically shaped tensor")
            a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
            val = np.array(dims, np.int64)[a.get("start", 0) : a.get("end", len(dims))]
            extra.append(
                helper.make_node(
                    "Constant", [], [name], name=node.name or name, value=numpy_helper.from_array(val, name)
                )
            )
            return
        for i in node.input:
            need(i, who)
        keep[order[id(node)]] = node

    nodes, inputs, outputs, pending = [], [], [], []
    for idx, n in enumerate(g.node):
        if n.op_type not in RECURRENT_OPS:
            continue
        label = n.name or n.op_type
        ins = list(n.input) + [""] * 4
        for pos, what in ((1, "W"), (2, "R"), (3, "B")):
            need(ins[pos], f"input {what} of node '{label}'")
        pending.append((idx, n, ins))
    const_nodes = extra + [keep[i] for i in sorted(keep)]
    unknown = [
        ins[1]
        for _, _, ins in pending
        if not shapes.get(ins[1]) or len(shapes[ins[1]]) != 3 or shapes[ins[1]][2] is None
    ]
    if unknown:  # shape inference gave up (e.g. Slice bounds from Shape): evaluate the constants
        shapes.update(_const_shapes(proto, const_nodes, unknown))
    f32 = onnx.TensorProto.FLOAT
    for idx, n, ins in pending:
        label = n.name or n.op_type
        wshape = shapes.get(ins[1])
        if not wshape or len(wshape) != 3 or wshape[2] is None:
            raise _NotConstant(f"the shape of input W of node '{label}' is unknown")
        layout = next((helper.get_attribute_value(a) for a in n.attribute if a.name == "layout"), 0)
        x = f"__hlfgen_X{idx}"
        inputs.append(helper.make_tensor_value_info(x, f32, [1, "T", wshape[2]] if layout else ["T", 1, wshape[2]]))
        y = n.output[0] if n.output and n.output[0] else f"__hlfgen_Y{idx}"
        copy = helper.make_node(n.op_type, [x, ins[1], ins[2], ins[3]], [y], name=n.name)
        copy.attribute.extend(n.attribute)
        nodes.append((idx, copy))
        outputs.append(helper.make_tensor_value_info(y, f32, None))
    if not nodes:
        raise _NotConstant("it has no LSTM, GRU or RNN node")
    ordered = const_nodes + [c for _, c in sorted(nodes, key=lambda t: t[0])]
    used = {i for n in ordered for i in n.input}
    graph = helper.make_graph(
        ordered, g.name or "weights", inputs, outputs, initializer=[t for t in g.initializer if t.name in used]
    )
    return helper.make_model(graph, opset_imports=list(proto.opset_import), ir_version=proto.ir_version)


def _const_shapes(proto: onnx.ModelProto, nodes: list, names: list[str]) -> dict[str, list]:
    """Shapes of constant tensors ``names`` computed by ``nodes``, by evaluation (onnx.reference)."""
    from onnx.reference import ReferenceEvaluator

    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(
        nodes,
        "shapes",
        [],
        [helper.make_value_info(nm, onnx.TypeProto()) for nm in names],
        initializer=[t for t in proto.graph.initializer if t.name in used],
    )
    model = helper.make_model(graph, opset_imports=list(proto.opset_import), ir_version=proto.ir_version)
    try:
        values = ReferenceEvaluator(model).run(names, {})
    except Exception as e:  # noqa: BLE001
        raise _NotConstant(f"its weight expressions cannot be evaluated ({str(e).strip().splitlines()[0]})") from None
    return {nm: list(np.shape(v)) for nm, v in zip(names, values)}
