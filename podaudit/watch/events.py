"""What ``podaudit watch`` reports: one event per change of what a node's kubelet runs.

An event is data (``to_json`` is the JSON line of ``-o jsonl``, docs/watch.md); the loop
(``watch/loop.py``) makes them, the sinks (report/events.py, report/metrics.py, the --exec
hook) only read them. Everything in an event came from a node: hostile text, escaped by each
sink for its medium (the JSON line keeps it exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from podaudit.model import WATCH_EVENT_KINDS, WatchEventKind

if TYPE_CHECKING:
    from podaudit.audit.registry import Finding
    from podaudit.kubelet.resolve import NodeView

EventKind = WatchEventKind
EVENT_KINDS: tuple[EventKind, ...] = WATCH_EVENT_KINDS


@dataclass(frozen=True)
class FindingChange:
    """A finding that appeared or cleared with an event (its stable fingerprint, as in JSON)."""

    id: str
    severity: str
    path: str | None
    message: str
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "path": self.path, "message": self.message,
                "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class WatchEvent:
    """One change on one node. ``time`` is RFC 3339 UTC with milliseconds."""

    time: str
    node: str
    event: EventKind
    path: str | None = None
    pod: str | None = None  # namespace/name of the static pod the file defines
    mirror: str | None = None  # the mirror pod's name in the API (<name>-<node>)
    sha256: str | None = None  # the file's bytes now (None: gone or unreadable)
    previous_sha256: str | None = None  # before the change (None: it did not exist)
    appeared: tuple[FindingChange, ...] = ()
    cleared: tuple[FindingChange, ...] = ()
    suppressed: bool = False  # a baseline suppression (with a window) silences it
    detail: dict[str, Any] = field(default_factory=dict)  # per kind: old/new path, pids, counts, reason

    def to_json(self) -> dict[str, Any]:
        """The JSON line (docs/watch.md): the issue's keys first, then the rest."""
        return {"time": self.time, "node": self.node, "event": self.event, "path": self.path, "pod": self.pod,
                "sha256": self.sha256, "previous_sha256": self.previous_sha256,
                "findings": {"appeared": [f.to_json() for f in self.appeared],
                             "cleared": [f.to_json() for f in self.cleared]},
                "mirror": self.mirror, "suppressed": self.suppressed, "detail": self.detail}


class Sink(Protocol):
    """Where the loop sends what it learns: each event, and each node's state after each
    reading (for the metrics: static pods by state, findings, the last good read)."""

    def emit(self, event: WatchEvent) -> None:
        ...

    def state(self, node: str, view: NodeView | None, findings: Sequence[Finding],
              suppressed: Sequence[Finding] = ()) -> None:
        """``view`` None: the node could not be read this time (its last view still stands);
        ``suppressed``: the findings its baseline silences."""
        ...

    def close(self) -> None:
        ...
