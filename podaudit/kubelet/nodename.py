"""The kubelet's node name, which is the mirror pod suffix.

component-helpers GetHostname: ``--hostname-override`` when non-empty, else the hostname;
then trimmed and lowercased (the override too); empty after trimming is an error, so a
blank-but-not-empty override stops the kubelet.
"""

from __future__ import annotations

from dataclasses import dataclass

from podaudit.kubelet.flags import ParsedArgs
from podaudit.model import Arg, Problem, ProblemKind, Step


@dataclass(frozen=True)
class NodeName:
    value: str
    provenance: tuple[Step, ...]
    problems: tuple[Problem, ...] = ()
    # The kubelet cannot start with this name: it runs no pods at all.
    fatal: bool = False


def resolve_node_name(flags: ParsedArgs, args: tuple[Arg, ...], hostname: str | None, label: str) -> NodeName:
    """The name the kubelet registers and suffixes mirror pods with."""
    notes: tuple[Problem, ...] = ()
    cloud = flags.get("cloud-provider")
    if cloud is not None and cloud.value not in {"", "external"}:
        notes = (_doubt(f"--cloud-provider={cloud.value}: an in-tree cloud provider may rename the node"),)
    override = flags.get("hostname-override")
    if override is not None and override.value:
        origin = args[override.index - 1].origin
        name = override.value.strip().lower()
        if not name:
            why = "--hostname-override is blank: the kubelet refuses to start (empty hostname)"
            return NodeName("", (origin,), (*notes, _doubt(why)), fatal=True)
        step = Step(f"node name {name} (trimmed, lowercased)", origin.source, origin.line)
        return NodeName(name, (origin, step), notes)
    if hostname and hostname.strip():
        name = hostname.strip().lower()
        step = Step(f"hostname {hostname.strip()} → node name {name}", "/proc/sys/kernel/hostname")
        return NodeName(name, (step,), notes)
    step = Step(f"hostname unknown: using the snapshot's name {label}", "snapshot")
    return NodeName(label.lower(), (step,),
                    (*notes, _doubt("hostname unknown: node name taken from the snapshot's name")))


def _doubt(detail: str) -> Problem:
    return Problem(ProblemKind.NODE_NAME, None, detail)
