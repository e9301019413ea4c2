"""The two failures raised inside podaudit: bad input from the user (exit 2), and a node that
could not be audited. The second is raised only inside transports and collectors; what
crosses into run/, audit/ and report/ is its value, ``model.NodeFailure``."""

from __future__ import annotations

from podaudit.model import FailureKind, NodeFailure


class InputError(Exception):
    """Bad input from the user: a one-line message, exit code 2."""


class NodeUnavailable(Exception):
    """A node that could not be audited; ``kind`` says why."""

    def __init__(self, node: str, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.node, self.kind, self.message = node, kind, message

    @property
    def failure(self) -> NodeFailure:
        return NodeFailure(self.node, self.kind, self.message)
