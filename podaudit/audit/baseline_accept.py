"""``--write-baseline FILE --accept-findings``: a baseline that also accepts today's findings.

Every finding the next run on the same cluster would show becomes a suppression with a reason
and an expiry (the last day it applies), so a first run on a stock cluster starts clean and a
finding that is new afterwards is still reported. Decisions (docs/baselines.md):

- One suppression per (rule, node, path), the node and path written as exact globs and narrowed
  by the findings' ``fingerprints`` (rule, node, path and subject): a second problem of the same
  rule on the same file (a wrong owner after an accepted mode) is new, and so is a new file.
- The findings accepted are those of the next run *with this baseline*: the node rules and
  cluster rules run again with the recorded roles, so a pod left out of a role (seen on some of
  its nodes only) is accepted as PA501 where it runs, and nothing is accepted that the next run
  would not report (which would be noted as a suppression that matched nothing).
- Nodes that could not be read (PA9xx) are accepted too, each with a comment saying what it
  hides: they carry the same reason and expiry, so they come back when it passes.
- Suppressions of the baseline the run used (``--baseline``) that matched a finding are kept
  as written, with their own reason and expiry; findings they cover are not accepted again.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import groupby
from typing import TYPE_CHECKING

from podaudit.audit.baseline import parse_baseline
from podaudit.audit.baseline_record import build_baseline, plain, quoted
from podaudit.audit.context import ClusterContext, NodeContext
from podaudit.audit.registry import Category, Finding, category_of, run_cluster_rules, run_node_rules
from podaudit.errors import InputError

if TYPE_CHECKING:
    from podaudit.audit.baseline import Baseline
    from podaudit.audit.engine import AuditResult
    from podaudit.audit.suppressions import Suppression

DEFAULT_DAYS = 90
MAX_DAYS = 365  # accepted findings are looked at again within a year
MAX_REASON = 500
_DAYS = re.compile(r"([0-9]{1,6})d")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Acceptance:
    """What ``--accept-findings`` writes on each suppression: a reason and the last day."""

    reason: str
    expires: date

    @classmethod
    def parse(cls, reason: str | None, until: str | None, today: date) -> Acceptance:
        """``--reason`` (default: "accepted with --accept-findings on <today>") and ``--expires``
        (``2027-03-01``, or a number of days ``90d``; default 90 days): the last day must be
        after today and at most a year away. InputError in one line otherwise."""
        return cls(_reason(reason, today), _expires(until, today))


def _reason(reason: str | None, today: date) -> str:
    if reason is None:
        return f"accepted with --accept-findings on {today.isoformat()}"
    text = reason.strip()
    if not text:
        raise InputError("--reason is empty: say why these findings are accepted")
    if not text.isprintable():
        raise InputError("--reason must be one line of printable text")
    if len(text) > MAX_REASON:
        raise InputError(f"--reason is {len(text)} characters long; keep it under {MAX_REASON} (link a ticket)")
    return text


def _expires(until: str | None, today: date) -> date:
    if until is None:
        return today + timedelta(days=DEFAULT_DAYS)
    text = until.strip().lower()
    shown = until.strip()[:40].encode("unicode_escape").decode("ascii")  # one printable line
    days = _DAYS.fullmatch(text)
    try:
        last = today + timedelta(days=int(days.group(1))) if days else None
        if last is None and _DATE.fullmatch(text):
            last = date.fromisoformat(text)
    except (ValueError, OverflowError):
        last = None
    if last is None:
        raise InputError(f"--expires {shown}: give the last day (YYYY-MM-DD, like 2027-03-01) or a number of "
                         f"days (like {DEFAULT_DAYS}d)")
    if last <= today:
        raise InputError(f"--expires {shown}: the last day must be after today ({today.isoformat()})")
    if last > today + timedelta(days=MAX_DAYS):
        raise InputError(f"--expires {shown}: more than a year away; accept findings for at most {MAX_DAYS}d "
                         f"(until {(today + timedelta(days=MAX_DAYS)).isoformat()}) and look at them again")
    return last


def accepting_baseline(result: AuditResult, accept: Acceptance) -> str:
    """The baseline of the run (build_baseline) with every finding the next run would show
    accepted (see the module's decisions)."""
    recorded = parse_baseline(build_baseline(result.contexts), "the recorded baseline")
    kept = _kept(result.suppressed)
    read = {c.node for c in result.contexts}
    shown = findings_under(result.contexts, recorded)
    # Nodes not read this time (PA901...) and an API never asked: only the run knows them.
    shown += [f for f in result.findings + [f for f, _ in result.suppressed] if f.node not in read]
    unique = {f.fingerprint: f for f in shown if not any(s.matches(f) for s in kept)}
    lines = [line for s in kept for line in _kept_lines(s)]
    if unique:
        lines += [f"  # Accepted with --accept-findings until {accept.expires.isoformat()} (the last day): each entry "
                  "names its findings by fingerprint,",
                  "  # so a new finding is still reported. Fix what you can and delete its entry."]
        lines += _accepted_lines(sorted(unique.values(), key=_place), accept)
    return build_baseline(result.contexts, suppress=lines)


def findings_under(contexts: list[NodeContext], baseline: Baseline) -> list[Finding]:
    """The findings of the nodes read, audited again as the next run with ``baseline`` would
    (its expectations per role; the roles the run gave the nodes, which the baseline lists)."""
    renewed = [replace(c, expected=baseline.expect(c.role)) for c in contexts]
    api = next((c.api for c in contexts if c.api is not None), None)
    errors: list[str] = []
    found = [f for ctx in renewed for f in run_node_rules(ctx, errors)]
    return found + run_cluster_rules(ClusterContext(renewed, [], baseline, api), errors)


def _kept(suppressed: list[tuple[Finding, Suppression]]) -> list[Suppression]:
    unique: list[Suppression] = []
    for _, suppression in suppressed:
        if suppression not in unique:
            unique.append(suppression)
    return unique


def _kept_lines(s: Suppression) -> list[str]:
    lines = [f"  # kept from the baseline this run used: {plain(s.describe())}",
             f"  - id: {s.id}", f"    node: {quoted(s.node)}"]
    if s.path is not None:
        lines.append(f"    path: {quoted(s.path)}")
    if s.fingerprints:
        lines.append(f"    fingerprints: [{', '.join(quoted(p) for p in s.fingerprints)}]")
    lines.append(f"    reason: {quoted(s.reason)}")
    if s.expires is not None:
        lines.append(f"    expires: {s.expires.isoformat()}")
    return lines


def _place(found: Finding) -> tuple[str, str, str, str]:
    return found.id, found.node, found.path or "", found.fingerprint


def _accepted_lines(findings: list[Finding], accept: Acceptance) -> list[str]:
    lines: list[str] = []
    for (rule_id, node, path), group in groupby(findings, key=lambda f: (f.id, f.node, f.path)):
        members = list(group)
        if category_of(members[0]) is Category.NOT_AUDITED:
            lines.append(f"  # NOT AUDITED ({rule_id}): until {accept.expires.isoformat()} this hides that "
                         f"{plain(node, 80)} could not be audited, or only in part")
        lines += [f"  # {plain(f.message)}" for f in members]
        lines += [f"  - id: {rule_id}", f"    node: {quoted(exact_glob(node))}"]
        if path is not None:
            lines.append(f"    path: {quoted(exact_glob(path))}")
        lines += [f"    fingerprints: [{', '.join(quoted(f.fingerprint) for f in members)}]",
                  f"    reason: {quoted(accept.reason)}", f"    expires: {accept.expires.isoformat()}"]
    return lines


def exact_glob(text: str) -> str:
    """A suppression glob that matches ``text`` only: ``*``, ``?`` and ``[`` escaped, and
    leading or trailing white space bracketed, which the baseline reader would strip."""
    escaped = glob.escape(text)
    start = len(escaped) - len(escaped.lstrip())
    end = max(start, len(escaped.rstrip()))
    return ("".join(f"[{ch}]" for ch in escaped[:start]) + escaped[start:end]
            + "".join(f"[{ch}]" for ch in escaped[end:]))
