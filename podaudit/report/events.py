"""Sinks of ``podaudit watch`` events for people and programs: JSON lines, the live terminal view.

JSON lines (``-o jsonl``, ``--report jsonl=FILE``): one object per event (watch/events.py
``to_json``), one line each, flushed per event so ``tail -f`` and a log shipper see it at
once. ASCII only (``\\u001b``, not ESC): a line printed as it is can never drive a terminal.

The terminal view (``-o table``): each event as one line, scrolling, above a live table of
the nodes (static pod path, pods, the last event, findings by severity). Everything from a
node goes through SafeConsole (report/console.py), which escapes control characters.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from podaudit.errors import InputError
from podaudit.report.console import SafeConsole, plain
from podaudit.watch.events import WatchEvent

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    from podaudit.audit.registry import Finding
    from podaudit.kubelet.resolve import NodeView


def event_line(event: WatchEvent) -> str:
    return json.dumps(event.to_json(), ensure_ascii=True, separators=(",", ":")) + "\n"


class JsonlSink:
    """Each event as a JSON line to ``stream`` (stdout, or a --report file)."""

    def __init__(self, stream: IO[str], owned: bool = False) -> None:
        self.stream = stream
        self.owned = owned  # a --report file: closed with the sink

    @classmethod
    def append_to(cls, path: str) -> JsonlSink:
        """``--report jsonl=FILE``: appended to (a watch restarted keeps the earlier lines),
        line-buffered, created 0600 (events name files and findings of the fleet)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise InputError(f"--report jsonl={path}: {exc.strerror}") from exc
        return cls(os.fdopen(fd, "w", encoding="utf-8", buffering=1), owned=True)

    def emit(self, event: WatchEvent) -> None:
        self.stream.write(event_line(event))
        self.stream.flush()

    def state(self, node: str, view: NodeView | None, findings: Sequence[Finding],
              suppressed: Sequence[Finding] = ()) -> None:
        pass  # the events say it all

    def close(self) -> None:
        if self.owned:
            self.stream.close()


@dataclass
class _Row:
    path: str = "-"
    pods: int | None = None
    last: str = "-"
    findings: dict[str, int] = field(default_factory=dict)
    reachable: bool = True


_SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def describe(event: WatchEvent) -> Text:
    """One event as one line for people: time, node, kind, what (escaped by plain())."""
    from rich.text import Text

    line = Text()
    line.append(event.time[11:23] + " ", style="dim")
    line.append_text(plain(event.node, "bold"))
    line.append(" " + event.event, style="yellow" if event.event != "watching" else "green")
    if event.path:
        line.append(" ")
        line.append_text(plain(event.path))
    if event.pod:
        line.append(" pod ")
        line.append_text(plain(event.pod))
    detail = _detail(event)
    if detail:
        line.append(" (")
        line.append_text(plain(detail))
        line.append(")")
    if event.appeared or event.cleared:
        line.append(f" findings +{len(event.appeared)} -{len(event.cleared)}", style="magenta")
    if event.suppressed:
        line.append(" [suppressed]", style="dim")
    return line


def _detail(event: WatchEvent) -> str:
    detail: dict[str, Any] = event.detail
    if event.event == "settings-changed":
        pending = ", restart pending" if detail.get("restart_pending") else ""
        return f"{detail.get('old_path')} -> {detail.get('new_path')}{pending}"
    if event.event == "coalesced":
        counts = detail.get("counts", {})
        return f"{detail.get('total')} files: " + ", ".join(f"{n} {k.split('-')[1]}" for k, n in counts.items() if n)
    if event.event == "kubelet-restarted":
        return f"pid {detail.get('old_pid')} -> {detail.get('new_pid')}"
    if event.event in ("node-unreachable", "node-back"):
        return str(detail.get("reason") or detail.get("was") or "")
    return ""


class LiveSink:
    """The terminal view: event lines scrolling above a live table of the nodes."""

    def __init__(self, console: SafeConsole | None = None) -> None:
        self.console = console or SafeConsole()
        self.rows: dict[str, _Row] = {}
        self.lock = threading.Lock()
        self.live: Live | None = None
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=self.console, auto_refresh=False, transient=False)
            self.live.start()

    def emit(self, event: WatchEvent) -> None:
        with self.lock:
            row = self.rows.setdefault(event.node, _Row())
            row.last = f"{event.time[11:19]} {event.event}"
            row.reachable = event.event != "node-unreachable" and (row.reachable or event.event == "node-back")
            self.console.print(describe(event))
            self._refresh()

    def state(self, node: str, view: NodeView | None, findings: Sequence[Finding],
              suppressed: Sequence[Finding] = ()) -> None:
        with self.lock:
            row = self.rows.setdefault(node, _Row())
            if view is not None:
                row.path = view.static_pod_path.value or "-"
                row.pods = len(view.static_pods)
            row.findings = {}
            for finding in findings:
                row.findings[finding.severity] = row.findings.get(finding.severity, 0) + 1
            self._refresh()

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._table(), refresh=True)

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(show_edge=False, pad_edge=False)
        for title in ("node", "static pod path", "pods", "last event", "findings"):
            table.add_column(title)
        for node in sorted(self.rows):
            row = self.rows[node]
            counts = ", ".join(f"{row.findings[s]} {s}" for s in _SEVERITY_ORDER if row.findings.get(s)) or "none"
            table.add_row(plain(node, "" if row.reachable else "red"), plain(row.path),
                          "-" if row.pods is None else str(row.pods), plain(row.last), counts)
        return table

    def close(self) -> None:
        with self.lock:
            if self.live is not None:
                self.live.stop()
                self.live = None
            elif self.rows:
                self.console.print(self._table())  # not a terminal: the final table once
