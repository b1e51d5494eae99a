"""The one exception type users see: a one-line message naming the node."""

from __future__ import annotations


class HlfgenError(Exception):
    """A problem with the user's model or arguments (CLI: one line, exit 2)."""

    def __init__(self, message: str, node: str | None = None, op: str | None = None):
        self.node = node
        self.op = op
        where = ""
        if node is not None:
            where = f"node '{node}'" + (f" ({op})" if op else "") + ": "
        super().__init__(where + message)


class CheckFailed(Exception):
    """Outputs of the compiled model differ from the oracle (CLI: exit 1)."""
