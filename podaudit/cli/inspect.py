"""find, node and sweep: where a static pod comes from, how one node decides, every node at once."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from podaudit.cli.options import (
    NODE_FORMATS,
    Options,
    check_format,
    cleanup,
    cluster,
    console,
    input_errors,
    load_baseline,
    not_audited,
    reaching,
    shared_options,
    sweep_options,
)

if TYPE_CHECKING:
    from podaudit.api.view import ApiView
    from podaudit.audit.baseline import Baseline
    from podaudit.audit.engine import AuditResult
    from podaudit.audit.registry import Severity
    from podaudit.collect.source import SweepResult
    from podaudit.run.select import Cluster


@click.command()
@click.argument("pod")
@click.option("-n", "--namespace", help="Only this namespace (default: any).")
@shared_options
@click.pass_obj
def find(opts: Options, pod: str, namespace: str | None) -> None:
    """Which node and which file define the static pod POD (its mirror pod name), and how we know."""
    from podaudit.run.find import find_pod
    from podaudit.run.status import find_status

    check_format(opts, NODE_FORMATS)
    try:
        result = find_pod(pod, namespace, cluster(opts, want_api=True), opts.selection().concurrency)
    finally:
        cleanup(opts)
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, find_json

        click.echo(dumps(find_json(result)))
    else:
        from podaudit.report.text import render_find

        render_find(console(), result)
    sys.exit(find_status(result))


@click.command()
@click.argument("node_name", metavar="[NODE]", required=False)
@shared_options
@click.pass_obj
def node(opts: Options, node_name: str | None) -> None:
    """How one node's kubelet decides its static pods, and the fate of every manifest entry."""
    from podaudit.collect.source import read_node
    from podaudit.run.change import one_node
    from podaudit.run.status import node_status

    check_format(opts, NODE_FORMATS)
    chosen = cluster(opts, node_name)
    with input_errors():
        handle = one_node(node_name, chosen, named_by="")
    with reaching(opts):
        [handle] = chosen.about_to_read([handle])
        read = read_node(handle)
    if read.view is None:
        assert read.failure is not None
        not_audited(read.failure)
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, node_json

        click.echo(dumps(node_json(read.node, read.view)))
    else:
        from podaudit.report.text import render_node

        render_node(console(), read.node, read.view)
    sys.exit(node_status(read))


@click.command()
@sweep_options
@shared_options
@click.pass_obj
def sweep(opts: Options, fail_on: Severity, baseline: str | None, write_baseline: str | None) -> None:
    """Every node at once: static pod path and source, static pods, findings; unreachable nodes listed.

    Exit codes: 1 a finding at or above --fail-on; else 3 when some nodes could not be audited
    (or only in part, or the API: PA901-PA906, unless the baseline suppresses them); else 0. 2 is a usage
    or input error. The report covers every node either way.
    """

    expected = load_baseline(baseline)
    report(opts, cluster(opts, want_api=True), fail_on, expected, write_baseline)


def report(opts: Options, chosen: Cluster, fail_on: Severity, expected: Baseline | None,
           write_baseline: str | None) -> NoReturn:
    """Read every node of ``chosen``, audit, render, exit: the body of sweep and analyze."""
    from podaudit.run.audit import audit_cluster
    from podaudit.run.audit import write_baseline as save_baseline
    from podaudit.run.status import sweep_status

    with input_errors():
        result, findings = audit_cluster(opts.selection(), chosen, expected, lambda: cleanup(opts))
        if write_baseline:
            save_baseline(write_baseline, findings)
    render_sweep(opts, result, findings, chosen.api)
    sys.exit(sweep_status(findings, fail_on))


def render_sweep(opts: Options, result: SweepResult, findings: AuditResult, api: ApiView | None) -> None:
    """The same result objects in every format."""
    from podaudit import __version__

    if opts.output == "json":
        from podaudit.report.jsonout import dumps, sweep_json

        click.echo(dumps(sweep_json(result, findings, api)))
    elif opts.output == "markdown":
        from podaudit.report.markdown import render_markdown

        click.echo(render_markdown(result, findings), nl=False)
    elif opts.output == "junit":
        from podaudit.report.junit import render_junit

        click.echo(render_junit(result, findings))
    elif opts.output == "sarif":
        import json

        from podaudit.report.sarif import render_sarif

        click.echo(json.dumps(render_sarif(result, findings, __version__), indent=2, ensure_ascii=True))
    elif opts.output == "watch-paths":
        from podaudit.report.watch import render_watch_paths

        click.echo(render_watch_paths(result), nl=False)
    else:
        from podaudit.report.text import render_sweep

        render_sweep(console(), result, findings)
