"""Plans and their outcome, for people (rich) and as JSON; one object, two renderings."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from podaudit.remedy.apply import outcome
from podaudit.remedy.plan import Plan, PlannedFile, quarantine_path
from podaudit.remedy.quarantine import Held
from podaudit.report.escape import printable as _printable


def printable(text: str) -> str:
    """Text from a node, shown exactly and never read as rich markup ('[conceal]' in a name)."""
    from rich.markup import escape

    return escape(_printable(text))

_VERBS = {"delete": "Remove", "restore": "Restore", "create": "Create"}


def _owner(f: PlannedFile) -> str:
    mode = f"{f.mode:04o}" if f.mode is not None else "?"
    return f"{mode} {f.uid if f.uid is not None else '?'}:{f.gid if f.gid is not None else '?'}"


def _status(plan: Plan, f: PlannedFile) -> tuple[str, str]:
    found = next((r for r in plan.results if r.index == f.index), None)
    return (found.status, found.detail) if found else ("not run", "")


def render_plan(console: Console, plan: Plan, transport: str, record: str | None = None) -> None:
    shown = printable
    console.print(f"[bold]{_VERBS[plan.action]} {shown(plan.namespace)}/{shown(plan.name)}[/] (mirror pod "
                  f"{shown(plan.mirror_name)}) on [bold cyan]{shown(plan.node)}[/] ({shown(transport)})",
                  soft_wrap=True)
    if plan.quarantine_id:
        console.print(f"Quarantine  {shown(quarantine_path(plan.quarantine_id))}  (ID {plan.quarantine_id})")
    for f in plan.files:
        where = "" if f.destination == f.path else f" → {shown(f.destination)}"
        console.print(f"  {f.index}. {shown(f.path)}{where}", soft_wrap=True)
        facts = [f"link to {shown(f.link or '')}" if f.kind == "link" else f"sha256 {f.sha256 or '?'}", _owner(f)]
        console.print(f"     [dim]{', '.join(facts)}; {shown(f.why)}[/]", soft_wrap=True)
        if plan.applied:
            status, detail = _status(plan, f)
            style = "green" if status in {"moved", "restored", "same", "created"} else "bold red"
            console.print(f"     [{style}]{status}[/] {shown(detail)}", soft_wrap=True)
    if plan.manifest is not None:
        console.print("\n[bold]Manifest[/]")
        for line in plan.manifest.decode("utf-8", "replace").splitlines():
            console.print(f"  {_printable(line)}", soft_wrap=True, markup=False)
    console.print(f"\n[bold]Commands[/] (one script, run as root on {shown(plan.node)})")
    for line in plan.commands:
        console.print(f"  {_printable(line)}", soft_wrap=True, markup=False)
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {shown(warning)}", soft_wrap=True)
    _render_end(console, plan, record)


def _render_end(console: Console, plan: Plan, record: str | None) -> None:
    if plan.refused:
        console.print(f"\n[bold red]Cannot be applied:[/] {printable(plan.refused)}", soft_wrap=True)
        return
    if not plan.applied:
        console.print("\nNothing was changed. Run the same command with --yes to apply this plan.")
        return
    for result in plan.results:
        if result.index == 0:
            console.print(f"[bold red]{result.status}:[/] {printable(result.detail)}", soft_wrap=True)
    console.print(f"\n[bold]{outcome(plan).capitalize()}.[/]")
    if plan.waited:
        console.print(printable(plan.waited))
    if plan.action == "delete" and plan.quarantine_id:
        console.print(f"Quarantine ID: [bold]{plan.quarantine_id}[/]  (undo: podaudit restore {plan.quarantine_id} "
                      f"--node {printable(plan.node)} --yes)")
    if plan.action == "create":
        console.print(f"It appears in the API as mirror pod {printable(plan.namespace)}/{printable(plan.mirror_name)}.")
    if record:
        console.print(f"[dim]Recorded in {printable(record)}[/]")


def plan_json(plan: Plan, transport: str, record: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "podaudit/v1", "kind": "Plan", "action": plan.action, "node": plan.node,
        "transport": transport, "namespace": plan.namespace, "name": plan.name, "mirror_name": plan.mirror_name,
        "quarantine_id": plan.quarantine_id, "applied": plan.applied,
        "outcome": outcome(plan) if plan.applied else None, "refused": plan.refused,
        "files": [{**f.journal(), "destination": f.destination, "why": f.why,
                   "status": _status(plan, f)[0] if plan.applied else None,
                   "detail": _status(plan, f)[1] if plan.applied else None} for f in plan.files],
        "commands": plan.commands, "warnings": plan.warnings, "wait": plan.waited, "record": record,
        "manifest": plan.manifest.decode("utf-8", "surrogateescape") if plan.manifest is not None else None,
        "errors": [r.detail for r in plan.results if r.index == 0],
    }


def render_held(console: Console, node: str, held: list[Held]) -> None:
    if not held:
        console.print(f"Nothing is held in {printable(node)}'s quarantine.")
        return
    for item in held:
        journal = item.journal or {}
        pod: dict[str, Any] = journal["pod"] if isinstance(journal.get("pod"), dict) else {}
        files: list[Any] = journal["files"] if isinstance(journal.get("files"), list) else []
        state = item.problem or (f"{len(item.held)} of {len(files)} files held" if item.held else
                                 "restored" if item.moved is None or item.moved else "nothing was moved")
        console.print(f"[bold]{item.quarantine_id}[/]  {printable(str(pod.get('mirror_name', '?')))}  "
                      f"{printable(str(journal.get('time', '?')))}  {printable(state)}", soft_wrap=True)
        for entry in files:
            if isinstance(entry, dict):
                index = entry.get("index")
                mark = item.state(index) if isinstance(index, int) else "?"
                console.print(f"  {entry.get('index')}. {printable(str(entry.get('path')))}  [dim]{mark}[/]",
                              soft_wrap=True)


def held_json(node: str, held: list[Held]) -> dict[str, Any]:
    return {"apiVersion": "podaudit/v1", "kind": "QuarantineList", "node": node,
            "quarantines": [{"quarantine_id": h.quarantine_id, "journal": h.journal, "held": sorted(h.held),
                             "moved": sorted(h.moved) if h.moved is not None else None,
                             "problem": h.problem} for h in held]}
