"""One SSH login per node for the whole of ``podaudit watch``, shared by the node's reader
(each re-reading is the gather script run over it, as ``podaudit node`` runs it) and its
change feed (the node-side loop on one more channel of it: watch/remote.py).

A login that fails or goes is dropped; the next use logs in again through the same
``login()`` as every other command, so host keys are checked as strictly as the first time
(a changed key is refused, whatever --accept-new-host-keys says).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Callable
from typing import cast

from podaudit.collect.over_ssh import SshNode, login
from podaudit.collect.passes import collect_view
from podaudit.collect.records import GatherError
from podaudit.collect.source import NodeResult, NodeSource, read_node
from podaudit.collect.witnesses import witness_budget
from podaudit.errors import NodeUnavailable
from podaudit.model import FailureKind, NodeFailure
from podaudit.transport import StreamingShell

# Failures that mean the login itself is gone (not a refused sudo, not a bad answer, not a
# slow script: a hung connection is the feed's to notice, by its silence).
LOST = frozenset({FailureKind.UNREACHABLE})


class Session:
    """The node's one login, opened when first needed, reopened after it is dropped."""

    def __init__(self, node: SshNode) -> None:
        self.node = node
        self.logins = 0  # how many times this watch logged in to the node
        self._lock = threading.Lock()
        self._shell: StreamingShell | None = None

    def shell(self) -> StreamingShell:
        """The open login; logs in when there is none. Raises NodeUnavailable."""
        with self._lock:
            if self._shell is None:
                shell = cast(StreamingShell, login(self.node.entry, self.node.options, self.node.sudo,
                                                   self.node.config))
                shell.__enter__()
                self.logins += 1
                self._shell = shell
            return self._shell

    def drop(self, shell: StreamingShell | None = None) -> None:
        """Close the login (only if it is still ``shell``, when given: another thread may
        already have replaced it)."""
        with self._lock:
            current = self._shell
            if current is None or (shell is not None and shell is not current):
                return
            self._shell = None
        with contextlib.suppress(OSError, NodeUnavailable):  # it was going anyway
            current.__exit__(None, None, None)

    def read(self) -> NodeResult:
        """The node read over the open login; never raises for the node's sake."""
        name = self.node.name
        start = time.monotonic()
        shell: StreamingShell | None = None
        try:
            shell = self.shell()
            _, view, execs = collect_view(shell.run, name, hints=self.node.hints,
                                          witness_budget=witness_budget(self.node.options.timeout))
        except NodeUnavailable as exc:
            if exc.kind in LOST:
                self.drop(shell)
            return NodeResult.failed(exc.failure, time.monotonic() - start)
        except GatherError as exc:
            return NodeResult.failed(NodeFailure(name, FailureKind.GATHER, f"{name}: {exc}"), time.monotonic() - start)
        except Exception as exc:  # a bug in one node's analysis costs that reading, as read_node says
            failure = NodeFailure(name, FailureKind.ERROR, f"{name}: {type(exc).__name__}: {exc}")
            return NodeResult.failed(failure, time.monotonic() - start)
        seconds = time.monotonic() - start
        view.collection = {"transport": "ssh", "logins": self.logins, "execs": execs, "seconds": round(seconds, 3)}
        return NodeResult.read(name, view, seconds)


_SESSIONS: dict[int, tuple[SshNode, Session]] = {}
_GUARD = threading.Lock()


def session_for(source: SshNode) -> Session:
    """The one session of this node (the same source object: the loop passes the reader and
    the feed the same one)."""
    with _GUARD:
        found = _SESSIONS.get(id(source))
        if found is None:
            found = (source, Session(source))
            _SESSIONS[id(source)] = found
        return found[1]


def release(source: SshNode) -> None:
    """Forget the node's session and close its login (the feed's close)."""
    with _GUARD:
        found = _SESSIONS.pop(id(source), None)
    if found is not None:
        found[1].drop()


@atexit.register
def _close_all() -> None:
    """A login still open at exit (a reader used after its feed closed) is closed."""
    with _GUARD:
        left = list(_SESSIONS.values())
        _SESSIONS.clear()
    for _, session in left:
        session.drop()


def persistent_reader(source: NodeSource) -> Callable[[], NodeResult]:
    """Re-reads the node over one login kept open (the feed's too); a source that is not
    reached over SSH is read as ``read_node`` reads it."""
    if not isinstance(source, SshNode):
        return lambda: read_node(source)
    return session_for(source).read
