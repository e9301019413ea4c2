"""A JUnit XML report for CI test views (GitLab ``reports: junit``, Jenkins, Azure DevOps).

One ``<testsuite>`` per registered rule, named ``"<ID> <title>"``, with one ``<testcase>`` per
node (``classname`` = the node): a ``<failure>`` when the rule found something there, passed
otherwise. A first suite, ``collection``, has one test case per node of the sweep that fails
when the node could not be audited, so an unreachable node is never a silent pass.
Suppressed findings pass; they are listed in the test case's ``<system-out>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from podaudit.audit.engine import AuditResult
from podaudit.audit.registry import RULES, SEVERITIES, Finding, Rule
from podaudit.collect.source import SweepResult
from podaudit.report.escape import printable

Cases = dict[str, list[Finding]]


def xml_safe(text: str, keep: str = "") -> str:
    """Text any XML 1.0 parser accepts and no terminal acts on (CI logs print these files):
    every control and format character as ``\\xNN`` text, an undecodable file name byte as that
    byte, as every podaudit report shows them. ``printable`` escapes all that XML 1.0's Char
    production forbids (C0 controls, surrogates, U+FFFE, U+FFFF) and more: C1 controls, bidi
    overrides and zero-width characters, which XML allows. ``keep``: line breaks in a body."""
    return printable(text, keep)


def one_line(text: str) -> str:
    """A message as one line of a failure's text: its own line breaks as ``\\xNN``."""
    return text.replace("\r", "\\x0d").replace("\n", "\\x0a")


def _element(parent: ET.Element, tag: str, **attrs: str | int) -> ET.Element:
    return ET.SubElement(parent, tag, {k: xml_safe(str(v)) for k, v in attrs.items()})


def _suite(root: ET.Element, name: str, tests: int, failures: int) -> ET.Element:
    return _element(root, "testsuite", name=name, tests=tests, failures=failures, errors=0, skipped=0)


def _collection(root: ET.Element, sweep: SweepResult) -> int:
    failures = sweep.failures
    suite = _suite(root, "collection", len(sweep.results), len(failures))
    for result in sweep.results:
        if result.failure is not None:
            case = _element(suite, "testcase", classname=result.failure.node, name="collected")
            message = one_line(result.failure.message)
            failure = _element(case, "failure", message=message, type=result.failure.kind.value)
            failure.text = xml_safe(message)
        elif result.view is not None:
            _element(suite, "testcase", classname=result.node, name="collected")
    return len(failures)


def _nodes(audited: list[str], cases: Cases) -> list[str]:
    """Every audited node, then any other node this rule names (one that was not audited)."""
    return [*audited, *sorted(node for node in cases if node not in audited)]


def _failure(case: ET.Element, found: list[Finding]) -> None:
    worst = max((f.severity for f in found), key=SEVERITIES.index)
    first = one_line(found[0].message)
    summary = first if len(found) == 1 else f"{len(found)} findings; the first: {first}"
    failure = _element(case, "failure", message=summary, type=worst)
    failure.text = xml_safe("\n".join(one_line(f.message) for f in found), keep="\n")


def _rule_suite(root: ET.Element, rule: Rule, audited: list[str], found: Cases, suppressed: Cases) -> int:
    nodes = _nodes(audited, {**suppressed, **found})
    suite = _suite(root, f"{rule.id} {rule.title}", len(nodes), sum(1 for n in nodes if found.get(n)))
    for node in nodes:
        case = _element(suite, "testcase", classname=node, name=f"{rule.id} {rule.title}")
        if found.get(node):
            _failure(case, found[node])
        if suppressed.get(node):
            out = ET.SubElement(case, "system-out")
            out.text = xml_safe("\n".join(f"suppressed: {one_line(f.message)}" for f in suppressed[node]), keep="\n")
    return int(suite.get("failures", "0"))


def _by_rule_and_node(findings: list[Finding]) -> dict[str, Cases]:
    grouped: dict[str, Cases] = defaultdict(lambda: defaultdict(list))
    for finding in findings:
        grouped[finding.id][finding.node].append(finding)
    return grouped


def render_junit(sweep: SweepResult, audit: AuditResult) -> str:
    """The report as JUnit XML text (UTF-8, with an XML declaration)."""
    suppressed = [f for f, _ in audit.suppressed]
    found, quiet = _by_rule_and_node(audit.findings), _by_rule_and_node(suppressed)
    audited = [node for node, _ in sweep.audited]
    root = ET.Element("testsuites", name="podaudit")
    failures = _collection(root, sweep)
    for rule_id in sorted(RULES):
        failures += _rule_suite(root, RULES[rule_id], audited, found.get(rule_id, {}), quiet.get(rule_id, {}))
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in root)))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
