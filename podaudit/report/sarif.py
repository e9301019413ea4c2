"""A SARIF 2.1.0 log for GitHub code scanning (``github/codeql-action/upload-sarif``).

One run; ``tool.driver.rules`` holds every registered rule, so an alert always has its page.
A finding's file lives on a node, not in the repository: its ``artifactLocation`` is the path
without the leading slash, relative to the base ``NODE_<node>``, which ``originalUriBaseIds``
maps to ``file://<node>/``. GitHub shows the alert with that path; SARIF viewers that resolve
bases see the node. Upload rejects a whole file when one result lacks a physical location, so a
finding without a path points at the node's root (``.``) and every location has a region.

``partialFingerprints["podaudit/v1"]`` is the finding's fingerprint, so alerts follow a
finding across runs; a clean sweep has ``results: []``, which closes the open alerts.
A rule's CIS Kubernetes Benchmark controls are its ``properties.cis`` and ``CIS-<id>`` tags
(GitHub filters alerts by tag); the benchmark's version is the run's ``properties.cisBenchmark``.
Suppressed findings are results with an ``external`` suppression and the baseline's reason;
GitHub does not act on SARIF suppressions (it opens alerts for them), so docs/ci.md drops them
before upload. Nodes that could not be audited are tool execution notifications.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from podaudit.audit.engine import AuditResult
from podaudit.audit.registry import CIS_BENCHMARK, RULES, Finding, Rule, Severity
from podaudit.collect.source import SweepResult
from podaudit.report.escape import printable

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/podaudit/podaudit"
FINGERPRINT_KEY = "podaudit/v1"

LEVEL: dict[Severity, str] = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks alerts by this score (a string, 0.0-10.0): >9.0 critical, 7.0-8.9 high,
# 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY: dict[Severity, str] = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0",
                                          "info": "1.0"}
# RFC 3986 pchar minus ":" (a colon in a first segment would read as a scheme).
_URI_SAFE = "/!$&'()*+,;=@"


def node_base(node: str) -> str:
    return f"NODE_{printable(node)}"


def artifact_uri(path: str | None) -> str:
    """A node path as a relative URI reference: no leading slash, each byte outside the safe
    set percent-encoded (undecodable file name bytes as themselves)."""
    relative = (path or "").lstrip("/")
    return quote(_node_bytes(relative), safe=_URI_SAFE) or "."


def _node_bytes(text: str) -> bytes:
    """A node's name or path as the node's bytes (surrogateescape gives back undecodable ones)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name decodes to
        return printable(text).encode("utf-8")


def _host(node: str) -> str:
    return quote(_node_bytes(node), safe="")


def _pascal(title: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))


def _fenced(text: str) -> str:
    fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", text))])
    return f"{fence}\n{text}\n{fence}"


def rule_json(rule: Rule) -> dict[str, Any]:
    text = f"{rule.what}\n\nWhy it matters: {rule.why}\n\nHow to fix: {rule.fix}\n\nExample:\n{rule.example}"
    markdown = (f"{rule.what}\n\n**Why it matters**\n\n{rule.why}\n\n**How to fix**\n\n{rule.fix}\n\n"
                f"**Example**\n\n{_fenced(rule.example)}")
    return {
        "id": rule.id,
        "name": _pascal(rule.title) or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.what},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"tags": ["security", "kubernetes", *(f"CIS-{c}" for c in rule.cis)],
                       "security-severity": SECURITY_SEVERITY[rule.severity], "severity": rule.severity,
                       "cis": list(rule.cis)},
    }


def _location(finding: Finding) -> dict[str, Any]:
    node = printable(finding.node)
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(finding.path), "uriBaseId": node_base(finding.node)},
            # GitHub places an alert by its start line; a file-level finding takes the first.
            "region": {"startLine": 1},
        },
        "logicalLocations": [{"name": node, "fullyQualifiedName": node, "kind": "node"}],
    }


def result_json(finding: Finding, rule_index: int, suppression_reason: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": printable(finding.message)},
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {"node": printable(finding.node), "severity": finding.severity},
    }
    if suppression_reason is not None:
        justification = printable(suppression_reason)
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": justification}]
    return result


def _invocation(sweep: SweepResult) -> dict[str, Any]:
    notes = [{"level": "error", "message": {"text": printable(f"{f.node} not audited ({f.kind.value}): {f.message}")},
              "descriptor": {"id": f"not-audited/{f.kind.value}"},
              "properties": {"node": printable(f.node), "kind": f.kind.value}}
             for f in sweep.failures]
    return {"executionSuccessful": not sweep.interrupted, "toolExecutionNotifications": notes}


def render_sarif(sweep: SweepResult, audit: AuditResult, version: str) -> dict[str, Any]:
    """The SARIF log as a JSON-able dict; text from nodes is printable (``\\xNN``), so the
    document encodes as strict UTF-8."""
    rules = [RULES[rule_id] for rule_id in sorted(RULES)]
    index = {rule.id: i for i, rule in enumerate(rules)}
    pairs: list[tuple[Finding, str | None]] = [(f, None) for f in audit.findings]
    pairs += [(f, s.reason) for f, s in audit.suppressed]
    pairs.sort(key=lambda pair: (pair[0].id, pair[0].node, pair[0].path or "", pair[0].fingerprint))
    results = [result_json(f, index[f.id], reason) for f, reason in pairs]
    nodes = sorted({node for node, _ in sweep.audited} | {f.node for f, _ in pairs})
    run = {
        "tool": {"driver": {"name": "podaudit", "version": version, "informationUri": INFORMATION_URI,
                            "rules": [rule_json(rule) for rule in rules]}},
        "originalUriBaseIds": {node_base(n): {"uri": f"file://{_host(n)}/"} for n in nodes},
        "invocations": [_invocation(sweep)],
        "results": results,
        "properties": {"cisBenchmark": CIS_BENCHMARK,
                       "nodesAudited": [printable(node) for node, _ in sweep.audited],
                       "nodesNotAudited": [printable(f.node) for f in sweep.failures]},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
