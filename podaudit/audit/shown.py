"""What a report shows: ``--severity``, ``--rule`` and ``--skip-rule`` pick findings to display.

A pure filter on a copy of the audit: the exit code is computed from the unfiltered result
(run/status.py), so hiding a finding from the screen never hides it from CI.
"""

from __future__ import annotations

import dataclasses

from podaudit.audit.engine import AuditResult
from podaudit.audit.registry import SEVERITIES, Finding, Severity, load_all_rules
from podaudit.errors import InputError


def shown(findings: AuditResult, severities: frozenset[Severity] | None, rules: frozenset[str],
          skip_rules: frozenset[str]) -> AuditResult:
    """A copy of ``findings`` holding only the findings (and suppressed findings) to display:
    a severity in ``severities`` (None: any), a rule matching ``rules`` (empty: any) and none
    matching ``skip_rules``. Rules are IDs or prefixes ending in ``*`` (``PA2*``), as
    ``parse_rules`` gives them. Notes, roles, contexts and errors are kept as they are."""

    def wanted(finding: Finding) -> bool:
        return ((severities is None or finding.severity in severities)
                and (not rules or _matches(finding.id, rules)) and not _matches(finding.id, skip_rules))

    return dataclasses.replace(findings, findings=[f for f in findings.findings if wanted(f)],
                               suppressed=[pair for pair in findings.suppressed if wanted(pair[0])])


def _matches(rule_id: str, patterns: frozenset[str]) -> bool:
    return any(rule_id == p or (p.endswith("*") and rule_id.startswith(p[:-1])) for p in patterns)


def _words(text: str, what: str) -> list[str]:
    """The comma list's words, stripped; an empty list is an error (it would show nothing)."""
    words = [w.strip() for w in text.split(",")]
    if not any(words):
        raise InputError(f"{what}: empty; give a comma-separated list")
    return [w for w in words if w]


def parse_severities(text: str) -> frozenset[Severity]:
    """``high,medium`` or ``high+`` (high and above), any case: the severities to show."""
    chosen: set[Severity] = set()
    for word in _words(text, "severity list"):
        name, above = word.lower().removesuffix("+"), word.endswith("+")
        matched = [s for s in SEVERITIES if s == name]
        if not matched:
            raise InputError(f"unknown severity {word!r}; choose from {', '.join(SEVERITIES)} "
                             "(a trailing + means that and above: high+)")
        start = SEVERITIES.index(matched[0])
        chosen.update(SEVERITIES[start:] if above else SEVERITIES[start:start + 1])
    return frozenset(chosen)


def parse_rules(text: str) -> frozenset[str]:
    """``PA101,PA2*``, any case: rule IDs of the registry, or prefixes ending in ``*`` that
    name at least one rule (a typo would otherwise silently show or hide nothing)."""
    known = load_all_rules()
    chosen: set[str] = set()
    for word in _words(text, "rule list"):
        rule_id = word.upper()
        if rule_id.endswith("*"):
            if rule_id.count("*") > 1 or not any(r.startswith(rule_id[:-1]) for r in known):
                raise InputError(f"rule prefix {word!r} matches no rule (podaudit rules lists them)")
        elif rule_id not in known:
            raise InputError(f"unknown rule {word!r} (podaudit rules lists them)")
        chosen.add(rule_id)
    return frozenset(chosen)
