"""The commands that change nodes: delete, restore, quarantine list, create.

Each builds a plan, shows it, and applies it only with ``--yes``; the applied plan is the one
shown. Library imports stay inside the commands so ``podaudit --help`` starts instantly.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from podaudit.cli.helpfmt import SectionedCommand, SectionedGroup
from podaudit.cli.options import (
    NODE_FORMATS,
    Options,
    Seconds,
    check_format,
    cluster,
    console,
    fail,
    input_errors,
    not_audited,
    notice,
    reaching,
    shared_options,
)

if TYPE_CHECKING:
    from podaudit.collect.source import NodeSource
    from podaudit.remedy.plan import Plan
    from podaudit.run.change import Runner
    from podaudit.run.select import Cluster

_YES = click.option("--yes", is_flag=True, help="Apply the plan (without it, nothing changes).")
_WAIT = click.option("--wait", type=Seconds(0), default=60.0, show_default=True,
                     help="Seconds to wait for the mirror pod to change in the API (0: do not wait).")
_NODE = click.option("--node", "on_node", metavar="NODE", help="The node (when the answer is not unique).")


def _finish(opts: Options, plan: Plan, source: NodeSource, chosen: Cluster, yes: bool, wait: float,
            run: Runner | None = None) -> None:
    """Apply (with --yes), wait for the API, record, show; exit with the outcome."""
    from podaudit.remedy.apply import outcome
    from podaudit.run.change import carry_out
    from podaudit.run.status import plan_status

    transport, record = carry_out(opts.selection(), plan, source, chosen, yes, wait, run)
    _show(opts, plan, transport, record)
    sys.exit(plan_status(plan, outcome(plan) if plan.applied else None, yes))


def _show(opts: Options, plan: Plan, transport: str, record: str | None) -> None:
    if opts.output == "json":
        from podaudit.report.jsonout import dumps
        from podaudit.report.plans import plan_json

        click.echo(dumps(plan_json(plan, transport, record)))
    else:
        from podaudit.report.plans import render_plan

        render_plan(console(), plan, transport, record)


@click.command(cls=SectionedCommand)
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
    from podaudit.remedy.plan import delete_plan
    from podaudit.run.change import one_match
    from podaudit.run.find import find_pod

    check_format(opts, NODE_FORMATS)
    chosen = cluster(opts, want_api=True)
    with reaching(opts), input_errors():
        result = find_pod(pod, namespace, chosen, opts.selection().concurrency)
        for failure in result.unavailable:
            notice(f"podaudit: {failure.message}")
        source, match = one_match(result, pod, on_node)
        plan = delete_plan(match.view, match.pod, source.root, __version__)
        _finish(opts, plan, source, chosen, yes, wait)


@click.command(cls=SectionedCommand)
@click.argument("quarantine_id", metavar="ID")
@_NODE
@_YES
@_WAIT
@shared_options
@click.pass_obj
def restore(opts: Options, quarantine_id: str, on_node: str | None, yes: bool, wait: float) -> None:
    """Put the files of quarantine ID back where they were: the same bytes, mode and owner; a
    different file now at an original path is never overwritten. Shows the plan; --yes applies it."""
    from podaudit.remedy.apply import on_node as reach
    from podaudit.remedy.apply import recorded_node
    from podaudit.remedy.plan import ID_PATTERN
    from podaudit.run.change import one_node, restore_plan_on

    check_format(opts, NODE_FORMATS)
    if not ID_PATTERN.fullmatch(quarantine_id):
        fail(f"{quarantine_id!r} is not a quarantine ID (podaudit delete prints it; podaudit quarantine list "
             "shows them)")
    node = on_node or recorded_node(quarantine_id)
    chosen = cluster(opts, node, want_api=True)
    with input_errors():
        source = one_node(node, chosen)
    with reaching(opts), reach(source, opts.selection().sudo) as run, input_errors():
        plan = restore_plan_on(source, quarantine_id, run)
        _finish(opts, plan, source, chosen, yes, wait, run)


@click.group(cls=SectionedGroup)
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
    from podaudit.run.change import list_script_for, one_node

    check_format(opts, NODE_FORMATS)
    chosen = cluster(opts, node)
    with input_errors():
        source = one_node(node, chosen)
    with reaching(opts), on_node(source, opts.selection().sudo) as run, input_errors():
        held = parse_list(run(list_script_for(source)))
    if opts.output == "json":
        from podaudit.report.jsonout import dumps
        from podaudit.report.plans import held_json

        click.echo(dumps(held_json(source.name, held)))
    else:
        from podaudit.report.plans import render_held

        render_held(console(), source.name, held)


@click.command(cls=SectionedCommand, context_settings={"allow_interspersed_args": True})
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
    from podaudit.collect.source import read_node
    from podaudit.run.change import create_plan_on, new_manifest, one_node

    check_format(opts, NODE_FORMATS)
    with input_errors():
        manifest = new_manifest(name, command, image, filename, namespace, port)
    chosen = cluster(opts, on_node, want_api=True)
    with input_errors():
        source = one_node(on_node, chosen)
    with reaching(opts), input_errors():
        read = read_node(source)
        if read.view is None:
            assert read.failure is not None
            not_audited(read.failure)
        plan = create_plan_on(source, read.view, manifest, namespace)
        _finish(opts, plan, source, chosen, yes, wait)
