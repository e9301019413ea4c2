"""An HTML report of a sweep (``-o html``, ``--report html=FILE``): one file that opens in any
browser, offline, and loads nothing: its style and its script are inline, and a
Content-Security-Policy that allows only those two (by hash) forbids every network load.

Everything a node says is hostile. Text goes through ``printable`` (controls and bidi overrides
shown as ``\\xNN``, as every format shows them) and then ``html.escape(quote=True)``, so it is
text in any element or attribute. The script never reads the page's text: it reads a JSON block
(``<script type="application/json">``, with ``<``, ``>`` and ``&`` as ``\\u003c`` etc. so no
``</script>`` can end it) and only sets ``hidden``, ``value``, ``checked`` and ``textContent``.
Without JavaScript every finding is shown; with it, the filters (severity, rule, node, status)
come from and go to the URL's fragment, e.g. ``report.html#severity=high&node=node01``.

The page lays out as the other formats read: summary counts (per severity, per node), the
nodes (the static pod path, the steps that decided it, as ``podaudit node`` shows them, and
each static pod's state), the findings, and the pages of their rules (``podaudit explain``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from html import escape
from importlib import resources
from typing import Any

from podaudit.audit.docs import rule_page
from podaudit.audit.engine import AuditResult
from podaudit.audit.match import file_pods
from podaudit.audit.registry import RULES, SEVERITIES, Finding
from podaudit.audit.suppressions import Suppression
from podaudit.collect.source import SweepResult
from podaudit.kubelet.resolve import NodeView
from podaudit.model import NodeFailure, Step
from podaudit.report.escape import printable
from podaudit.report.markdown import report_order

ORDER = tuple(reversed(SEVERITIES))  # most severe first, as every table of this report reads
ASSETS = "html_assets"  # package data beside this module: the report's style and script
DATA_ID = "podaudit-data"
NAV = ("summary", "nodes", "findings", "rules", "notes")
Row = tuple[Finding, Suppression | None]  # a finding, and the suppression that accepted it


def h(text: str) -> str:
    """Node text as inert HTML, in an element or a quoted attribute."""
    return escape(printable(text), quote=True)


def h_page(text: str) -> str:
    """A rule's page as preformatted text: its line breaks kept, the rest as ``h``."""
    return escape(printable(text, keep="\n"), quote=True)


def script_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">``: no ``<`` can start ``</script>`` or
    ``<!--`` in it, and ASCII only (U+2028 and friends as escapes)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return resources.files("podaudit.report").joinpath(ASSETS).joinpath(name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy(style: str, script: str) -> str:
    """Nothing from anywhere (no fetch, image, font, frame, form post, base URL) but this
    page's own inline style and script, named by hash so no injected one could run."""
    return (f"default-src 'none'; style-src '{_sha256(style)}'; script-src '{_sha256(script)}'; "
            "base-uri 'none'; form-action 'none'")


def anchor(prefix: str, key: str) -> str:
    """An element ID from our own key (a rule ID, a node's index): letters, digits, ``-``, ``_``."""
    return prefix + "-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)


def _rows(findings: AuditResult) -> list[Row]:
    rows: list[Row] = [(f, None) for f in findings.findings]
    rows += [(f, s) for f, s in findings.suppressed]
    return sorted(rows, key=lambda row: (*report_order(row[0]), row[1] is not None))


def _node_anchors(result: SweepResult) -> dict[str, str]:
    """Each node of the run by its index, so a hostile name never becomes an ID or a URL."""
    anchors: dict[str, str] = {}
    for r in result.results:
        anchors.setdefault(r.node, anchor("node", str(len(anchors))))
    return anchors


def _badge(severity: str) -> str:
    return f'<span class="badge sev-{h(severity)}">{h(severity)}</span>'


def _node_link(node: str, anchors: dict[str, str]) -> str:
    return f'<a href="#{anchors[node]}">{h(node)}</a>' if node in anchors else h(node)


def _cells(cells: Iterable[str], tag: str = "td") -> str:
    return "".join(f"<{tag}>{cell}</{tag}>" for cell in cells)


def _table(table_id: str, header: Iterable[str], rows: Iterable[str]) -> str:
    return (f'<table id="{table_id}"><thead><tr>{_cells(header, "th")}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _header(result: SweepResult, version: str, generated: datetime) -> str:
    audited, failed = len(result.views), len(result.failures)
    when = generated.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    interrupted = ('<p class="warning">The sweep was interrupted: nodes it had not finished are listed as not '
                   "audited.</p>") if result.interrupted else ""
    return (f"<header><h1>podaudit sweep</h1><p class=\"meta\">podaudit {h(version)} · generated "
            f'<time datetime="{h(generated.isoformat())}">{h(when)}</time> · {audited} node'
            f"{'' if audited == 1 else 's'} audited · {failed} not audited</p>{interrupted}</header>")


def _summary(result: SweepResult, findings: AuditResult, anchors: dict[str, str]) -> str:
    counts = Counter(f.severity for f in findings.findings)
    totals = "".join(f'<li class="sev-{s}"><strong>{counts[s]}</strong> {s}</li>' for s in ORDER)
    suppressed = (f"<p>{len(findings.suppressed)} more suppressed by the baseline.</p>"
                  if findings.suppressed else "")
    per_node: dict[str, Counter[str]] = {}
    for f in findings.findings:
        per_node.setdefault(f.node, Counter())[f.severity] += 1
    failures = {f.node: f for f in result.failures}
    names = [*anchors, *sorted(set(per_node) - set(anchors))]
    rows = [_summary_row(name, findings.roles.get(name, ""), failures.get(name), per_node.get(name, Counter()),
                         anchors) for name in names]
    header = ["Node", "Role", "Audited", *ORDER]
    return (f'<section id="summary"><h2>Summary</h2><ul class="totals">{totals}</ul>{suppressed}'
            f"{_table('by-node', header, rows)}</section>")


def _summary_row(name: str, role: str, failure: NodeFailure | None, counts: Counter[str],
                 anchors: dict[str, str]) -> str:
    status = (f'<span class="bad">not audited ({h(failure.kind.value)})</span>: {h(failure.message)}'
              if failure else "audited" if name in anchors else "")
    cells = [str(counts[s]) if counts[s] else "" for s in ORDER]
    return f"<tr>{_cells([_node_link(name, anchors), h(role), status, *cells])}</tr>"


def _steps(steps: Iterable[Step]) -> str:
    items = "".join(f"<li>{h(s.what)}<br><code>{h(s.where())}</code></li>" for s in steps)
    return f'<ol class="steps">{items}</ol>' if items else ""


def _pods(view: NodeView) -> str:
    items = []
    for pod in file_pods(view):
        run = view.reconciled.state_of(pod.manifest_path)
        state = (f'<span class="state state-{h(run.state)}">{h(run.state)}</span> ' if run else "")
        why = f'<br><small>{h(run.why)}</small>' if run and run.state != "running" else ""
        items.append(f"<li>{state}{h(pod.namespace)}/{h(pod.mirror_name)}<br><code>{h(pod.manifest_path)}</code>"
                     f"{why}</li>")
    items += [f'<li><span class="state state-unfiled">no file</span> {h(p.namespace)}/{h(p.name)}<br>'
              f"<small>{h(p.why)}</small></li>" for p in view.reconciled.unfiled]
    return f'<ul class="pods">{"".join(items)}</ul>' if items else "none"


def _path_cell(view: NodeView) -> str:
    setting, running = view.static_pod_path, view.reconciled.running
    path = f"<code>{h(setting.value)}</code>" if setting.value else "none (file source disabled)"
    cell = f"{path}<br><small>decided by: {h(setting.source)}</small>{_steps(setting.provenance)}"
    if view.reconciled.differs:
        cell += (f'<p class="warning">The running kubelet reads <code>{h(running.path or "none")}</code> '
                 f"({h(running.via)}); the path above counts after its next restart.</p>")
    return cell


def _node_row(name: str, view: NodeView, role: str, node_id: str) -> str:
    notes = [*(p.text() for p in (*view.problems, *view.restart_pending)),
             *(f"incomplete: {p.text()}" for p in view.incomplete)]
    problems = "".join(f"<li>{h(line)}</li>" for line in notes)
    cells = [h(name), h(role), _path_cell(view), _pods(view), f"<ul>{problems}</ul>" if problems else ""]
    return f'<tr id="{node_id}">{_cells(cells)}</tr>'


def _nodes(result: SweepResult, findings: AuditResult, anchors: dict[str, str]) -> str:
    rows = [_node_row(name, view, findings.roles.get(name, ""), anchors[name]) for name, view in result.audited]
    rows += [f'<tr id="{anchors[f.node]}" class="not-audited">{_cells([h(f.node), ""])}<td colspan="3">'
             f"not audited ({h(f.kind.value)}): {h(f.message)}</td></tr>" for f in result.failures]
    header = ["Node", "Role", "Static pod path and how it was decided", "Static pods and their state", "Problems"]
    return f'<section id="nodes"><h2>Nodes</h2>{_table("node-table", header, rows)}</section>'


def _status(suppression: Suppression | None) -> str:
    if suppression is None:
        return "open"
    until = f" (until {suppression.expires.isoformat()})" if suppression.expires else ""
    return f'<span class="suppressed-label">suppressed</span>: {h(suppression.reason)}{until}'


def _finding_row(index: int, row: Row, anchors: dict[str, str]) -> str:
    f, suppression = row
    rule = f'<a href="#{anchor("rule", f.id)}">{h(f.id)}</a>' if f.id in RULES else h(f.id)
    cells = [_badge(f.severity), rule, _node_link(f.node, anchors), f"<code>{h(f.path)}</code>" if f.path else "",
             h(f.message), _status(suppression)]
    css = f"sev-{h(f.severity)}" + (" suppressed" if suppression else "")
    return f'<tr data-row="{index}" class="{css}">{_cells(cells)}</tr>'


def _findings(rows: list[Row], anchors: dict[str, str]) -> str:
    if not rows:
        return ('<section id="findings"><h2>Findings</h2><p>No findings: every audited node passed every rule.</p>'
                "</section>")
    body = [_finding_row(i, row, anchors) for i, row in enumerate(rows)]
    controls = ('<form id="filters" hidden><fieldset id="filter-severity"><legend>Severity</legend></fieldset>'
                '<label>Rule <select name="rule"></select></label><label>Node <select name="node"></select></label>'
                '<label>Status <select name="status"></select></label><output id="shown"></output></form>')
    header = ["Severity", "Rule", "Node", "Path", "Message", "Status"]
    return f'<section id="findings"><h2>Findings</h2>{controls}{_table("findings-table", header, body)}</section>'


def _data(rows: list[Row]) -> dict[str, Any]:
    """What the filters read: one [severity, rule, node, status] per row of the findings table."""
    table = [[f.severity, f.id, printable(f.node), "suppressed" if s else "open"] for f, s in rows]
    return {"filters": {"severity": list(ORDER), "rule": sorted({r[1] for r in table}),
                        "node": sorted({r[2] for r in table}), "status": ["open", "suppressed"]},
            "rows": table}


def _rules(rows: list[Row]) -> str:
    ids = sorted({f.id for f, _ in rows} & set(RULES))
    pages = "".join(f'<section class="rule" id="{anchor("rule", i)}"><h3>{h(i)}: {h(RULES[i].title)}</h3>'
                    f"<pre>{h_page(rule_page(RULES[i]))}</pre></section>" for i in ids)
    return f'<section id="rules"><h2>Rules</h2>{pages}</section>' if pages else ""



def _notes(findings: AuditResult) -> str:
    lines = [*findings.notes, *(f"rule error: {e}" for e in findings.errors)]
    items = "".join(f"<li>{h(line)}</li>" for line in lines)
    return f'<section id="notes"><h2>Notes</h2><ul>{items}</ul></section>' if items else ""


def render_html(result: SweepResult, findings: AuditResult, version: str, *,
                generated: datetime | None = None) -> str:
    """The whole report as one HTML document; ``generated`` (default: now) is the time it shows."""
    style, script = _asset("report.css"), _asset("report.js")
    anchors = _node_anchors(result)
    rows = _rows(findings)
    sections = [_summary(result, findings, anchors), _nodes(result, findings, anchors), _findings(rows, anchors),
                _rules(rows), _notes(findings)]
    links = " ".join(f'<a href="#{s}">{s.title()}</a>' for s in NAV if f'<section id="{s}">' in "".join(sections))
    body = (_header(result, version, generated or datetime.now(timezone.utc)) + f"<nav>{links}</nav>"
            + f"<main>{''.join(sections)}</main>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{h(content_security_policy(style, script))}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>podaudit sweep</title><style>{style}</style></head><body>{body}"
            f'<script type="application/json" id="{DATA_ID}">{script_json(_data(rows))}</script>'
            f"<script>{script}</script></body></html>\n")
