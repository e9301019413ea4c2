"""The watch loop: one thread per node (read, watch, wait, debounce, read again) and the
fleet they report to (events, findings re-audited over every node's latest view, sinks).

The truth is always a fresh reading: a feed only says that something may have changed, so a
burst of 10,000 files costs one reading (the debounce merges the feed's changes) and a bounded
number of events (``MAX_MANIFEST_EVENTS`` per reading, the rest one ``coalesced`` event that
counts them all).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from podaudit.watch.events import Sink, WatchEvent
from podaudit.watch.feed import Change, ChangeFeed
from podaudit.watch.paths import feed_paths
from podaudit.watch.tracker import Tracker, attach_findings, diff_findings

if TYPE_CHECKING:
    from podaudit.audit.baseline import Baseline
    from podaudit.audit.registry import Finding
    from podaudit.collect.source import NodeResult

IDLE_WAIT = 2.0  # seconds a node's thread sleeps between looks at the stop flag
DEBOUNCE = 0.15  # seconds of quiet that end a burst (an editor's write + rename is one change)
MAX_DEBOUNCE = 2.0  # a burst that never goes quiet is read after this anyway
MAX_MANIFEST_EVENTS = 50  # more manifest events from one reading: one coalesced event
MAX_RETRY = 60.0  # seconds between readings of a node that stays unreachable
LISTED_PATHS = 50  # paths a coalesced event names (its counts cover them all)
_MANIFEST_KINDS = ("manifest-added", "manifest-changed", "manifest-removed")


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def coalesce(events: list[WatchEvent], now: str) -> list[WatchEvent]:
    """Past MAX_MANIFEST_EVENTS manifest events, one ``coalesced`` event: counts per kind,
    the first LISTED_PATHS paths, how many more."""
    manifests = [e for e in events if e.event in _MANIFEST_KINDS]
    if len(manifests) <= MAX_MANIFEST_EVENTS:
        return events
    counts = {kind: sum(1 for e in manifests if e.event == kind) for kind in _MANIFEST_KINDS}
    paths = [e.path for e in manifests[:LISTED_PATHS]]
    node = manifests[0].node
    summary = WatchEvent(now, node, "coalesced", detail={"counts": counts, "total": len(manifests),
                                                         "paths": paths, "paths_left_off": len(manifests) - len(paths)})
    return [e for e in events if e.event not in _MANIFEST_KINDS] + [summary]


@dataclass
class Fleet:
    """What every node's thread reports to: trackers, the latest readings, findings, sinks.
    One lock: events reach the sinks one at a time, in order."""

    sinks: Sequence[Sink]
    baseline: Baseline | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    trackers: dict[str, Tracker] = field(default_factory=dict)
    latest: dict[str, NodeResult] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    suppressed: dict[str, list[Finding]] = field(default_factory=dict)  # by the baseline, per node (metrics)
    counts: dict[str, int] = field(default_factory=dict)  # events emitted by kind (for the summary line)
    # The kubelet's name for each watched node (what sweep, the API and mirror pods call it),
    # once a reading said it; until then the name the node was reached as.
    shown: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    def close(self) -> None:
        """No more events; each sink closed (the --exec queue drained, files flushed)."""
        with self.lock:
            self.closed = True
        for sink in self.sinks:
            sink.close()

    def reading(self, node: str, result: NodeResult) -> list[WatchEvent]:
        """One node read (or not): its events, findings re-audited, all sent to the sinks."""
        now = now_rfc3339()
        with self.lock:
            if self.closed:
                return []  # a thread that outlived the stop (a reading in flight): its sinks are gone
            tracker = self.trackers.setdefault(node, Tracker(node))
            events = coalesce(tracker.update(result, now), now)
            if result.view is not None:
                self.latest[node] = result
                self.shown[node] = result.node
            by_node = self._audit()
            out: list[WatchEvent] = []
            for name in sorted(by_node.keys() | self.findings.keys()):
                appeared, cleared = diff_findings(self.findings.get(name, []), by_node.get(name, []))
                if name == node:
                    events = attach_findings(events, node, now, appeared, cleared)
                elif name in self.latest and (appeared or cleared):  # drift: another node's findings moved
                    out += attach_findings([], name, now, appeared, cleared)
            self.findings = by_node
            out = [self._silenced(replace(e, node=self.shown.get(e.node, e.node))) for e in [*events, *out]]
            for event in out:
                self.counts[event.event] = self.counts.get(event.event, 0) + 1
                for sink in self.sinks:
                    sink.emit(event)
            for sink in self.sinks:
                sink.state(self.shown.get(node, node), result.view, self.findings.get(node, []),
                           self.suppressed.get(node, []))
            return out

    def _audit(self) -> dict[str, list[Finding]]:
        """Findings of every node's latest view, as sweep finds them (cluster rules included),
        by the watch's name for each node."""
        if not self.latest:
            return {}
        from podaudit.audit.engine import audit
        from podaudit.collect.source import SweepResult

        named = {result.node: node for node, result in self.latest.items()}
        try:
            found = audit(SweepResult(list(self.latest.values())), self.baseline)
        except Exception:  # a rule's bug must not stop the watch; the files' events still go out
            return dict(self.findings)
        by_node: dict[str, list[Finding]] = {node: [] for node in self.latest}
        for finding in found.findings:
            if finding.node in named:
                by_node[named[finding.node]].append(finding)
        self.suppressed = {node: [] for node in self.latest}
        for finding, _ in found.suppressed:
            if finding.node in named:
                self.suppressed[named[finding.node]].append(finding)
        return by_node

    def _silenced(self, event: WatchEvent) -> WatchEvent:
        if self.baseline is None:
            return event
        moment = datetime.now(timezone.utc)
        for suppression in self.baseline.suppressions:
            if suppression.for_events and suppression.silences(event.event, event.node, event.path, moment):
                return replace(event, suppressed=True)
        return event


@dataclass
class NodeLoop:
    """One node: read, tell the feed what to watch, wait, debounce, read again."""

    name: str
    read: Callable[[], NodeResult]
    feed: ChangeFeed
    fleet: Fleet
    stop: threading.Event
    slots: threading.BoundedSemaphore  # --concurrency: readings at once
    interval: float = 1.0
    live_kubelet: bool = True
    armed: frozenset[str] = frozenset()
    recheck: bool = False
    failures: int = 0  # readings failed in a row

    def read_once(self) -> NodeResult:
        """Read, arm the feed, then emit: an event says the node is watched from then on (a
        program that acts on ``watching`` loses no change)."""
        with self.slots:
            result = self.read()
        self._arm(result)
        self.fleet.reading(self.name, result)
        return result

    def run(self) -> None:
        try:
            result = self.read_once()
            while not self.stop.is_set():
                # New paths (a new static pod folder) were armed after the reading that found
                # them: a file that landed there in between is caught by one more reading.
                if self.recheck or self._next_change(result) is not None:
                    self.recheck = False
                    result = self.read_once()
        except Exception as exc:  # a bug or a dead feed ends this node's watch, in one line, not the others'
            from podaudit.collect.source import NodeResult
            from podaudit.model import FailureKind, NodeFailure

            reason = f"{self.name}: the watch of this node stopped: {type(exc).__name__}: {exc}; restart podaudit watch"
            with contextlib.suppress(Exception):  # the sink itself failed (a closed pipe): nothing to tell
                self.fleet.reading(self.name, NodeResult.failed(NodeFailure(self.name, FailureKind.ERROR, reason)))
        finally:
            self.feed.close()

    def _arm(self, result: NodeResult) -> None:
        view = result.view
        if view is None:
            return  # the last good paths stay watched
        process = view.invocation.process
        paths = feed_paths(view)
        self.feed.watch(paths, process.pid if process is not None and self.live_kubelet else None)
        # Manifests come and go inside a folder already watched; only new settings paths
        # (a new static pod folder, config, unit) were armed late.
        now = frozenset(paths) - {entry.path for entry in view.entries}
        self.recheck = bool(self.armed) and not now <= self.armed
        self.armed = now

    def _next_change(self, result: NodeResult) -> Change | None:
        """The next change, merged with those that follow within DEBOUNCE; None when it is time
        to stop, or (a node that could not be read) to try again."""
        # A node that could not be read is tried again, less often while it stays away
        # (its feed, if it can tell, says when it is back sooner).
        self.failures = self.failures + 1 if result.view is None else 0
        pause = min(MAX_RETRY, self.interval * 2 ** min(self.failures - 1, 10))
        retry = time.monotonic() + pause if result.view is None else None
        while not self.stop.is_set():
            # The feed wakes this at once on a change; the timeout only bounds how late a stop
            # is seen (idle wake-ups are most of an idle watch's CPU: docs/watch.md, Measured).
            first = self.feed.wait(IDLE_WAIT if retry is None else max(0.0, min(IDLE_WAIT, retry - time.monotonic())))
            if first is not None:
                return merge_burst(first, self.feed, self.stop)
            if retry is not None and time.monotonic() >= retry:
                return Change()
        return None


def merge_burst(first: Change, feed: ChangeFeed, stop: threading.Event) -> Change:
    """``first`` and every change within DEBOUNCE of the last, up to MAX_DEBOUNCE."""
    paths: dict[str, None] = dict.fromkeys(first.paths)
    merged: dict[str, Any] = {"kubelet": first.kubelet, "overflow": first.overflow, "back": first.back,
                              "lost": first.lost}
    end = time.monotonic() + MAX_DEBOUNCE
    while not stop.is_set() and time.monotonic() < end:
        more = feed.wait(min(DEBOUNCE, end - time.monotonic()))
        if more is None:
            break
        if len(paths) < LISTED_PATHS:
            paths.update(dict.fromkeys(more.paths))
        for key in ("kubelet", "overflow", "back"):
            merged[key] = merged[key] or getattr(more, key)
        merged["lost"] = more.lost or merged["lost"]
    return Change(paths=tuple(paths)[:LISTED_PATHS], **merged)


def run_fleet(loops: Sequence[NodeLoop], stop: threading.Event, seconds: float | None, once: bool) -> None:
    """Every node's loop in its own thread until ``stop`` (or ``seconds`` pass); ``once``:
    each node read once. Ctrl-C in the main thread sets ``stop`` and joins the threads."""
    if once:
        threads = [threading.Thread(target=loop.read_once, name=f"read {loop.name}", daemon=True) for loop in loops]
    else:
        threads = [threading.Thread(target=loop.run, name=f"watch {loop.name}", daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    end = None if seconds is None else time.monotonic() + seconds
    try:
        while any(t.is_alive() for t in threads):
            left = 0.5 if end is None else min(0.5, end - time.monotonic())
            if left <= 0:
                break
            threads[0].join(left) if len(threads) == 1 else time.sleep(left)
    finally:
        stop.set()
        # 5 s in all: a reading in flight ends at its own timeout, and the threads are daemons:
        # one stuck on a dead node never holds the exit.
        give_up = time.monotonic() + 5.0
        for thread in threads:
            thread.join(max(0.0, give_up - time.monotonic()))
        if once:
            for loop in loops:
                loop.feed.close()

