"""The kubelet's node name, which is the mirror pod suffix.

component-helpers GetHostname: ``--hostname-override`` when non-empty, else the hostname;
trimmed, then lowercased (the override too); empty after trimming is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from podaudit.kubelet.flags import ParsedArgs
from podaudit.model import Arg, Step


@dataclass(frozen=True)
class NodeName:
    value: str
    provenance: tuple[Step, ...]
    problems: tuple[str, ...] = ()


def resolve_node_name(flags: ParsedArgs, args: tuple[Arg, ...], hostname: str | None, label: str) -> NodeName:
    """The name the kubelet registers and suffixes mirror pods with."""
    override = flags.get("hostname-override")
    notes: tuple[str, ...] = ()
    cloud = flags.get("cloud-provider")
    if cloud is not None and cloud.value not in {"", "external"}:
        notes = (f"--cloud-provider={cloud.value}: an in-tree cloud provider may rename the node",)
    if override is not None:
        origin = args[override.index - 1].origin
        name = override.value.strip().lower()
        if name:
            step = Step(f"node name {name} (trimmed, lowercased)", origin.source, origin.line)
            return NodeName(name, (origin, step), notes)
        notes += ("--hostname-override is blank: the kubelet refuses to start (empty hostname)",)
    if hostname and hostname.strip():
        name = hostname.strip().lower()
        step = Step(f"hostname {hostname.strip()} → node name {name}", "/proc/sys/kernel/hostname")
        return NodeName(name, (step,), notes)
    return NodeName(label.lower(), (Step(f"hostname unknown: using the snapshot's name {label}", "snapshot"),),
                    (*notes, "hostname unknown: node name taken from the snapshot's directory name"))
