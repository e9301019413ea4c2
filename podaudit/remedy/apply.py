"""Applying a plan: run its one script as root on the node, read what happened to each file,
and keep a record here. The node is reached the way it was read, through its transport
Shell: locally, over SSH, or through a kubectl debug pod."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from podaudit.remedy.script import CHANGED_AS_MOVED, parse_results

if TYPE_CHECKING:
    from podaudit.collect.source import NodeSource
    from podaudit.remedy.plan import Plan
    from podaudit.transport.kubectl import KubectlOptions

Runner = Callable[[bytes], bytes]
DONE = {"moved", "restored", "same", "created"}


@contextmanager
def on_node(source: NodeSource, sudo: bool) -> Iterator[Runner]:
    """``run(script) -> stdout`` as root on the node, through its Shell (``sudo``: the run's
    --sudo, for a node read here); raises NodeUnavailable."""
    with source.shell(sudo) as shell:
        yield shell.run


def apply(plan: Plan, run: Runner) -> None:
    """Run the plan's script; its per-file results land on the plan."""
    plan.results = parse_results(run(plan.script))
    plan.applied = True


def outcome(plan: Plan) -> str:
    """done (every file as planned), partial, or failed (nothing changed)."""
    results = [r for r in plan.results if r.index > 0]
    if not results or any(r.index == 0 for r in plan.results):
        return "failed"
    done = [r for r in results if r.status in DONE]
    # A file that changed as it was moved is not as planned, but it did move: not "failed".
    moved = [r for r in results if r.status == "changed" and r.detail.startswith(CHANGED_AS_MOVED)]
    return "done" if len(done) == len(plan.files) else "partial" if done or moved else "failed"


def wait_for_mirror(opts: KubectlOptions, plan: Plan, present: bool, seconds: float) -> str:
    """Poll the API until the mirror pod is there (``present``) or gone; one line for people."""
    from podaudit.api.kubectl import pod_exists

    deadline = time.monotonic() + seconds
    want = "appeared" if present else "is gone"
    while True:
        problems: list[str] = []
        exists = pod_exists(opts, plan.namespace, plan.mirror_name, problems)
        if exists is None:
            return f"could not ask the API ({problems[-1] if problems else 'no answer'})"
        if exists == present:
            return f"mirror pod {plan.namespace}/{plan.mirror_name} {want}"
        if time.monotonic() >= deadline:
            return f"mirror pod {plan.namespace}/{plan.mirror_name} not {'there' if present else 'gone'} after " \
                   f"{seconds:g}s (the kubelet checks its directory every 20 s by default)"
        time.sleep(min(2.0, max(deadline - time.monotonic(), 0.1)))


def record_change(plan: Plan, version: str) -> str | None:
    """Append the applied plan to this machine's change log; the log's path, or None (with
    nothing lost but the record) when it cannot be written."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    path = os.path.join(state, "podaudit", "changes.jsonl")
    entry: dict[str, Any] = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "podaudit": version,
        "action": plan.action, "node": plan.node, "quarantine_id": plan.quarantine_id,
        "pod": f"{plan.namespace}/{plan.name}", "mirror_name": plan.mirror_name, "outcome": outcome(plan),
        "files": [{"path": f.path, "destination": f.destination, "sha256": f.sha256,
                   "status": next((r.status for r in plan.results if r.index == f.index), "not run")}
                  for f in plan.files],
    }
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=True, sort_keys=True) + "\n")
    except OSError:
        return None
    return path


def recorded_node(quarantine_id: str) -> str | None:
    """The node a quarantine was made on, from this machine's change log."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    try:
        with open(os.path.join(state, "podaudit", "changes.jsonl"), encoding="utf-8") as handle:
            lines = handle.readlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("quarantine_id") == quarantine_id and entry.get("action") == "delete":
            node = entry.get("node")
            return node if isinstance(node, str) else None
    return None
