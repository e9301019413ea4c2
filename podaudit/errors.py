"""The two failures that cross podaudit's layers: bad input from the user (exit 2), and a
node that could not be audited (one line naming it; the rest of a sweep goes on)."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a one-line message, exit code 2."""


class NodeUnavailable(Exception):
    """A node that could not be audited; ``kind`` says why (unreachable, host-key-unknown, ...)."""

    def __init__(self, node: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.node, self.kind, self.message = node, kind, message
