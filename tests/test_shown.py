"""--severity, --rule and --skip-rule: what a report shows, never what decides the exit code.

The findings are the demo cluster's real audit (PA106 on node01, PA404 on both nodes) plus a
baseline's suppression, so the filter is checked on what a user actually gets.
"""

from __future__ import annotations

from datetime import date

import pytest

from podaudit.audit.engine import AuditResult
from podaudit.audit.registry import finding
from podaudit.audit.shown import parse_rules, parse_severities, shown
from podaudit.audit.suppressions import Suppression
from podaudit.errors import InputError
from podaudit.run.audit import audit_cluster
from podaudit.run.select import Selection, select_cluster
from podaudit.run.status import sweep_status

ALL = frozenset[str]()


@pytest.fixture(scope="module")
def demo() -> AuditResult:
    sel = Selection(demo=True)
    _, findings = audit_cluster(sel, select_cluster(sel, want_api=True), None, lambda: None)
    findings.suppressed = [(finding("PA301", "node01", "/etc/x.yaml", "node01: no mirror pod"),
                            Suppression("PA301", "*", None, "lab node", date(2099, 1, 1)))]
    return findings


def ids(result: AuditResult) -> set[str]:
    return {f.id for f in result.findings} | {f.id for f, _ in result.suppressed}


def test_the_demo_has_what_these_tests_filter(demo: AuditResult) -> None:
    assert {f.id for f in demo.findings} == {"PA106", "PA404"}
    assert {f.severity for f in demo.findings} == {"medium"}


def test_no_filter_shows_everything_and_changes_nothing(demo: AuditResult) -> None:
    same = shown(demo, None, ALL, ALL)
    assert same.findings == demo.findings and same.suppressed == demo.suppressed
    assert (same.notes, same.roles, same.contexts, same.errors) == (demo.notes, demo.roles, demo.contexts,
                                                                    demo.errors)


def test_severity_filter_keeps_the_listed_severities_in_findings_and_suppressed(demo: AuditResult) -> None:
    assert ids(shown(demo, parse_severities("high+"), ALL, ALL)) == {"PA301"}  # the suppressed high one
    assert ids(shown(demo, parse_severities("medium"), ALL, ALL)) == {"PA106", "PA404"}
    assert ids(shown(demo, parse_severities("low,info"), ALL, ALL)) == set()


def test_rule_and_skip_rule_with_ids_and_prefixes(demo: AuditResult) -> None:
    assert ids(shown(demo, None, parse_rules("pa106"), ALL)) == {"PA106"}
    assert ids(shown(demo, None, parse_rules("PA4*,PA3*"), ALL)) == {"PA404", "PA301"}
    assert ids(shown(demo, None, ALL, parse_rules("PA404"))) == {"PA106", "PA301"}
    assert ids(shown(demo, None, parse_rules("PA*"), parse_rules("PA1*"))) == {"PA404", "PA301"}
    # Every filter at once: an intersection.
    assert ids(shown(demo, parse_severities("medium"), parse_rules("PA1*,PA404"), parse_rules("PA404"))) == {"PA106"}


def test_the_exit_code_is_the_unfiltered_results(demo: AuditResult) -> None:
    """Filtering returns a copy: the audit the exit code is computed from is untouched, so
    hiding PA404 from the screen still fails a --fail-on medium run."""
    before = list(demo.findings)
    hidden = shown(demo, parse_severities("high+"), ALL, parse_rules("PA4*"))
    assert hidden.findings == [] and demo.findings == before
    assert sweep_status(demo, "medium") == 1 and sweep_status(demo, "high") == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("high+", {"high", "critical"}),
    ("info+", {"info", "low", "medium", "high", "critical"}),
    ("LOW, Medium", {"low", "medium"}),
    ("critical,high+", {"high", "critical"}),
    ("medium,", {"medium"}),
])
def test_parse_severities(text: str, expected: set[str]) -> None:
    assert parse_severities(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("hihg", "unknown severity 'hihg'; choose from info, low, medium, high, critical"),
    ("high,+", "unknown severity '+'"),
    ("", "severity list: empty"),
    (" , ", "severity list: empty"),
    ("warn\x1b[31m", "unknown severity 'warn\\x1b[31m'"),
])
def test_parse_severities_refuses_in_one_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_severities(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_parse_rules_accepts_ids_and_prefixes_of_the_registry() -> None:
    assert parse_rules("pa101, PA2*") == {"PA101", "PA2*"}


@pytest.mark.parametrize(("text", "message"), [
    ("PA101,PA999", "unknown rule 'PA999'"),
    ("PA8*", "rule prefix 'PA8*' matches no rule"),
    ("PA*1*", "rule prefix 'PA*1*' matches no rule"),
    ("", "rule list: empty"),
])
def test_parse_rules_refuses_in_one_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_rules(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)
