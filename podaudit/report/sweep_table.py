"""The sweep for people: one row per group of identical nodes, the findings, a footer of counts.

Every cell of node text is ``Folded`` (report/fold.py): at 80 columns a path moves whole to
the next line, or, longer than its column, breaks after a ``/``, never inside a name.
"""

from __future__ import annotations

from collections import Counter

from rich.table import Table
from rich.text import Text

from podaudit.audit.engine import AuditResult
from podaudit.audit.match import file_pods
from podaudit.audit.registry import SEVERITIES, Finding
from podaudit.collect.source import SweepResult
from podaudit.kubelet.resolve import NodeView
from podaudit.model import NodeFailure
from podaudit.report.console import SafeConsole, plain
from podaudit.report.escape import printable
from podaudit.report.fold import Folded

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
WORST_FIRST = tuple(reversed(SEVERITIES))


def render_unavailable(console: SafeConsole, failures: list[NodeFailure]) -> None:
    for failure in failures:
        console.print(Folded(plain(failure.message), lead=Text("Not audited: ", "bold red")))


def _lines(items: list[str]) -> Folded:
    return Folded(Text("\n".join(printable(item) for item in items) or "-"))


def render_sweep(console: SafeConsole, result: SweepResult, audit: AuditResult | None = None) -> None:
    """One row per group of identical nodes, then the findings and their counts, then every
    node not audited. ``audit`` is what to show (audit/shown.py may have filtered it)."""
    from podaudit.audit.rules_baseline import group_identical

    table = Table(title="Static pods by node", title_justify="left")
    for column in ("nodes", "static pod path (source)", "static pods", "problems"):
        table.add_column(column, overflow="fold")
    signature = _finding_signatures(audit) if audit else {}
    groups = group_identical(audit.contexts, signature) if audit else [([name], None) for name, _ in result.audited]
    views = dict(result.audited)
    for names, _ in groups:
        view = views[names[0]]
        path = view.static_pod_path
        problems = [*(p.text() for p in (*view.problems, *view.restart_pending)),
                    *(f"incomplete: {i.text()}" for i in view.incomplete)]
        table.add_row(Folded(_group_name(names)), Folded(plain(f"{path.value or 'none'} ({path.source})")),
                      _lines(_pod_names(view)), _lines(problems))
    console.print(table)
    if audit is not None:
        _render_findings(console, audit)
    render_unavailable(console, result.failures)
    audited, total = len(result.views), len(result.results)
    note = " (interrupted)" if result.interrupted else ""
    console.print(f"{audited} of {total} nodes audited{note}.")


def _pod_names(view: NodeView) -> list[str]:
    """Each static pod's short name, with its state when it does not simply run."""
    states = {p.manifest_path: p.state for p in view.reconciled.pods}
    names = []
    for pod in file_pods(view):
        state = states.get(pod.manifest_path, "running")
        name = pod.mirror_name.removesuffix("-" + view.node_name.value)
        names.append(name if state == "running" else f"{name} ({state})")
    return names


def _finding_signatures(audit: AuditResult) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per node, the (rule, path) of its findings: nodes grouped as identical share them."""
    found: dict[str, set[tuple[str, str]]] = {}
    for f in audit.findings:
        found.setdefault(f.node, set()).add((f.id, f.path or ""))
    return {node: tuple(sorted(pairs)) for node, pairs in found.items()}


def _group_name(names: list[str], what: str = " identical") -> Text:
    if len(names) == 1:
        return plain(names[0])
    listed = ", ".join(names) if len(names) <= 4 else f"{names[0]}, {names[1]} … {names[-1]}"
    return plain(f"{listed} ({len(names)} nodes){what}")


def _same_findings(findings: list[Finding]) -> list[tuple[tuple[str, str, str, str], list[str]]]:
    """Findings that say the same thing on several nodes (the message but for the node's
    name), as one row with the nodes: a fleet of 1,000 alike nodes is a few rows, not 6,000."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for f in sorted(findings, key=lambda f: (WORST_FIRST.index(f.severity), f.id, f.node)):
        generic = f.message.replace(f.node, "\0") if f.node else f.message
        groups.setdefault((f.severity, f.id, f.path or "", generic), []).append(f.node)
    return [((severity, rule, path, generic.replace("\0", nodes[0])), nodes)
            for (severity, rule, path, generic), nodes in groups.items()]


def _render_findings(console: SafeConsole, audit: AuditResult) -> None:
    if not audit.findings:
        console.print(Text("\nNo findings.", "green"))
    else:
        table = Table(title=f"Findings ({len(audit.findings)})", title_justify="left")
        for column in ("severity", "id", "node", "message"):
            table.add_column(column, overflow="fold")
        for (severity, rule, _, message), nodes in _same_findings(audit.findings):
            text = message if len(nodes) == 1 else message.removeprefix(f"{nodes[0]}: ")
            table.add_row(plain(severity, SEVERITY_STYLE[severity]), rule, Folded(_group_name(nodes, "")),
                          Folded(plain(text)))
        console.print()
        console.print(table)
    console.print(footer(audit))
    for note in audit.notes:
        console.print(Folded(plain(note, "dim"), lead=Text("note: ", "dim")))


def footer(audit: AuditResult) -> Text:
    """``Findings: 2 high · 5 medium · 3 suppressed``: each severity shown (worst first) and
    the suppressed ones, counted finding by finding (a row of 3 alike nodes counts 3)."""
    counts = Counter(f.severity for f in audit.findings)
    parts = [Text(f"{counts[s]} {s}", SEVERITY_STYLE[s]) for s in WORST_FIRST if counts[s]]
    if audit.suppressed:
        parts.append(Text(f"{len(audit.suppressed)} suppressed", "dim"))
    return Text.assemble(("Findings: ", "bold"), Text(" · ").join(parts) if parts else "none")
