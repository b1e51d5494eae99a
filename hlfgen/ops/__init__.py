"""Non-recurrent runtime operators: one module per ONNX operator family.

A handler turns one ONNX node whose inputs include runtime data into IR
nodes (ir.Node) and the output tensors' shapes.  Registering is by
decorator; the reader looks handlers up by op_type.  Recurrent operators
(LSTM, GRU, RNN) are the reader's own (reader._recurrent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import HlfgenError
from ..ir import Node, TensorInfo

HANDLERS: dict[str, Callable[["OpContext"], tuple[list[Node], list[TensorInfo]]]] = {}


def register(*op_types: str):
    def deco(fn):
        for t in op_types:
            HANDLERS[t] = fn
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
    consts: dict  # name -> np.ndarray (materialized constants)
    alt: dict  # name -> value at the other T, for constants that depend on T (reader.T_ALT)
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

    def const(self, i: int, what: str = "") -> np.ndarray | None:
        """Constant input i (None when absent); an error when it is runtime data."""
        name = self.input(i)
        if not name:
            return None
        if name not in self.consts:
            raise self.error(f"input {i}{' (' + what + ')' if what else ''} ('{name}') must be a constant")
        if name in self.alt:
            raise self.error(f"input {i}{' (' + what + ')' if what else ''} ('{name}') depends on the sequence length")
        return self.consts[name]

    def shape_const(self, i: int, what: str = "shape") -> list[int] | None:
        """A constant shape input whose entries may depend on T: entries as dims (d < 0: (-d)*T)."""
        name = self.input(i)
        if not name:
            return None
        if name not in self.consts:
            raise self.error(f"input {i} ({what}, '{name}') must be a constant")
        primary = np.ravel(self.consts[name]).astype(np.int64)
        if name not in self.alt:
            return [int(v) for v in primary]
        return decode_t(primary, np.ravel(self.alt[name]), self)

    def error(self, message: str) -> HlfgenError:
        return HlfgenError(message, self.label, self.op)


def decode_t(primary, alt, ctx: OpContext) -> list[int]:
    """Shape entries folded at T_PRIMARY and T_ALT -> static ints or T multiples (negative)."""
    from ..reader import T_ALT, T_PRIMARY

    out = []
    for p, a in zip(primary, alt):
        p, a = int(p), int(a)
        if p == a:
            out.append(p)
            continue
        coef, rem = divmod(p - a, T_PRIMARY - T_ALT)
        if rem or coef * T_PRIMARY != p or coef <= 0:
            raise ctx.error("a shape entry depends on the sequence length other than as a multiple of it")
        out.append(-coef)
    return out


def supported() -> list[str]:
    return sorted(HANDLERS)


# Importing the modules registers their handlers.
from . import shape_ops  # noqa: E402,F401
from . import argmax, cast, concat, dropout, elementwise, expand, gather, linear, slice, softmax  # noqa: E402,F401
from . import batchnorm, conv, pool  # noqa: E402,F401
