"""Which nodes break streaming (<name>_step: forward with T = 1, state kept
only in the recurrent layers).

A node is per step when each step of its output depends only on that step
of its inputs.  Two kinds of node are not:

* nodes that mix time steps themselves (Softmax/ArgMax over T, Concat along
  T, Gather/Slice of steps other than the last): their handlers set
  ``attrs["no_stream"]``;
* nodes that combine a *summary of the sequence* with per-step data.  A
  summary has no T axis but depends on every step: a layer's Y_h / Y_c, the
  last step ``y[-1]`` (``attrs["last_step"]``), and everything computed from
  them alone.  Streamed, step t would see the summary after step t, not the
  final one (e.g. ``Y - Y_h``, or ``Expand(Y_h, Shape(Y))``).  Summaries on
  their own stream fine: after the last step they equal the whole run's.

``mark(model)`` sets ``attrs["no_stream"]`` on nodes of the second kind.
"""

from __future__ import annotations

from .. import dims as D
from ..ir import Model, Node, RecurrentLayer


def mark(model: Model) -> None:
    summary: set[str] = set()

    def has_t(name: str) -> bool:
        info = model.tensors.get(name)
        return info is not None and any(isinstance(d, D.Dim) for d in info.shape)

    for op in model.ops:
        if isinstance(op, RecurrentLayer):
            summary.update(n for n in (op.y_h, op.y_c) if n)
            continue
        if not isinstance(op, Node):
            continue
        from_summary = any(n in summary for n in op.inputs)
        if from_summary and any(has_t(n) for n in list(op.inputs) + list(op.outputs)):
            op.attrs["no_stream"] = True
        if from_summary or op.attrs.get("last_step"):
            summary.update(op.outputs)
