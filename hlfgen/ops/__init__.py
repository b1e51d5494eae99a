"""Runtime operators: one module per ONNX operator family, registered by op_type.

A handler turns one ONNX node whose inputs include runtime data into IR
operations (``ir.Node``, or ``ir.RecurrentLayer`` for LSTM/GRU/RNN) and the
TensorInfo of each output:

    @register("Foo")
    def foo(ctx: OpContext) -> tuple[list[Node], list[TensorInfo]]:
        x = ctx.info(0)                      # TensorInfo of runtime input 0
        axis = norm_axis(ctx, int(ctx.attrs.get("axis", 0)), len(x.shape))
        w = ctx.const(1, "weights")          # numpy array; error if runtime/symbolic
        out = TensorInfo(ctx.output(), "float32", x.shape)
        return [Node(ctx.label, "foo", [x.name], [out.name], {"n": x.shape[axis]})], [out]

Shapes (hlfgen/dims.py): every extent is an ``int`` (static) or a
``dims.Dim`` (an expression over named symbols: ``T``, ``batch``,
``(T - 5) // 2 + 1``, ``B * T``).  Arithmetic on extents just works (``+ - *``,
``// k``); ``isinstance(d, int)`` is "static"; ``dims.prod(shape)`` is the
element count; ``fmt(shape)`` prints a shape for messages.  Never compare a
Dim with ``<``/``>`` (TypeError): test ``isinstance`` or ``==``.
Templates print an extent as C with the ``cdim`` filter
(``{{ a.n | cdim }}`` -> ``d_T`` or ``(2 * d_T)``; run-time symbols are local
``const int``s of the generated function); the memory plan reserves
``dims.dmax(d, model.max_dims)`` elements.  Attributes that the template
prints go into ``Node.attrs`` as ints or Dims.

Constant inputs: ``ctx.const(i)`` is a plain numpy array (an error when the
value depends on a symbolic extent), ``ctx.shape_const(i)`` a list of ints
and Dims (a shape computed from ``Shape(X)``), ``ctx.fill(i)`` the
``(value, shape)`` of a single-valued tensor of symbolic shape
(``ConstantOfShape(Shape(X))``), ``ctx.weight(i)`` the raw value
(``weights.SymTensor`` keeps HLF/LMF factors).  Constants the generated code
reads at run time go into ``ctx.used_consts[name]``.  Errors:
``raise ctx.error("what is wrong")`` (one line, names node and operator).
Streaming (NAME_step): set ``attrs["no_stream"] = True`` on a node that
mixes time steps (ops/stream.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import dims as D
from .. import fold
from .. import weights as W
from ..errors import HlfgenError
from ..ir import TensorInfo

HANDLERS: dict[str, Callable[["OpContext"], tuple[list, list[TensorInfo]]]] = {}
ALWAYS: set[str] = set()  # handled even when every input is constant (recurrent layers refuse a constant X)


def register(*op_types: str, always: bool = False):
    def deco(fn):
        for t in op_types:
            HANDLERS[t] = fn
            if always:
                ALWAYS.add(t)
        return fn

    return deco


@dataclass
class OpContext:
    """What a handler sees of one node."""

    node: object  # onnx.NodeProto
    label: str
    attrs: dict
    opset: int
    tensors: dict  # name -> TensorInfo of runtime tensors
    consts: dict  # name -> constant value (numpy array, weights.SymTensor, fold.Fill, object array of Dims)
    used_consts: dict = field(default_factory=dict)  # constants read by the generated code
    notes: list = field(default_factory=list)  # lines `hlfgen build` prints (what it assumed)
    roles: list = field(default_factory=list)  # (role, extent, node label, op): recurrent "seq"/"batch" axes
    # name -> the constant as weights.py evaluated it, kept factored (SymTensor or
    # TransposedSym), for inputs whose value has row segments (Algorithm 1 in ops/linear.py)
    syms: dict = field(default_factory=dict)

    @property
    def op(self) -> str:
        return self.node.op_type

    def input(self, i: int) -> str:
        return self.node.input[i] if i < len(self.node.input) else ""

    def output(self, i: int = 0) -> str:
        return self.node.output[i] if i < len(self.node.output) else ""

    def is_runtime(self, i: int) -> bool:
        return self.input(i) in self.tensors

    def info(self, i: int) -> TensorInfo:
        name = self.input(i)
        if name not in self.tensors:
            raise self.error(f"input {i} ('{name}') must be runtime data")
        return self.tensors[name]

    def _raw(self, i: int, what: str):
        name = self.input(i)
        if not name:
            return None
        if name not in self.consts:
            raise self.error(f"input {i}{' (' + what + ')' if what else ''} ('{name}') must be a constant")
        return self.consts[name]

    def const(self, i: int, what: str = "") -> np.ndarray | None:
        """Constant input i as a numpy array (None when absent); an error for runtime or symbolic values."""
        v = self._raw(i, what)
        if v is None:
            return None
        if fold.is_symbolic(v):
            raise self.error(
                f"input {i}{' (' + what + ')' if what else ''} ('{self.input(i)}') depends on the "
                f"symbolic dimension(s) {', '.join(fold.symbols_of(v))}"
            )
        return W.materialize(v)

    def weight(self, i: int, what: str = ""):
        """The raw constant (weights.SymTensor keeps factors; numpy array otherwise)."""
        v = self._raw(i, what)
        if v is not None and fold.is_symbolic(v):
            self.const(i, what)  # raises
        return v

    def shape_const(self, i: int, what: str = "shape") -> list | None:
        """A constant int vector whose entries may be symbolic extents: ints and Dims."""
        v = self._raw(i, what)
        if v is None:
            return None
        if isinstance(v, fold.Fill):
            raise self.error(f"input {i} ({what}) has a symbolic size")
        arr = np.ravel(W.materialize(v))
        if arr.dtype.kind == "f":
            raise self.error(f"input {i} ({what}) has dtype {arr.dtype}; expected an integer type")
        return [x if isinstance(x, D.Dim) else int(x) for x in arr]

    def fill(self, i: int):
        """(value, shape) of a single-valued constant of symbolic shape (Fill), else None."""
        v = self.consts.get(self.input(i))
        return (v.value, list(v.shape)) if isinstance(v, fold.Fill) else None

    def note(self, text: str) -> None:
        self.notes.append(f"{self.op} '{self.label}': {text}")

    def error(self, message: str) -> HlfgenError:
        return HlfgenError(message, self.label, self.op)


def supported() -> list[str]:
    return sorted(HANDLERS)


# Importing the modules registers their handlers.
from . import shape_ops  # noqa: E402,F401
from . import indexing, layernorm, logic, matmul, reduce, sequence  # noqa: E402,F401
from . import argmax, cast, concat, dropout, elementwise, expand, gather, linear, recurrent, slice, softmax  # noqa: E402,F401
from . import batchnorm, conv, pool  # noqa: E402,F401
