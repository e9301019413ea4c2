"""Plans and their outcome, for people (rich) and as JSON; one object, two renderings."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from podaudit.remedy.apply import outcome
from podaudit.remedy.plan import Plan, PlannedFile, quarantine_path
from podaudit.remedy.quarantine import Held
from podaudit.report.console import SafeConsole, plain
from podaudit.report.escape import printable

_VERBS = {"delete": "Remove", "restore": "Restore", "create": "Create"}


def _owner(f: PlannedFile) -> str:
    mode = f"{f.mode:04o}" if f.mode is not None else "?"
    return f"{mode} {f.uid if f.uid is not None else '?'}:{f.gid if f.gid is not None else '?'}"


def _status(plan: Plan, f: PlannedFile) -> tuple[str, str]:
    found = next((r for r in plan.results if r.index == f.index), None)
    return (found.status, found.detail) if found else ("not run", "")


def render_plan(console: SafeConsole, plan: Plan, transport: str, record: str | None = None) -> None:
    """Every line a Text: plan values come from the node (paths, names, a journal's text)."""
    console.print(Text.assemble(plain(f"{_VERBS[plan.action]} {plan.namespace}/{plan.name}", "bold"),
                                plain(f" (mirror pod {plan.mirror_name}) on "), plain(plan.node, "bold cyan"),
                                plain(f" ({transport})")), soft_wrap=True)
    if plan.quarantine_id:
        console.print(plain(f"Quarantine  {quarantine_path(plan.quarantine_id)}  (ID {plan.quarantine_id})"))
    for f in plan.files:
        _render_file(console, plan, f)
    if plan.manifest is not None:
        console.print(Text("\nManifest", "bold"))
        for line in plan.manifest.decode("utf-8", "replace").splitlines():
            console.print(f"  {printable(line)}", soft_wrap=True)
    console.print(Text.assemble(("\nCommands", "bold"), plain(f" (one script, run as root on {plan.node})")))
    for line in plan.commands:
        console.print(f"  {printable(line)}", soft_wrap=True)
    for warning in plan.warnings:
        console.print(Text.assemble(("warning:", "yellow"), " ", plain(warning)), soft_wrap=True)
    _render_end(console, plan, record)


def _render_file(console: SafeConsole, plan: Plan, f: PlannedFile) -> None:
    where = "" if f.destination == f.path else f" → {f.destination}"
    console.print(plain(f"  {f.index}. {f.path}{where}"), soft_wrap=True)
    facts = [f"link to {f.link or ''}" if f.kind == "link" else f"sha256 {f.sha256 or '?'}", _owner(f)]
    console.print(Text.assemble("     ", plain(f"{', '.join(facts)}; {f.why}", "dim")), soft_wrap=True)
    if plan.applied:
        status, detail = _status(plan, f)
        style = "green" if status in {"moved", "restored", "same", "created"} else "bold red"
        console.print(Text.assemble("     ", plain(status, style), " ", plain(detail)), soft_wrap=True)


def _render_end(console: SafeConsole, plan: Plan, record: str | None) -> None:
    if plan.refused:
        console.print(Text.assemble(("\nCannot be applied:", "bold red"), " ", plain(plan.refused)), soft_wrap=True)
        return
    if not plan.applied:
        console.print("\nNothing was changed. Run the same command with --yes to apply this plan.")
        return
    for result in plan.results:
        if result.index == 0:
            console.print(Text.assemble(plain(f"{result.status}:", "bold red"), " ", plain(result.detail)),
                          soft_wrap=True)
    console.print(Text(f"\n{outcome(plan).capitalize()}.", "bold"))
    if plan.waited:
        console.print(plain(plan.waited))
    if plan.action == "delete" and plan.quarantine_id:
        console.print(Text.assemble("Quarantine ID: ", plain(plan.quarantine_id, "bold"),
                                    plain(f"  (undo: podaudit restore {plan.quarantine_id} --node {plan.node} --yes)")))
    if plan.action == "create":
        console.print(plain(f"It appears in the API as mirror pod {plan.namespace}/{plan.mirror_name}."))
    if record:
        console.print(plain(f"Recorded in {record}", "dim"))


def plan_json(plan: Plan, transport: str, record: str | None = None) -> dict[str, Any]:
    """Names and paths exact (data); what people read (why, detail, warnings, errors,
    commands) ``printable``, as the table shows it."""
    return {
        "apiVersion": "podaudit/v1", "kind": "Plan", "action": plan.action, "node": plan.node,
        "transport": transport, "namespace": plan.namespace, "name": plan.name, "mirror_name": plan.mirror_name,
        "quarantine_id": plan.quarantine_id, "applied": plan.applied,
        "outcome": outcome(plan) if plan.applied else None, "refused": _prose(plan.refused),
        "files": [{**f.journal(), "destination": f.destination, "why": printable(f.why),
                   "status": _status(plan, f)[0] if plan.applied else None,
                   "detail": printable(_status(plan, f)[1]) if plan.applied else None} for f in plan.files],
        "commands": [printable(c) for c in plan.commands], "warnings": [printable(w) for w in plan.warnings],
        "wait": _prose(plan.waited), "record": record,
        "manifest": plan.manifest.decode("utf-8", "surrogateescape") if plan.manifest is not None else None,
        "errors": [printable(r.detail) for r in plan.results if r.index == 0],
    }


def _prose(text: str | None) -> str | None:
    return None if text is None else printable(text)


def render_held(console: SafeConsole, node: str, held: list[Held]) -> None:
    """A journal is the node's JSON: any value may be any type, holding anything."""
    if not held:
        console.print(plain(f"Nothing is held in {node}'s quarantine."))
        return
    for item in held:
        journal = item.journal or {}
        pod: dict[str, Any] = journal["pod"] if isinstance(journal.get("pod"), dict) else {}
        files: list[Any] = journal["files"] if isinstance(journal.get("files"), list) else []
        state = item.problem or (f"{len(item.held)} of {len(files)} files held" if item.held else
                                 "restored" if item.moved is None or item.moved else "nothing was moved")
        console.print(Text.assemble(plain(item.quarantine_id, "bold"),
                                    plain(f"  {pod.get('mirror_name', '?')}  {journal.get('time', '?')}  {state}")),
                      soft_wrap=True)
        for entry in files:
            if isinstance(entry, dict):
                index = entry.get("index")
                mark = item.state(index) if isinstance(index, int) else "?"
                console.print(Text.assemble(plain(f"  {index}. {entry.get('path')}  "), plain(mark, "dim")),
                              soft_wrap=True)


def held_json(node: str, held: list[Held]) -> dict[str, Any]:
    return {"apiVersion": "podaudit/v1", "kind": "QuarantineList", "node": node,
            "quarantines": [{"quarantine_id": h.quarantine_id, "journal": h.journal, "held": sorted(h.held),
                             "moved": sorted(h.moved) if h.moved is not None else None,
                             "problem": h.problem} for h in held]}
