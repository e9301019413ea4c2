"""Suppressions: findings accepted on purpose, with a reason and perhaps a last day.

A baseline file carries them (its ``suppress:`` list, read by baseline.py); the engine
applies them to a run's findings. Matching: ``node`` and ``path`` are shell globs (fnmatch,
case-sensitive; ``*`` also crosses ``/``); ``node`` defaults to ``*``, an omitted ``path``
matches any path, including findings that name none. ``fingerprints``, when given, narrows
it to those findings only (a finding's fingerprint: rule, node, path and subject, stable across
runs), which is how ``--accept-findings`` records today's findings and no future ones.
``expires`` is the last day a suppression applies; after it the finding is reported again and
a note names the suppression.

``until`` (an RFC 3339 time) ends a suppression at that moment instead, for windows of hours.
A suppression whose ``id`` is a ``podaudit watch`` event kind (``manifest-changed``: an
expected kube-apiserver rewrite during an upgrade) silences those events, not findings: the
watcher marks them ``suppressed`` (``silences``); findings never match it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

from podaudit.audit.registry import Finding
from podaudit.model import WATCH_EVENT_KINDS

# A suppression whose id is one of these silences ``podaudit watch`` events, not findings.
EVENT_IDS = frozenset(WATCH_EVENT_KINDS)


@dataclass(frozen=True)
class Suppression:
    """An accepted finding: rule ``id`` on nodes matching ``node`` at paths matching ``path``."""

    id: str
    node: str  # fnmatch glob, "*" = any
    path: str | None  # fnmatch glob; None or "*" = any (also findings without a path)
    reason: str
    expires: date | None  # last day it applies
    fingerprints: tuple[str, ...] = ()  # () = any finding; else only these findings
    until: datetime | None = None  # the moment it ends (aware), for windows of hours

    @property
    def for_events(self) -> bool:
        """It silences ``podaudit watch`` events (its id is an event kind), not findings."""
        return self.id in EVENT_IDS

    def matches(self, finding: Finding) -> bool:
        if finding.id != self.id or not fnmatch.fnmatchcase(finding.node, self.node):
            return False
        if self.fingerprints and finding.fingerprint not in self.fingerprints:
            return False
        if self.path is None or self.path == "*":
            return True
        return finding.path is not None and fnmatch.fnmatchcase(finding.path, self.path)

    def expired(self, today: date, now: datetime | None = None) -> bool:
        if self.until is not None and (now or datetime.now(timezone.utc)) > self.until:
            return True
        return self.expires is not None and self.expires < today

    def silences(self, event: str, node: str, path: str | None, now: datetime) -> bool:
        """This event kind on this node at this path, while the window lasts."""
        if event != self.id or self.expired(now.date(), now) or not fnmatch.fnmatchcase(node, self.node):
            return False
        if self.path is None or self.path == "*":
            return True
        return path is not None and fnmatch.fnmatchcase(path, self.path)

    def describe(self) -> str:
        where = f"node {self.node}" + (f" path {self.path}" if self.path is not None else "")
        if self.fingerprints:
            count = len(self.fingerprints)
            where += f", {count} recorded finding{'s' if count > 1 else ''}"
        return f"{self.id} on {where} ({self.reason})"


def apply_suppressions(suppressions: Sequence[Suppression], source: str, findings: Iterable[Finding], today: date
                       ) -> tuple[list[Finding], list[tuple[Finding, Suppression]], list[str]]:
    """Split findings into kept and suppressed (with the suppression that matched).

    An expired suppression no longer applies; the notes (each starting with ``source``, the
    file the suppressions came from) name it, and every live suppression that matched nothing
    (stale, or a typo that would hide nothing)."""
    notes: list[str] = []
    active: list[Suppression] = []
    for suppression in suppressions:
        if suppression.for_events:
            continue  # the watcher's (silences): no finding has an event kind as its id
        if suppression.expired(today):
            ended = suppression.until.isoformat() if suppression.until is not None else suppression.expires
            notes.append(f"{source}: the suppression of {suppression.describe()} expired on "
                         f"{ended}; its findings are reported again")
        else:
            active.append(suppression)
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, Suppression]] = []
    used: set[int] = set()
    for found in findings:
        index = next((i for i, s in enumerate(active) if s.matches(found)), None)
        if index is None:
            kept.append(found)
        else:
            used.add(index)
            suppressed.append((found, active[index]))
    notes += [f"{source}: the suppression of {s.describe()} matched no finding; remove it if the "
              "problem is gone" for i, s in enumerate(active) if i not in used]
    return kept, suppressed, notes
