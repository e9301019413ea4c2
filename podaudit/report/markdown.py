"""A Markdown report for CI job summaries (``--output markdown >> "$GITHUB_STEP_SUMMARY"``).

Every piece of text that came from a node (paths, node names, messages) is made inert before it
reaches a table cell: control characters as ``\\xNN``, Markdown punctuation backslash-escaped,
paths in code spans, so a hostile file name cannot break a table, open an HTML comment that
swallows the rest of the summary, or render as a link.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from podaudit.audit.engine import AuditResult
from podaudit.audit.registry import SEVERITIES, Finding
from podaudit.collect.source import SweepResult
from podaudit.kubelet.resolve import NodeView
from podaudit.report.escape import printable

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that change
# how a line renders: emphasis, code, links, images, HTML and entities, tables, strikethrough.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!#])")
_BACKTICKS = re.compile(r"`+")


def md_text(text: str) -> str:
    """Plain text that renders as itself, in a paragraph or a table cell."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))


def md_code(text: str) -> str:
    """A code span for a path, safe in a table cell (GFM reads ``\\|`` there as a pipe)."""
    body = printable(text).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(body)), default=0) + 1)
    pad = " " if body.startswith(("`", " ")) or body.endswith(("`", " ")) else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row("---" for _ in header), *(_row(r) for r in rows), ""]


def report_order(finding: Finding) -> tuple[int, str, str, str, str]:
    """Most severe first, then by rule, node, path and message: this report's order (the table
    report sorts the same way before folding alike findings into one row; SARIF and JUnit list
    by rule, as their readers group them)."""
    return -SEVERITIES.index(finding.severity), finding.id, finding.node, finding.path or "", finding.message


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _headline(sweep: SweepResult, audit: AuditResult) -> list[str]:
    counts = Counter(f.severity for f in audit.findings)
    by_severity = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES))
    summary = (f"**{_count(len(audit.findings), 'finding')}** ({by_severity}) · "
               f"**{_count(len(sweep.views), 'node')} audited** · **{len(sweep.failures)} not audited**")
    if audit.suppressed:
        summary += f" · {len(audit.suppressed)} suppressed by the baseline"
    lines = ["## podaudit sweep", "", summary, ""]
    if sweep.interrupted:
        lines += ["> [!WARNING]", "> The sweep was interrupted: nodes it had not finished are listed as not audited.",
                  ""]
    return lines


def _findings(audit: AuditResult) -> list[str]:
    if not audit.findings:
        return ["No findings: every audited node passed every rule.", ""]
    rows = [[f.severity, md_text(f.id), md_text(f.node), md_code(f.path) if f.path else "", md_text(f.message)]
            for f in sorted(audit.findings, key=report_order)]
    return ["### Findings", "", *_table(["Severity", "ID", "Node", "Path", "Message"], rows)]


def _suppressed(audit: AuditResult) -> list[str]:
    if not audit.suppressed:
        return []
    rows = [[f.severity, md_text(f.id), md_text(f.node), md_code(f.path) if f.path else "",
             md_text(suppression.reason + (f" (until {suppression.expires})" if suppression.expires else ""))]
            for f, suppression in sorted(audit.suppressed, key=lambda pair: report_order(pair[0]))]
    return ["### Suppressed by the baseline", "", *_table(["Severity", "ID", "Node", "Path", "Reason"], rows)]


def _not_audited(sweep: SweepResult) -> list[str]:
    if not sweep.failures:
        return []
    lines = ["### Nodes not audited", "", "Their findings are unknown; podaudit exits 3.", ""]
    lines += [f"- **{md_text(f.node)}** ({md_text(f.kind.value)}): {md_text(f.message)}" for f in sweep.failures]
    return [*lines, ""]


def _node_row(node: str, view: NodeView, audit: AuditResult) -> list[str]:
    path = view.static_pod_path
    pods = "<br>".join(md_text(f"{p.namespace}/{p.mirror_name}") for p in view.static_pods) or "none"
    count = sum(1 for f in audit.findings if f.node == node)
    return [md_text(node), md_text(audit.roles.get(node, "")), md_code(path.value) if path.value else "none",
            md_text(path.source), pods, str(count)]


def _nodes(sweep: SweepResult, audit: AuditResult) -> list[str]:
    if not sweep.audited:
        return []
    rows = [_node_row(node, view, audit) for node, view in sweep.audited]
    header = ["Node", "Role", "Static pod path", "Source", "Static pods", "Findings"]
    lines = ["### Nodes", "", *_table(header, rows)]
    incomplete = [(node, view) for node, view in sweep.audited if view.incomplete]
    if incomplete:
        lines += ["Read incompletely (podaudit could not read what the kubelet reads; run with `--sudo`):", ""]
        lines += [f"- **{md_text(node)}**: {md_text('; '.join(p.text() for p in view.incomplete))}"
                  for node, view in incomplete]
        lines.append("")
    return lines


def render_markdown(sweep: SweepResult, audit: AuditResult) -> str:
    """The whole report: headline counts, findings, nodes not audited, per-node summary, notes."""
    lines = [*_headline(sweep, audit), *_findings(audit), *_not_audited(sweep), *_suppressed(audit),
             *_nodes(sweep, audit)]
    if audit.notes:
        lines += ["### Notes", "", *(f"- {md_text(note)}" for note in audit.notes), ""]
    return "\n".join(lines)
