"""Successive readings of one node as events (pure: no I/O, no clock but the one given).

A reading is a ``NodeResult``: the node's view, or why it could not be read. The tracker keeps
the last view and says what changed since: each file the kubelet reads in its static pod path
(added, changed, removed; a rename is one removed and one added, as the kubelet's file source
sees it: pkg/kubelet/config/file_linux.go), the static pod settings, the kubelet process, and
whether the node went away or came back. Findings are diffed by fingerprint (``diff_findings``)
by the loop, which re-audits every node's latest view together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from podaudit.watch.events import EventKind, FindingChange, WatchEvent
from podaudit.watch.paths import watch_paths

if TYPE_CHECKING:
    from podaudit.audit.registry import Finding
    from podaudit.collect.source import NodeResult
    from podaudit.kubelet.resolve import NodeView

MAX_FINDINGS = 100  # findings listed per event, each way
LISTED_FILES = 20  # settings files named by one settings-changed event
_SETTINGS_KINDS = ("kubelet-config", "kubelet-config-dir", "systemd-unit", "env-file")


@dataclass(frozen=True)
class FileState:
    """One file the kubelet reads: its bytes' hash and the pod it defines, if any."""

    sha256: str | None
    pod: str | None
    mirror: str | None


@dataclass(frozen=True)
class Reading:
    """What the tracker keeps of a view: little, so a 10,000-file directory costs little."""

    files: dict[str, FileState]
    path: str | None
    source: str
    pid: int | None
    start_time: float | None
    argv: tuple[str, ...] | None
    restart_pending: bool
    settings: dict[str, str | None]  # the config, drop-ins, unit and env files: sha256 (None: absent)


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def reading_of(view: NodeView) -> Reading:
    files = {}
    for entry in view.entries:
        if entry.fate == "ignored":  # dot-files, directories: the kubelet never reads them
            continue
        pod = entry.pod
        files[entry.path] = FileState(_sha(entry.record.data), f"{pod.namespace}/{pod.name}" if pod else None,
                                      pod.mirror_name if pod else None)
    settings = {}
    for kind, path in watch_paths(view):
        if kind in _SETTINGS_KINDS:
            record = view.records.get(path)
            settings[path] = _sha(record.data) if record is not None else None
    process = view.invocation.process
    return Reading(files, view.static_pod_path.value, view.static_pod_path.source,
                   process.pid if process else None, process.start_time if process else None,
                   process.argv if process else None, bool(view.restart_pending), settings)


@dataclass
class Tracker:
    """One node's last reading; ``update`` turns the next one into events."""

    node: str
    last: Reading | None = None
    lost: str | None = None  # why the node could not be read, while it cannot
    events: list[WatchEvent] = field(default_factory=list)

    def update(self, result: NodeResult, now: str) -> list[WatchEvent]:
        self.events = []
        if result.view is None:
            reason = result.failure.message if result.failure else "could not be read"
            if self.lost is None:
                self.lost = reason
                kind = result.failure.kind.value if result.failure else "error"
                self._add(now, "node-unreachable", detail={"reason": reason, "kind": kind})
            return self.events
        if self.lost is not None:
            self._add(now, "node-back", detail={"was": self.lost})
            self.lost = None
        new = reading_of(result.view)
        if self.last is None:
            self._add(now, "watching", path=new.path, detail={"source": new.source, "files": len(new.files),
                                                              "kubelet_pid": new.pid})
        else:
            self._settings(now, self.last, new)
            self._kubelet(now, self.last, new)
            self._files(now, self.last.files, new.files)
        self.last = new
        return self.events

    def _add(self, now: str, kind: EventKind, path: str | None = None, state: FileState | None = None,
             before: FileState | None = None, detail: dict[str, Any] | None = None) -> None:
        named = state or before
        self.events.append(WatchEvent(now, self.node, kind, path, named.pod if named else None,
                                      named.mirror if named else None, state.sha256 if state else None,
                                      before.sha256 if before else None, detail=detail or {}))

    def _settings(self, now: str, old: Reading, new: Reading) -> None:
        """The static pod path, what set it, or a file that sets the kubelet's settings changed
        (a restart pending: the files say what the running kubelet does not, yet)."""
        every = old.settings.keys() | new.settings.keys()
        files = sorted(p for p in every if old.settings.get(p) != new.settings.get(p))
        moved = (old.path, old.source) != (new.path, new.source)
        if moved or files or (new.restart_pending and not old.restart_pending):
            self._add(now, "settings-changed", path=new.path,
                      detail={"old_path": old.path, "new_path": new.path, "old_source": old.source,
                              "new_source": new.source, "restart_pending": new.restart_pending,
                              "files": files[:LISTED_FILES]})

    def _kubelet(self, now: str, old: Reading, new: Reading) -> None:
        if (old.pid, old.start_time) == (new.pid, new.start_time):
            return
        self._add(now, "kubelet-restarted", detail={"old_pid": old.pid, "new_pid": new.pid,
                                                    "running": new.pid is not None,
                                                    "argv_changed": old.argv != new.argv})

    def _files(self, now: str, old: dict[str, FileState], new: dict[str, FileState]) -> None:
        for path in sorted(old.keys() - new.keys()):
            self._add(now, "manifest-removed", path, before=old[path])
        for path in sorted(new.keys() - old.keys()):
            self._add(now, "manifest-added", path, state=new[path])
        for path in sorted(old.keys() & new.keys()):
            if old[path] != new[path]:
                self._add(now, "manifest-changed", path, state=new[path], before=old[path])


def finding_change(finding: Finding) -> FindingChange:
    return FindingChange(finding.id, finding.severity, finding.path, finding.message, finding.fingerprint)


def diff_findings(before: Iterable[Finding], after: Iterable[Finding]
                  ) -> tuple[tuple[FindingChange, ...], tuple[FindingChange, ...]]:
    """(appeared, cleared), by fingerprint, in a stable order."""
    old = {f.fingerprint: f for f in before}
    new = {f.fingerprint: f for f in after}
    appeared = tuple(finding_change(new[k]) for k in sorted(new.keys() - old.keys()))
    cleared = tuple(finding_change(old[k]) for k in sorted(old.keys() - new.keys()))
    return appeared, cleared


def attach_findings(events: Sequence[WatchEvent], node: str, now: str, appeared: tuple[FindingChange, ...],
                    cleared: tuple[FindingChange, ...]) -> list[WatchEvent]:
    """The reading's events with the findings that appeared or cleared on the first of them
    (or one findings-changed event when the reading had none). Past MAX_FINDINGS each, the
    rest are counted in ``detail.findings_left_off`` (10,000 planted files are 10,000 findings:
    one line must stay a line)."""
    if not appeared and not cleared:
        return list(events)
    first = events[0] if events else WatchEvent(now, node, "findings-changed")
    detail = dict(first.detail)
    if len(appeared) > MAX_FINDINGS or len(cleared) > MAX_FINDINGS:
        detail["findings_left_off"] = {"appeared": max(0, len(appeared) - MAX_FINDINGS),
                                       "cleared": max(0, len(cleared) - MAX_FINDINGS)}
    first = replace(first, appeared=appeared[:MAX_FINDINGS], cleared=cleared[:MAX_FINDINGS], detail=detail)
    return [first, *events[1:]]
