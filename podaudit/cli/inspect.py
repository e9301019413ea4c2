"""find, node and sweep: where a static pod comes from, how one node decides, every node at once."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from podaudit.cli.helpfmt import SectionedCommand
from podaudit.cli.options import (
    ALL_SECTIONS,
    NODE_FORMATS,
    SWEEP_FORMATS,
    Options,
    check_format,
    cleanup,
    cluster,
    console,
    fail,
    input_errors,
    load_baseline,
    not_audited,
    notice,
    reaching,
    shared_options,
    sweep_options,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from podaudit.api.view import ApiView
    from podaudit.audit.baseline import Baseline
    from podaudit.audit.engine import AuditResult
    from podaudit.audit.registry import Severity
    from podaudit.collect.source import SweepResult
    from podaudit.run.audit import Acceptance
    from podaudit.run.select import Cluster


@click.command(cls=SectionedCommand)
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


@click.command(cls=SectionedCommand)
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


@click.command(cls=SectionedCommand)
@sweep_options
@shared_options(sections=ALL_SECTIONS, formats=SWEEP_FORMATS)
@click.pass_obj
def sweep(opts: Options, /, **asked: Any) -> None:
    """Every node at once: static pod path and source, static pods, findings; unreachable nodes listed.

    Exit codes: 1 a finding at or above --fail-on; else 3 when some nodes could not be audited
    (or only in part, or the API: PA901-PA906, unless the baseline suppresses them); else 0. 2 is a usage
    or input error. The report covers every node either way. --severity, --rule and --skip-rule
    choose what is shown, never the exit code.
    """

    request = sweep_request(opts, asked)
    report(opts, cluster(opts, want_api=True), request)


@dataclass(frozen=True)
class SweepRequest:
    """What sweep and analyze are asked for beyond reading the nodes; checked before any node is read."""

    fail_on: Severity
    baseline: Baseline | None
    write_baseline: str | None
    accept: Acceptance | None
    reports: list[tuple[str, str]]
    severities: frozenset[Severity] | None
    rules: frozenset[str]
    skip_rules: frozenset[str]

    def filtered(self) -> bool:
        return self.severities is not None or bool(self.rules) or bool(self.skip_rules)


def sweep_request(opts: Options, asked: dict[str, Any]) -> SweepRequest:
    """The sweep options, each checked (one line and exit 2 for a bad one) before the sweep."""
    from podaudit.cli.reports import parse_reports

    check_format(opts, SWEEP_FORMATS)
    with input_errors():
        reports = parse_reports(asked["reports"], SWEEP_FORMATS)
        severities, rules, skip_rules = _filters(asked)
        accept = _acceptance(asked)
    return SweepRequest(asked["fail_on"], load_baseline(asked["baseline"]), asked["write_baseline"], accept,
                        reports, severities, rules, skip_rules)


def _filters(asked: dict[str, Any]) -> tuple[frozenset[Severity] | None, frozenset[str], frozenset[str]]:
    if not (asked["severity"] or asked["rules"] or asked["skip_rules"]):
        return None, frozenset(), frozenset()
    from podaudit.audit.shown import parse_rules, parse_severities
    from podaudit.errors import InputError

    def parsed(option: str, key: str, parse: Callable[[str], frozenset[Any]]) -> frozenset[Any] | None:
        if not asked[key]:
            return None
        try:
            return parse(asked[key])
        except InputError as exc:
            raise InputError(f"{option} {asked[key]}: {exc}") from exc

    return (parsed("--severity", "severity", parse_severities), parsed("--rule", "rules", parse_rules) or frozenset(),
            parsed("--skip-rule", "skip_rules", parse_rules) or frozenset())


def _acceptance(asked: dict[str, Any]) -> Acceptance | None:
    """--accept-findings (with --reason, --expires) only with --write-baseline."""
    if not asked["accept_findings"]:
        if asked["reason"] or asked["expires"]:
            fail("--reason and --expires go with --accept-findings")
        return None
    if not asked["write_baseline"]:
        fail("--accept-findings records today's findings in the baseline --write-baseline FILE writes")
    from datetime import date

    from podaudit.run.audit import Acceptance

    return Acceptance.parse(asked["reason"], asked["expires"], date.today())


def report(opts: Options, chosen: Cluster, request: SweepRequest) -> NoReturn:
    """Read every node of ``chosen``, audit, render, exit: the body of sweep and analyze."""
    from podaudit.run.audit import audit_cluster
    from podaudit.run.audit import write_baseline as save_baseline
    from podaudit.run.status import sweep_status

    with input_errors():
        result, findings = audit_cluster(opts.selection(), chosen, request.baseline, lambda: cleanup(opts))
        if request.write_baseline:
            save_baseline(request.write_baseline, findings, request.accept)
    render_sweep(opts, result, _shown(findings, request), chosen.api, request.reports)
    sys.exit(sweep_status(findings, request.fail_on))


def _shown(findings: AuditResult, request: SweepRequest) -> AuditResult:
    """The findings to show; the exit code and the baseline keep them all."""
    if not request.filtered():
        return findings
    from podaudit.audit.shown import shown

    kept = shown(findings, request.severities, request.rules, request.skip_rules)
    hidden = len(findings.findings) - len(kept.findings)
    if hidden:  # a filtered report says so, and that the gate still counts what it hides
        kept.notes = [*kept.notes, f"{hidden} finding{'s' if hidden > 1 else ''} not shown (--severity, --rule, "
                                   "--skip-rule); the exit code still counts them"]
    return kept


def render_sweep(opts: Options, result: SweepResult, findings: AuditResult, api: ApiView | None,
                 reports: list[tuple[str, str]]) -> None:
    """The same result objects in every format: -o to standard output, each --report to its file."""
    from podaudit.cli.reports import render, write_report

    with input_errors():
        for form, path in reports:
            write_report(path, render(form, result, findings, api))
            notice(f"wrote {path} ({form})")
    if opts.output == "table":
        from podaudit.report.text import render_sweep as render_table

        render_table(console(), result, findings)
    elif opts.output == "json":  # a fleet's JSON is written piece by piece, never held whole
        from podaudit.report.jsonout import iter_sweep_json

        for part in iter_sweep_json(result, findings, api):
            click.echo(part, nl=False)
        click.echo("")
    else:
        click.echo(render(opts.output, result, findings, api), nl=False)
