"""The small IR between the ONNX reader and the lowering.

A model is a list of operations over named tensors in execution order.
Recurrent layers hold their weight matrices as row segments: each segment is
either ``Dense`` (rows of a matrix, the A' of the paper) or ``LowRank`` (rows
``B·C`` kept factored).  Nothing here multiplies a low-rank segment out,
except ``FactoredMatrix.dense()`` which tests and ``inspect`` use.

Shapes: tuples of extents, each an ``int`` (static) or a ``dims.Dim`` (an
expression over the run-time symbols of ``Model.dims``, e.g. ``T``,
``2 * T``, ``(T - 5) // 2 + 1``); hlfgen/dims.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

# Gate order per ONNX operator (how many gates each has), default activations.
from .config import DEFAULT_ACTIVATIONS, GATES  # noqa: F401

if TYPE_CHECKING:
    from .qdq import Table as QdqTable

Shape = tuple  # of int | dims.Dim


@dataclass
class Dense:
    """Rows of a dense matrix (``A'`` of Figure 1, or a plain weight)."""

    data: np.ndarray  # (rows, n) float32
    origin: str = ""  # where it came from, for messages and inspect

    @property
    def rows(self) -> int:
        return int(self.data.shape[0])


@dataclass
class LowRank:
    """Rows ``B·C`` kept as factors (the lower block of Figure 1).

    ``c_key`` identifies C: segments with the same key share one ``t = C·x``
    (Algorithm 1, line 2), computed once per input vector.
    """

    B: np.ndarray  # (rows, k)
    C: np.ndarray  # (k, n)
    c_key: str

    @property
    def rows(self) -> int:
        return int(self.B.shape[0])

    @property
    def rank(self) -> int:
        return int(self.C.shape[0])


Segment = Union[Dense, LowRank]


@dataclass
class FactoredMatrix:
    """An m x n weight matrix as a list of row segments, top to bottom."""

    segments: list[Segment]
    cols: int

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.segments)

    def dense(self) -> np.ndarray:
        """The full matrix (for tests and reports; never used by codegen)."""
        parts = [s.data if isinstance(s, Dense) else s.B @ s.C for s in self.segments]
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, self.cols), np.float32)

    def row_range(self, start: int, stop: int) -> "FactoredMatrix":
        """Rows [start, stop) as a new FactoredMatrix (segments cut, not copied deeply)."""
        out: list[Segment] = []
        pos = 0
        for s in self.segments:
            a, b = max(start, pos), min(stop, pos + s.rows)
            if a < b:
                lo, hi = a - pos, b - pos
                if isinstance(s, Dense):
                    out.append(Dense(s.data[lo:hi], s.origin))
                else:
                    out.append(LowRank(s.B[lo:hi], s.C, s.c_key))
            pos += s.rows
        return FactoredMatrix(out, self.cols)


@dataclass(frozen=True)
class Activation:
    name: str  # ONNX spelling, e.g. "Sigmoid", "LeakyRelu"
    alpha: float = 0.0
    beta: float = 0.0


@dataclass
class TensorInfo:
    name: str
    dtype: str  # "float32", "int32" or "int64"
    shape: Shape
    optional: bool = False  # graph inputs only
    # Integer inputs: the values that make sense, [lo, hi) (token ids: the
    # embedding's rows), or "lengths" for sequence_lens (1..T).  For random
    # test inputs (check.random_inputs); None: unknown.
    int_range: tuple[int, int] | str | None = None


@dataclass
class RecurrentLayer:
    """One ONNX LSTM, GRU or RNN node, weights already read as segments."""

    node: str
    kind: str  # "lstm" | "gru" | "rnn"
    direction: str  # "forward" | "reverse" | "bidirectional"
    hidden: int
    input_size: int
    batch: object  # int (lowering needs it static) or dims.Dim
    layout: int
    W: list[FactoredMatrix]  # per direction, gates*hidden x input_size
    R: list[FactoredMatrix]  # per direction, gates*hidden x hidden
    bias: np.ndarray | None  # (D, 2*gates*hidden): Wb then Rb
    peephole: np.ndarray | None  # (D, 3*hidden): P[iof]
    activations: list[list[Activation]]  # per direction
    clip: float | None
    input_forget: bool
    linear_before_reset: bool
    # tensor names (None: absent)
    x: str
    seq_lens: str | None
    initial_h: str | None
    initial_c: str | None
    y: str | None
    y_h: str | None
    y_c: str | None
    seq: object = 1  # the sequence length: an int (static T) or a dims.Dim
    # int8 weights the model itself gives (onnxruntime's DynamicQuantizeLSTM, hlfgen/qonnx.py): compiled as
    # onnxruntime runs them (hlfgen/qlower.py); {"W"/"R": per direction (int8 [rows, n], fp32 row scales)}
    qweights: dict | None = None

    @property
    def num_directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1

    @property
    def gates(self) -> int:
        return len(GATES[self.kind])

    def reversed_dir(self, d: int) -> bool:
        """Whether direction index d runs from the last step to the first."""
        return self.direction == "reverse" or (self.direction == "bidirectional" and d == 1)


@dataclass
class Node:
    """A non-recurrent runtime operation, printed by templates/ops/<op>.c.j2.

    Made by the operator modules in hlfgen/ops/ (one per ONNX operator family).
    """

    node: str  # ONNX node name (for comments and messages)
    op: str  # template name: templates/ops/<op>.c.j2
    inputs: list[str]  # tensor names read (runtime or constant)
    outputs: list[str]
    attrs: dict = field(default_factory=dict)  # static parameters the template prints
    weights: dict = field(default_factory=dict)  # key -> float32 array, emitted as static const (plain)
    packed: dict = field(default_factory=dict)  # key -> 2-D float32 matrix, packed for the GEMV/GEMM kernels
    alias: bool = False  # the output is the input's data with another shape (no copy)


Op = Union[RecurrentLayer, Node]


@dataclass
class DimSymbol:
    """A run-time dimension: a symbol whose value each call passes (1..max)."""

    name: str  # as the ONNX file spells it (a dim_param, or INPUT:AXIS)
    max: int  # the memory plan's bound
    role: str  # "seq" (a recurrent layer's T), "batch", or ""
    c_name: str  # C identifier: NAME_DIM_<C_NAME>, the local d_<c_name>


@dataclass
class Model:
    name: str
    batch: int  # the recurrent layers' batch (static)
    max_seq_len: int  # the recurrent layers' largest T (the seq symbol's max, or the static T)
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    ops: list[Op]
    tensors: dict[str, TensorInfo]  # every runtime tensor, inputs and outputs included
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # constant non-weight tensors used by ops
    opset: int = 0
    source: str = ""
    static_seq_len: int | None = None  # the recurrent layers' T, if static
    fp16_weights: bool = False  # every matrix initializer is float16 (a half-precision model): --quantize auto -> fp16
    dims: list[DimSymbol] = field(default_factory=list)  # run-time dimensions, in the C API's order
    fixed: dict[str, int] = field(default_factory=dict)  # symbols of the graph fixed at build time
    seq_symbol: str | None = None  # the run-time symbol that is the recurrent layers' T (streaming axis)
    notes: list[str] = field(default_factory=list)  # what the build chose (printed by `hlfgen build`)
    qdq: QdqTable | None = None  # DequantizeLinear weights: their integers and scales (hlfgen/qdq.py)

    @property
    def max_dims(self) -> dict[str, int]:
        return {d.name: d.max for d in self.dims}

    @property
    def seq_only(self) -> bool:
        """The only run-time dimension is the sequence (or there is none): NAME_run(seq_len, ...)."""
        return all(d.name == self.seq_symbol for d in self.dims)

    @property
    def layers(self) -> list[RecurrentLayer]:
        return [op for op in self.ops if isinstance(op, RecurrentLayer)]
