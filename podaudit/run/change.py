"""delete, restore, quarantine list and create: which node, the plan, and applying it (with
--yes) through the node's Shell; then the wait for the API and the record here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from podaudit.errors import InputError, NodeUnavailable

if TYPE_CHECKING:
    from podaudit.audit.match import FindResult, Match
    from podaudit.collect.source import NodeSource
    from podaudit.kubelet.resolve import NodeView
    from podaudit.remedy.plan import Plan
    from podaudit.run.select import Cluster, Selection

Runner = Callable[[bytes], bytes]


NAMES_SHOWN = 20  # node names a "which node?" line lists

def one_node(node: str | None, cluster: Cluster, named_by: str = " with --node") -> NodeSource:
    """The node a command reads or changes: the one named, or the only one on offer (a name
    that is not a node is refused, unless the node on offer takes any: this machine, --root)."""
    more = " ..." if len(cluster.nodes) > NAMES_SHOWN else ""
    shown = ", ".join(n.name for n in cluster.nodes[:NAMES_SHOWN]) + more
    if node is None:
        if len(cluster.nodes) == 1:
            return cluster.nodes[0]
        raise InputError(f"{cluster.origin} has {len(cluster.nodes)} nodes; name one{named_by}: {shown}")
    found = cluster.node(node) or (cluster.nodes[0] if len(cluster.nodes) == 1 and cluster.nodes[0].only else None)
    if found is None:
        raise InputError(f"no node {node} in {cluster.origin}; nodes: {shown}")
    return found


def one_match(result: FindResult, pod: str, on_node: str | None) -> tuple[NodeSource, Match]:
    """The one static pod ``delete`` removes, and its node (``on_node`` when several define it)."""
    matches = [m for m in result.matches if on_node in (None, m.node, m.candidate.node.name)]
    if not matches:
        hint = f"; did you mean {', '.join(result.suggestions)}?" if result.suggestions else ""
        raise InputError(f"no static pod {pod} found on the nodes read{hint}")
    if len(matches) > 1:
        raise InputError(f"{pod} is defined on several nodes ({', '.join(m.node for m in matches)}); pick one "
                         "with --node")
    match = matches[0]
    return match.candidate.node, match


def list_script_for(source: NodeSource, only: str | None = None) -> bytes:
    """The quarantine list script for this node; InputError when under --root the quarantine
    folder cannot be followed inside the root."""
    from podaudit.remedy.quarantine import list_script
    from podaudit.remedy.script import Unresolvable

    try:
        return list_script(source.root, only)
    except Unresolvable as exc:
        raise InputError(f"{source.name}: {exc}") from exc


def restore_plan_on(source: NodeSource, quarantine_id: str, run: Runner) -> Plan:
    """The plan that puts quarantine ``quarantine_id`` back, from its journal on the node."""
    from podaudit.remedy.plan import restore_plan
    from podaudit.remedy.quarantine import parse_list

    held = [h for h in parse_list(run(list_script_for(source, quarantine_id))) if h.quarantine_id == quarantine_id]
    if not held or held[0].journal is None:
        why = held[0].problem if held else "no such quarantine folder"
        raise InputError(f"{source.name}: quarantine {quarantine_id}: {why}")
    plan = restore_plan(held[0].journal, held[0].held, source.root)
    plan.node = source.name
    return plan


def new_manifest(name: str | None, command: tuple[str, ...], image: str | None, filename: str | None,
                 namespace: str | None, port: int | None) -> bytes:
    """``create``'s pod: NAME --image IMAGE [-- ARGS...], or -f FILE as it is."""
    from podaudit.remedy.create import run_manifest
    from podaudit.userfiles import read_user_text

    if (filename is None) == (name is None or image is None):
        raise InputError("give NAME --image IMAGE, or -f FILE (not both)")
    if filename is not None and (command or port is not None or image is not None):
        raise InputError("-f FILE takes the pod as it is: --image, --port and ARGS go with NAME instead")
    if filename:
        return read_user_text(filename, "-f").encode()
    return run_manifest(name or "", image or "", namespace, port, list(command))


def create_plan_on(source: NodeSource, view: NodeView, manifest: bytes, namespace: str | None) -> Plan:
    from podaudit.remedy.create import CreateError, create_plan

    try:
        return create_plan(view, manifest, source.root, namespace)
    except CreateError as exc:
        raise InputError(f"{source.name}: {exc}") from exc


def transport_of(source: NodeSource, sel: Selection, cluster: Cluster) -> str:
    """How the node is reached, for people: ssh, kubectl-debug, local, root DIR, snapshot."""
    from podaudit.collect.local import NodeHandle
    from podaudit.collect.over_kubectl_debug import DebugNode

    if isinstance(source, DebugNode):
        return "kubectl-debug"
    if isinstance(source, NodeHandle):
        if cluster.origin.startswith("snapshot"):
            return "snapshot, read-only"
        return "local" if source.root == "/" else f"root {source.root}"
    return "ssh, sudo" if sel.sudo else "ssh"


def carry_out(sel: Selection, plan: Plan, source: NodeSource, cluster: Cluster, yes: bool, wait: float,
              run: Runner | None = None) -> tuple[str, str | None]:
    """Apply the plan (with ``yes``) through the node's Shell (or ``run``, one already open),
    wait for the API, record it here: (how the node was reached, the change log's path)."""
    from podaudit import __version__
    from podaudit.remedy.apply import apply, on_node, outcome, record_change, wait_for_mirror
    from podaudit.remedy.script import Result

    transport = transport_of(source, sel, cluster)
    if transport.startswith("snapshot") and plan.refused is None:
        plan.refused = "this is a snapshot: no node can change; the plan shows what would run on the node"
    record = None
    if yes and plan.refused is None:
        try:
            if run is None:
                with on_node(source, sel.sudo) as runner:
                    apply(plan, runner)
            else:
                apply(plan, run)
        except NodeUnavailable as exc:
            # The script may have run in part: say so, keep the record and the ID.
            plan.applied = True
            plan.results = [Result(0, "unknown", f"{exc.message}; what ran is unknown: see podaudit quarantine "
                                                 "list, and the node")]
        record = record_change(plan, __version__)
        api = cluster.api
        if wait > 0 and api is not None and api.origin.startswith("kubectl") and outcome(plan) != "failed":
            plan.waited = wait_for_mirror(sel.kubectl_options(), plan, plan.action != "delete", wait)
    return transport, record
