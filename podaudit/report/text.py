"""Reports for people (rich): what a troubleshooter reads top to bottom.

Lines are rich ``Text``: our words with their styles, and node text through ``printable``
(``plain``), never markup; the console (report/console.py) escapes whatever is left. Node
text is printed ``Folded`` (report/fold.py): wrapped under its label, a path never cut inside
a name. Commands are the exception, printed whole (``soft_wrap``) so they paste as one line.
The sweep's table is in report/sweep_table.py.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from podaudit.api.view import ApiPod, ApiView
from podaudit.audit.match import FindResult, Match
from podaudit.audit.rules_witness import describe, failing
from podaudit.kubelet.manifests import ManifestEntry
from podaudit.kubelet.reconcile import PodRun, Reconciliation
from podaudit.kubelet.resolve import NodeView, StaticPod
from podaudit.model import Problem, Step, WitnessStatus
from podaudit.remedy.commands import removal_commands, why_kubectl_delete_fails
from podaudit.report.console import SafeConsole, plain
from podaudit.report.escape import printable
from podaudit.report.fold import Folded
from podaudit.report.sweep_table import SEVERITY_STYLE, render_sweep, render_unavailable

# render_sweep lives in report/sweep_table.py; the CLI has always found it here.
__all__ = ["render_find", "render_node", "render_sweep", "render_unavailable"]

FATE_STYLE = {"loaded": "green", "shadowed": "yellow", "ignored": "dim", "rejected": "red",
              "unknown": "magenta"}
STATE_STYLE = {"running": "green", "after-restart": "yellow", "kubelet-not-running": "red",
               "kubelet-cannot-start": "red", "rejected": "red",
               "unknown": "magenta"}
WITNESS_STYLE = {WitnessStatus.HEARD: "green", WitnessStatus.REFUSED: "yellow", WitnessStatus.ABSENT: "dim",
                 WitnessStatus.FAILED: "red"}


def _heading(console: SafeConsole, title: str, style: str = "bold") -> None:
    console.print(Text("\n" + title, style))


def _steps(console: SafeConsole, steps: tuple[Step, ...]) -> None:
    for number, step in enumerate(steps, start=1):
        _say(console, step.what, f"  {number}. ")
        _say(console, plain(step.where(), "dim"), "     ")


def _fields(console: SafeConsole, rows: list[tuple[str, Text]]) -> None:
    width = max(len(key) for key, _ in rows) + 2
    for key, value in rows:
        console.print(Folded(value, lead=Text(key.ljust(width), "bold")))


def _say(console: SafeConsole, text: Text | str, lead: Text | str = "") -> None:
    """A line of node text (paths in it), wrapped under its ``lead`` without cutting a path
    inside a name (report/fold.py). Commands are printed whole instead (soft_wrap): a command
    copied from the terminal must paste as one line."""
    console.print(Folded(text if isinstance(text, Text) else plain(text), lead=lead))


def _api_line(pod: ApiPod | None, api: ApiView | None) -> Text:
    """The mirror pod as ``kubectl get pod -o wide`` shows it (ready, status, restarts, age, IP, node)."""
    if api is None or "pods" not in api.loaded:
        return Text("no API view", "dim")
    if pod is None:
        return Text("no mirror pod in the API: invisible to kubectl (PA301)", "bold red")
    line = (f"{pod.ready} ready, {pod.status}, {pod.restarts} restarts, age {pod.age()}, "
            f"IP {pod.ip or '<none>'}, node {pod.node_name}")
    return plain(line, "bold yellow" if pod.trouble() else "")


def render_find(console: SafeConsole, result: FindResult) -> None:
    if not result.matches:
        _render_not_found(console, result)
    for match in result.matches:
        _render_match(console, result, match)
    _render_incomplete(console, result.incomplete)
    render_unavailable(console, result.unavailable)
    for note in result.notes:
        _say(console, plain(note, "dim"), Text("note: ", "dim"))


def _render_incomplete(console: SafeConsole, incomplete: dict[str, list[Problem]]) -> None:
    for node, reasons in incomplete.items():
        _say(console, Text.assemble(plain(f"Incomplete on {node}:", "bold yellow"), " podaudit could not read what "
                                    "the kubelet reads; the answer may be wrong. Run as root."))
        for reason in reasons:
            _say(console, reason.text(), "  - ")


def _render_match(console: SafeConsole, result: FindResult, match: Match) -> None:
    view, pod, node = match.view, match.pod, match.node
    api_pod = result.api_pod(pod)
    reason = match.candidate.reason
    run = view.reconciled.state_of(pod.manifest_path)
    _say(console, Text.assemble(plain(pod.mirror_name, "bold"), " is defined on ", plain(node, "bold cyan"), " by ",
                                plain(pod.manifest_path, "bold green")))
    watched = (f"{view.reconciled.running.path}  (the running kubelet's: {view.reconciled.running.via}; its files "
               f"say {view.static_pod_path.value})" if run is not None and run.in_running_path else
               f"{view.static_pod_path.value}  (decided by: {view.static_pod_path.source}; "
               f"kubelet command line from: {view.invocation.argv_source})")
    rows = [
        ("Pod", plain(f"{pod.namespace}/{pod.name} (mirror pod {pod.mirror_name})")),
        ("API", _api_line(api_pod, result.api)),
        ("Node", plain(f"{node}  ({reason})" if reason else node)),
        ("Manifest", plain(pod.manifest_path)),
        ("Watched path", plain(watched)),
    ]
    rows += _run_rows(run, api_pod.mirror_hash if api_pod else "")
    rows += [("Also defines it", plain(f"{p}  (loses: sorts before the manifest)")) for p in pod.shadowed_paths]
    _fields(console, rows)
    _heading(console, "How we know")
    running = view.reconciled.running
    # A pod of the running kubelet's folder: its /configz decided, not the files.
    decided = (Step(f"the running kubelet reads {running.path} ({running.via})", "configz"),) \
        if run is not None and run.in_running_path else view.static_pod_path.provenance
    _steps(console, (*decided, Step(
        f"{pod.manifest_path} defines {pod.namespace}/{pod.name} → mirror pod {pod.mirror_name}", pod.manifest_path)))
    files = {pod.manifest_path, *pod.shadowed_paths}
    found = [f for f in result.findings if f.node == node and f.path in files]
    if found:
        _heading(console, "Findings")
        for item in found:
            _say(console, plain(item.message), Text.assemble("  ", (f"{item.id} {item.severity}",
                                                                    SEVERITY_STYLE[item.severity]), " "))
    _remedy(console, node, view, pod)


def _run_rows(run: PodRun | None, mirror_hash: str) -> list[tuple[str, Text]]:
    """The pod's state, whether the kubelet confirmed the mirror pod, its containers."""
    if run is None:
        return []
    rows = [("State", Text.assemble((run.state, STATE_STYLE[run.state]), plain(f": {run.why}")))]
    if run.uid and mirror_hash and run.state == "running":  # else a pod of that name may be another file's
        said = ("confirmed: the mirror pod's kubernetes.io/config.mirror is the kubelet's pod UID "
                f"{run.uid}, so this file is its source" if mirror_hash == run.uid else
                f"the mirror pod's kubernetes.io/config.mirror {mirror_hash} is not the kubelet's pod UID {run.uid}: "
                "the mirror pod is stale or from another file")
        rows.append(("Kubelet", plain(said, "green" if mirror_hash == run.uid else "yellow")))
    rows += [("Container", plain(describe(c), "bold red" if failing(c) else "")) for c in run.containers]
    return rows


def _remedy(console: SafeConsole, node: str, view: NodeView, pod: StaticPod) -> None:
    _heading(console, "Why kubectl delete does not remove it")
    _say(console, why_kubectl_delete_fails(node, pod), "  ")
    _heading(console, "Remove it")
    if view.incomplete:
        console.print(Text("  Not shown: podaudit could not read everything in the directory, so another file may "
                           "define this pod too. Run as root.", "yellow"))
        return
    console.print(f"  podaudit delete {printable(pod.mirror_name)} -n {printable(pod.namespace)}   (shows the plan; "
                  "--yes applies it, checks each file first, keeps a restorable quarantine)", soft_wrap=True)
    console.print("  or by hand:")
    for line in removal_commands(node, pod):
        console.print(f"  {printable(line)}", soft_wrap=True)
    console.print()


def _render_not_found(console: SafeConsole, result: FindResult) -> None:
    where = ", ".join(c.name for c in result.candidates) or "no node (no node name is a suffix of it)"
    _say(console, Text.assemble(plain(f"No static pod named {result.query}", "bold red"),
                                plain(f" (nodes read: {where})")))
    if result.api_pods and not any(p.is_mirror for p in result.api_pods):
        console.print("  The API has a pod by that name, but it is not a mirror pod: no static pod is behind it.")
    for node, path, reason in result.refused:
        _say(console, f"{node}: {path} defines it, but the kubelet refuses the file: {reason}", "  ")
    if result.suggestions:
        _say(console, f"Did you mean: {', '.join(result.suggestions)}?", "  ")


def render_node(console: SafeConsole, node: str, view: NodeView) -> None:
    inv = view.invocation
    process = inv.process
    _say(console, Text.assemble(plain(f"Node {node}", "bold"),
                                plain(f" (hostname {view.hostname or 'unknown'})")))
    rows = [
        ("Kubelet", plain(f"pid {process.pid}: {' '.join(process.argv[:1])} ({inv.kind})") if process
         else plain(f"not running; command line rebuilt from {inv.argv_source}")),
        ("Config file", plain(view.config_file or "none")),
        ("Config dir", plain(view.config_dir or "none")),
        ("Static pod path", plain(f"{view.static_pod_path.value or 'none (file source disabled)'}  "
                                  f"(decided by: {view.static_pod_path.source})")),
    ]
    rec = view.reconciled
    if rec.differs:
        rows.append(("Running path", plain(f"{rec.running.path or 'none'}  ({rec.running.via}): what runs now; "
                                           "the static pod path above counts after the next restart", "bold yellow")))
    rows += [("Static pod URL", plain(view.static_pod_url.value or "none")), ("Witnesses", _witness_line(rec))]
    _fields(console, rows)
    _render_settings(console, view)
    _heading(console, "How the static pod path was decided")
    _steps(console, view.static_pod_path.provenance)
    _heading(console, "Node name")
    _steps(console, view.node_name.provenance)
    _render_entries(console, view, view.static_pod_path.value, view.entries)
    if view.reconciled.differs and view.reconciled.running.path:
        _render_entries(console, view, view.reconciled.running.path, view.running_entries, " (the running kubelet's)")
    _render_witnessed(console, view.reconciled)
    _render_network(console, view)
    sections = (("Restart pending", view.restart_pending), ("Problems", view.problems),
                ("Incomplete: podaudit could not read these; the kubelet can (run as root)", view.incomplete))
    for title, lines in sections:
        if lines:
            _heading(console, title, "bold yellow")
            for line in lines:
                _say(console, line.text(), "  - ")


# The flags that decide where static pods come from, in the order the kubelet applies them.
SOURCE_FLAGS = ("config", "config-dir", "pod-manifest-path", "manifest-url", "hostname-override")


def _render_settings(console: SafeConsole, view: NodeView) -> None:
    """Every command-line setting that decides the static pod source, with its origin."""
    found = [(flag, arg) for arg in view.invocation.args for flag in SOURCE_FLAGS
             if arg.value.lstrip("-").replace("_", "-").split("=")[0] == flag]
    if not found:
        return
    _heading(console, "Settings that decide the static pod source")
    _steps(console, tuple(arg.origin for _, arg in found))


def _render_network(console: SafeConsole, view: NodeView) -> None:
    facts = view.network
    if facts is None or (facts.node_interface is None and not facts.cni):
        return
    _heading(console, "Network")
    if facts.node_interface:
        _say(console, Text.assemble(plain(f"{facts.node_interface} {' '.join(facts.node_addresses)}  "),
                                    plain(f"({facts.how})", "dim")), "  node   ")
    for cni in facts.cni:
        ranges = ", ".join(cni.ranges) or "no address"
        _say(console, Text.assemble(plain(f"{cni.name} {' '.join(cni.addresses)}  "),
                                    plain(f"(range {ranges})", "dim")), "  CNI    ")


def _witness_line(rec: Reconciliation) -> Text:
    """files heard (...); kubelet refused (api node proxy): forbidden ...; runtime absent: no crictl"""
    line = Text()
    for witness in rec.witnesses:
        if line:
            line.append("; ")
        line.append_text(Text.assemble((f"{witness.source.value} {witness.status.value}",
                                        WITNESS_STYLE[witness.status]),
                                       plain(f" ({witness.via})" if witness.via else ""),
                                       plain(f": {witness.detail}" if witness.detail else "")))
    return line


def _render_entries(console: SafeConsole, view: NodeView, path: str | None, entries: list[ManifestEntry],
                    whose: str = "") -> None:
    if path is None:
        return
    # The title above the table, not rich's: rich wraps a title like any text, cutting a path anywhere.
    table = Table(expand=False)
    for column in ("entry", "fate", "state", "pod / reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        run = view.reconciled.state_of(entry.path) if entry.fate == "loaded" else None
        detail = plain(entry.pod.key if entry.pod and entry.fate == "loaded" else entry.reason)
        if run is not None and run.state != "running":
            detail.append_text(Text.assemble("\n", plain(run.why, "dim")))
        for container in filter(failing, run.containers if run else ()):
            detail.append_text(Text.assemble("\n", plain(describe(container), "red")))
        for warning in entry.warnings:
            detail.append_text(Text.assemble("\n", plain(warning, "yellow")))
        state = plain(run.state, STATE_STYLE[run.state]) if run else Text("")
        table.add_row(Folded(plain(entry.path.rsplit("/", 1)[-1])), plain(entry.fate, FATE_STYLE[entry.fate]), state,
                      Folded(detail))
    console.print()
    _say(console, plain(f"Entries of {path}{whose}", "table.title"))
    console.print(table)


def _render_witnessed(console: SafeConsole, rec: Reconciliation) -> None:
    """What the next restart changes, and the pods only a witness shows."""
    if rec.next_restart:
        _heading(console, "Next restart", "bold yellow")
        _say(console, rec.next_restart, "  ")
    if rec.unfiled:
        _heading(console, "Running with no file (a witness shows them)", "bold yellow")
    for pod in rec.unfiled:
        who = ", ".join(s.value for s in pod.witnessed_by)
        _say(console, f"{pod.namespace}/{pod.name} ({who}): {pod.why}", "  - ")
        for container in pod.containers:
            _say(console, plain(describe(container), "red" if failing(container) else ""), "      ")
