"""Checks that turn invalid or absurd models into hlfgen's one-line errors.

Three stages, each raising HlfgenError (CLI: one line, exit 2):
  * check_proto(proto, path): the ONNX file itself, before reading it;
  * check_ir(model): the IR the reader made (ranks and the like);
  * check_program(prog): the lowered program (memory the build would need).
Limits come from hlfgen/config.py.
"""

from __future__ import annotations

from . import config
from .errors import HlfgenError
from .ir import Model, RecurrentLayer


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
            raise HlfgenError(f"{what} has rank {len(info.shape)}; hlfgen supports rank up to {config.MAX_RANK}",
                              node, op)
