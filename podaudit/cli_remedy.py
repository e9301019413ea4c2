"""The commands that change nodes: delete, restore, quarantine list, create.

Each builds a plan, shows it, and applies it only with ``--yes``; the applied plan is the one
shown. Library imports stay inside the commands so ``podaudit --help`` starts instantly.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from podaudit.cli import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    Options,
    Seconds,
    _cluster,
    _console,
    _fail,
    cli,
    notice,
    reaching,
    shared_options,
)

if TYPE_CHECKING:
    from podaudit.cluster.source import Cluster, NodeSource
    from podaudit.remedy.plan import Plan

_YES = click.option("--yes", is_flag=True, help="Apply the plan (without it, nothing changes).")
_WAIT = click.option("--wait", type=Seconds(0), default=60.0, show_default=True,
                     help="Seconds to wait for the mirror pod to change in the API (0: do not wait).")
_NODE = click.option("--node", "on_node", metavar="NODE", help="The node (when the answer is not unique).")


def _transport(source: NodeSource, opts: Options, cluster: Cluster) -> str:
    from podaudit.cluster.source import NodeHandle
    from podaudit.collect.over_kubectl_debug import DebugNode

    if isinstance(source, DebugNode):
        return "kubectl-debug"
    if isinstance(source, NodeHandle):
        if cluster.origin.startswith("snapshot"):
            return "snapshot, read-only"
        return "local" if source.root == "/" else f"root {source.root}"
    return "ssh, sudo" if opts.selection().sudo else "ssh"


def _finish(opts: Options, plan: Plan, source: NodeSource, cluster: Cluster, yes: bool, wait: float,
            run: Any = None) -> None:
    """Apply (with --yes), wait for the API, record, show; exit with the outcome."""
    from podaudit import __version__
    from podaudit.cluster.source import NodeUnavailable
    from podaudit.remedy.apply import (
        apply,
        on_node,
        outcome,
        record_change,
        wait_for_mirror,
    )
    from podaudit.remedy.script import Result

    transport = _transport(source, opts, cluster)
    if transport.startswith("snapshot") and plan.refused is None:
        plan.refused = "this is a snapshot: no node can change; the plan shows what would run on the node"
    record = None
    if yes and plan.refused is None:
        try:
            if run is None:
                with on_node(source, opts.selection().sudo) as runner:
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
            plan.waited = wait_for_mirror(opts.selection().kubectl_options(), plan, plan.action != "delete", wait)
    _show(opts, plan, transport, record)
    if plan.refused is not None:
        sys.exit(EXIT_INPUT if yes else EXIT_OK)
    sys.exit(EXIT_OK if not plan.applied or outcome(plan) == "done" else EXIT_PARTIAL)


def _show(opts: Options, plan: Plan, transport: str, record: str | None) -> None:
    if opts.output == "json":
        from podaudit.report.jsonout import dumps
        from podaudit.report.plans import plan_json

        click.echo(dumps(plan_json(plan, transport, record)))
    else:
        from podaudit.report.plans import render_plan

        render_plan(_console(), plan, transport, record)


def _formats(opts: Options) -> None:
    if opts.output not in ("table", "json"):
        _fail(f"--output {opts.output}: this command writes table or json")


@cli.command()
@click.argument("pod")
@click.option("-n", "--namespace", help="Only this namespace (default: any).")
@_NODE
@_YES
@_WAIT
@shared_options
@click.pass_obj
def delete(opts: Options, pod: str, namespace: str | None, on_node: str | None, yes: bool, wait: float) -> None:
    """Stop static pod POD (its mirror pod name) for good: every file in the watched directory
    that defines it is moved to a quarantine folder on the node. Shows the plan; --yes applies it."""
    from podaudit import __version__
    from podaudit.cluster.locate import find_pod
    from podaudit.remedy.apply import node_root
    from podaudit.remedy.plan import delete_plan

    _formats(opts)
    cluster = _cluster(opts, want_api=True)
    with reaching(opts):
        result = find_pod(pod, namespace, cluster, opts.selection().concurrency)
        matches = [m for m in result.matches if on_node in (None, m.view.node_name.value, m.view.label)]
        for failure in result.unavailable:
            notice(f"podaudit: {failure.message}")
        if not matches:
            hint = f"; did you mean {', '.join(result.suggestions)}?" if result.suggestions else ""
            _fail(f"no static pod {pod} found on the nodes read{hint}")
        if len(matches) > 1:
            _fail(f"{pod} is defined on several nodes ({', '.join(m.view.label for m in matches)}); pick one with "
                  "--node")
        match = matches[0]
        source = next(c.node for c in result.candidates if c.node.name == match.view.label)
        plan = delete_plan(match.view, match.pod, node_root(source), __version__)
        _finish(opts, plan, source, cluster, yes, wait)


def _one_node(opts: Options, node: str | None, cluster: Cluster) -> NodeSource:
    if node is None:
        if len(cluster.nodes) == 1:
            return cluster.nodes[0]
        _fail(f"{cluster.origin} has {len(cluster.nodes)} nodes; name one with --node")
    found = cluster.node(node) or (cluster.nodes[0] if len(cluster.nodes) == 1 and cluster.nodes[0].only else None)
    if found is None:
        _fail(f"no node {node} in {cluster.origin}")
    return found


@cli.command()
@click.argument("quarantine_id", metavar="ID")
@_NODE
@_YES
@_WAIT
@shared_options
@click.pass_obj
def restore(opts: Options, quarantine_id: str, on_node: str | None, yes: bool, wait: float) -> None:
    """Put the files of quarantine ID back where they were: the same bytes, mode and owner; a
    different file now at an original path is never overwritten. Shows the plan; --yes applies it."""
    from podaudit.remedy.apply import node_root, recorded_node
    from podaudit.remedy.apply import on_node as reach
    from podaudit.remedy.plan import ID_PATTERN, restore_plan
    from podaudit.remedy.quarantine import parse_list

    _formats(opts)
    if not ID_PATTERN.fullmatch(quarantine_id):
        _fail(f"{quarantine_id!r} is not a quarantine ID (podaudit delete prints it; podaudit quarantine list "
              "shows them)")
    node = on_node or recorded_node(quarantine_id)
    cluster = _cluster(opts, node, want_api=True)
    source = _one_node(opts, node, cluster)
    with reaching(opts), reach(source, opts.selection().sudo) as run:
        held = [h for h in parse_list(run(_list_script(source, quarantine_id))) if h.quarantine_id == quarantine_id]
        if not held or held[0].journal is None:
            why = held[0].problem if held else "no such quarantine folder"
            _fail(f"{source.name}: quarantine {quarantine_id}: {why}")
        plan = restore_plan(held[0].journal, held[0].held, node_root(source))
        plan.node = source.name
        _finish(opts, plan, source, cluster, yes, wait, run)


def _list_script(source: NodeSource, only: str | None = None) -> bytes:
    """The quarantine list script for this node; one line and exit 2 when under --root the
    quarantine folder cannot be followed inside the root."""
    from podaudit.remedy.apply import node_root
    from podaudit.remedy.quarantine import list_script
    from podaudit.remedy.script import Unresolvable

    try:
        return list_script(node_root(source), only)
    except Unresolvable as exc:
        _fail(f"{source.name}: {exc}")


@cli.group()
def quarantine() -> None:
    """What podaudit delete put aside on a node."""


@quarantine.command("list")
@click.argument("node", metavar="[NODE]", required=False)
@shared_options
@click.pass_obj
def quarantine_list(opts: Options, node: str | None) -> None:
    """The quarantine folders on NODE (this machine when none): pod, time, files still held."""
    from podaudit.remedy.apply import on_node
    from podaudit.remedy.quarantine import parse_list

    _formats(opts)
    cluster = _cluster(opts, node)
    source = _one_node(opts, node, cluster)
    with reaching(opts), on_node(source, opts.selection().sudo) as run:
        held = parse_list(run(_list_script(source)))
    if opts.output == "json":
        from podaudit.report.jsonout import dumps
        from podaudit.report.plans import held_json

        click.echo(dumps(held_json(source.name, held)))
    else:
        from podaudit.report.plans import render_held

        render_held(_console(), source.name, held)


@cli.command(context_settings={"allow_interspersed_args": True})
@click.argument("name", required=False)
@click.argument("command", nargs=-1)
@click.option("--image", help="The container image (with NAME).")
@click.option("-f", "--filename", metavar="FILE", help="A Pod manifest to place instead (YAML or JSON).")
@click.option("-n", "--namespace", help="The pod's namespace (default: default).")
@click.option("--port", type=click.IntRange(1, 65535), help="containerPort of the container.")
@_NODE
@_YES
@_WAIT
@shared_options
@click.pass_obj
def create(opts: Options, name: str | None, command: tuple[str, ...], image: str | None, filename: str | None,
           namespace: str | None, port: int | None, on_node: str | None, yes: bool, wait: float) -> None:
    """Place a new static pod on a node: NAME --image IMAGE [-- ARGS...], or -f pod.yaml. The
    manifest goes into the directory that node's kubelet really watches, written atomically,
    mode 600 root:root. Shows the plan; --yes applies it."""
    from podaudit.cluster.source import InputError, read_user_text
    from podaudit.remedy.apply import node_root
    from podaudit.remedy.create import CreateError, create_plan, run_manifest

    _formats(opts)
    if (filename is None) == (name is None or image is None):
        _fail("give NAME --image IMAGE, or -f FILE (not both)")
    if filename is not None and (command or port is not None or image is not None):
        _fail("-f FILE takes the pod as it is: --image, --port and ARGS go with NAME instead")
    try:
        manifest = read_user_text(filename, "-f").encode() if filename else \
            run_manifest(name or "", image or "", namespace, port, list(command))
    except InputError as exc:
        _fail(str(exc))
    cluster = _cluster(opts, on_node, want_api=True)
    source = _one_node(opts, on_node, cluster)
    with reaching(opts):
        view = source.load()
        try:
            plan = create_plan(view, manifest, node_root(source), namespace)
        except CreateError as exc:
            _fail(f"{source.name}: {exc}")
        _finish(opts, plan, source, cluster, yes, wait)
