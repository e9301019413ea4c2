"""Restart pending: the running kubelet no longer matches what is on disk.

The kubelet reads its flags, config file and drop-ins only at start; manifests are
re-read every fileCheckFrequency, but a changed staticPodPath needs a restart.
"""

from __future__ import annotations

from collections.abc import Iterable

from podaudit.kubelet.invocation import Invocation, unit_arg_values
from podaudit.model import NodeReader, Problem, ProblemKind


def restart_pending(reader: NodeReader, inv: Invocation, config_files: Iterable[str]) -> list[Problem]:
    """Why the running kubelet would start differently now; empty when it would not."""
    process = inv.process
    if process is None or inv.argv_source != "process":
        return []
    reasons: list[Problem] = []
    if process.start_time is not None:
        unit_files = inv.unit.sources if inv.unit is not None else ()
        for path in dict.fromkeys([*config_files, *unit_files]):
            mtime = reader.file(path).mtime
            # btime is whole seconds, so start_time may be up to a second early.
            if mtime is not None and mtime > process.start_time + 1.0:
                reasons.append(Problem(ProblemKind.RESTART_PENDING, path, "changed after the kubelet started",
                                       form="{path} {detail}"))
    reasons += _argv_drift(inv)
    return reasons


def _argv_drift(inv: Invocation) -> list[Problem]:
    if inv.kind != "kubelet":
        return []
    wanted = unit_arg_values(inv.unit)
    running = tuple(a.value for a in inv.args)
    if wanted is None or wanted == running:
        return []
    added = [w for w in wanted if w not in running]
    removed = [w for w in running if w not in wanted]
    detail = ", ".join([*(f"+{w}" for w in added), *(f"-{w}" for w in removed)]) or "order differs"
    unit = inv.unit.unit if inv.unit is not None else "the unit"
    return [Problem(ProblemKind.RESTART_PENDING, None, f"{unit} would start the kubelet with different arguments: "
                                                        f"{detail}")]
