"""The command line: parse options, call the library, pick a format. Nothing else.

Imports of the library happen inside each command so ``podaudit --help`` starts instantly.
Every shared option is accepted before or after the command name.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from types import FrameType

    from podaudit.cluster.select import Selection
    from podaudit.cluster.source import Cluster
    from podaudit.report.console import SafeConsole

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_PARTIAL = 0, 1, 2, 3
FORMATS = ("table", "json", "markdown", "junit", "sarif", "watch-paths")
NODE_FORMATS = ("table", "json")


@dataclass
class Options:
    output: str = "table"
    debug: bool = False
    where: dict[str, Any] = field(default_factory=dict)  # fields of cluster.select.Selection

    def selection(self) -> Selection:
        from podaudit.cluster.select import Selection

        return Selection(**self.where)


def notice(line: str) -> None:
    """Every line podaudit writes to stderr for people (errors, notes, "wrote FILE") goes
    through here: it names nodes, paths and what nodes said, so control and format characters
    are escaped (report/escape.py), and the line stays one line."""
    from podaudit.report.escape import printable

    click.echo(printable(line), err=True)


class UsageFailure(click.ClickException):
    """A one-line error for people; exit code 2."""

    exit_code = EXIT_INPUT

    def show(self, file: object = None) -> None:
        notice(f"podaudit: error: {self.message}")


def _fail(message: str) -> NoReturn:
    raise UsageFailure(message)


# The most seconds any option takes (a week): beyond it, time.monotonic() + value and the
# socket, thread and subprocess timeouts it reaches overflow or mean nothing.
MAX_SECONDS = 7 * 24 * 3600


class Seconds(click.FloatRange):
    """Seconds for --timeout, --deadline, --api-timeout and --wait: a finite number from
    ``minimum`` to MAX_SECONDS. ``nan`` passes every comparison click's FloatRange makes, and
    ``inf`` overflows the first timeout it reaches: both would fail every node with a
    misleading message, so they are refused here, in one line, before anything runs."""

    name = "seconds"

    def __init__(self, minimum: float) -> None:
        super().__init__(minimum, MAX_SECONDS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(super().convert(value, param, ctx))
        except click.BadParameter:
            seconds = math.nan
        if not math.isfinite(seconds):
            option = param.opts[0] if param is not None and param.opts else "seconds"
            raise UsageFailure(f"{option} {value}: give a number of seconds from {self.min:g} to {MAX_SECONDS:g}")
        return seconds


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Store an option given before or after the command; the later one wins."""
    if value is None or value is False or not param.name:
        return
    opts = ctx.ensure_object(Options)
    if param.name in {"output", "debug"}:
        setattr(opts, param.name, value)
    else:
        opts.where[param.name] = value


SHARED_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--demo",), {"is_flag": True, "default": None, "help": "Use the bundled demo cluster (the greenbox lab)."}),
    (("--snapshot",), {"metavar": "DIR", "help": "Read a cluster snapshot (nodes/<node>/, api/*.json)."}),
    (("--root",), {"metavar": "DIR", "help": "Read one node's root filesystem under DIR, as chroot would."}),
    (("--nodes",), {"metavar": "A,B", "help": "Audit these nodes over SSH (names or user@host:port)."}),
    (("--inventory",), {"metavar": "FILE", "help": "Nodes from a file: one host per line, Ansible INI/YAML, "
                                                  "or kubectl get nodes -o json."}),
    (("--address-type",), {"type": click.Choice(["InternalIP", "ExternalIP", "Hostname"]),
                           "help": "Which node address to connect to, from a kubectl nodes JSON."}),
    (("--ssh-config",), {"metavar": "FILE", "help": "OpenSSH client config (default ~/.ssh/config)."}),
    (("--known-hosts",), {"metavar": "FILE", "help": "Known hosts file (default: the config's, ~/.ssh/known_hosts)."}),
    (("--user",), {"help": "SSH user (beats the ssh_config)."}),
    (("--identity",), {"metavar": "FILE", "help": "SSH private key."}),
    (("--sudo",), {"is_flag": True, "default": None, "help": "Run the read-only collector as root with sudo -n."}),
    (("--accept-new-host-keys",), {"is_flag": True, "default": None,
                                   "help": "Record unknown host keys (OpenSSH accept-new); changed keys still fail."}),
    (("--concurrency",), {"type": click.IntRange(1, 1000), "help": "Nodes audited at once (default 32)."}),
    (("--timeout",), {"type": Seconds(0.5), "help": "Per-node connect and command timeout, seconds (30)."}),
    (("--deadline",), {"type": Seconds(1), "help": "Whole-run deadline, seconds (none)."}),
    (("--kubeconfig",), {"metavar": "FILE", "help": "kubeconfig for the API view (as kubectl takes it)."}),
    (("--context",), {"help": "kubeconfig context for the API view."}),
    (("--kubectl",), {"metavar": "PATH", "help": "The kubectl to run (default: kubectl on PATH)."}),
    (("--no-api",), {"is_flag": True, "default": None,
                     "help": "Do not ask the API server (no mirror pod checks, no API inventory)."}),
    (("--api-timeout",), {"type": Seconds(1), "help": "Seconds for each kubectl call (10)."}),
    (("--via",), {"type": click.Choice(["ssh", "kubectl-debug"]),
                  "help": "Reach nodes over SSH (default) or with kubectl debug node (no SSH needed)."}),
    (("--debug-image",), {"metavar": "IMAGE", "help": "Image of the kubectl debug pod (busybox:1.37)."}),
    (("--debug-namespace",), {"metavar": "NS", "help": "Namespace for kubectl debug pods (the context's)."}),
    (("-o", "--output"), {"type": click.Choice(FORMATS), "help": "Report format (table)."}),
    (("--debug",), {"is_flag": True, "default": None, "help": "Show tracebacks for unexpected errors."}),
]


def shared_options(command: Callable[..., Any], without: tuple[str, ...] = ()) -> Callable[..., Any]:
    for names, kwargs in reversed(SHARED_OPTIONS):
        if not set(names) & set(without):
            command = click.option(*names, expose_value=False, callback=_remember, **kwargs)(command)
    return command


def _check_format(opts: Options, allowed: tuple[str, ...]) -> None:
    if opts.output not in allowed:
        _fail(f"--output {opts.output} is for podaudit sweep; this command writes {' or '.join(allowed)}")


def _cluster(opts: Options, host: str | None = None, want_api: bool = False) -> Cluster:
    from podaudit.cluster.select import select_cluster
    from podaudit.cluster.source import InputError

    try:
        return select_cluster(opts.selection(), host, want_api)
    except InputError as exc:
        _fail(str(exc))


def _cross_check(opts: Options, cluster: Cluster, nodes: list[str], until: float | None = None) -> None:
    """After the nodes were read: the pods again (a manifest added during a long sweep has its
    mirror pod by now) and the live kubelets' configz for PA107, when the API view is live (a
    snapshot may carry api/configz/). A configz refusal is a note: nodes/proxy is often, rightly,
    not granted."""
    api = cluster.api
    if api is None or not api.origin.startswith("kubectl") or "nodes" not in api.loaded or not nodes:
        return
    from podaudit.cluster.kubectl import configz_all, reload_pods

    if "pods" in api.loaded:
        reload_pods(opts.selection().kubectl_options(), api)

    # Only nodes the API knows and calls Ready: the API server cannot proxy to a kubelet that is down.
    ready = [n for n in nodes if (known := api.node(n)) is not None and known.ready == "True"]
    found, problems = configz_all(opts.selection().kubectl_options(), ready, until=until)
    api.configz.update(found)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        cluster.notes.append(f"PA107 not checked where configz could not be read: {problems[0]}{more}")


def _console() -> SafeConsole:
    """The console of reports for people: node text never markup, never a control character."""
    from podaudit.report.console import SafeConsole

    console = SafeConsole()
    if not console.is_terminal:
        # Piped output is read by people in logs and tickets: do not fold it at 80 columns.
        console = SafeConsole(width=160)
    return console


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@shared_options
@click.version_option(package_name="podaudit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Find, explain and audit Kubernetes static pods.

    \b
    podaudit --demo find static-greenbox-node01   which node, which file, why, how to remove it
    podaudit node                                 this node's kubelet and its static pods
    podaudit node --root /host                    a node's filesystem mounted elsewhere
    podaudit node node01 --sudo                   one node over SSH
    podaudit sweep --inventory hosts.ini --sudo   every node over SSH, in parallel
    podaudit --snapshot DIR node NODE             one node of a cluster snapshot
    podaudit sweep --context prod                 every node the API lists, both sides compared
    podaudit delete static-greenbox-node01        the plan to remove it; --yes applies it
    podaudit collect -o b.tar.gz; podaudit analyze b.tar.gz   offline, same report
    """
    ctx.ensure_object(Options)


@cli.command()
@click.argument("pod")
@click.option("-n", "--namespace", help="Only this namespace (default: any).")
@shared_options
@click.pass_obj
def find(opts: Options, pod: str, namespace: str | None) -> None:
    """Which node and which file define the static pod POD (its mirror pod name), and how we know."""
    from podaudit.cluster.locate import find_pod

    _check_format(opts, NODE_FORMATS)
    try:
        result = find_pod(pod, namespace, _cluster(opts, want_api=True), opts.selection().concurrency)
    finally:
        _cleanup(opts)
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, find_json

        click.echo(dumps(find_json(result)))
    else:
        from podaudit.report.text import render_find

        render_find(_console(), result)
    partial = result.incomplete or result.unavailable
    sys.exit(EXIT_PARTIAL if partial else EXIT_OK if result.matches else EXIT_INPUT)


@cli.command()
@click.argument("node_name", metavar="[NODE]", required=False)
@shared_options
@click.pass_obj
def node(opts: Options, node_name: str | None) -> None:
    """How one node's kubelet decides its static pods, and the fate of every manifest entry."""
    _check_format(opts, NODE_FORMATS)
    cluster = _cluster(opts, node_name)
    if node_name is None and len(cluster.nodes) > 1:
        _fail(f"{cluster.origin} has {len(cluster.nodes)} nodes; name one: "
              + ", ".join(n.name for n in cluster.nodes))
    handle = cluster.nodes[0] if node_name is None or len(cluster.nodes) == 1 else cluster.node(node_name)
    if handle is None:
        _fail(f"no node {node_name} in {cluster.origin}; nodes: " + ", ".join(n.name for n in cluster.nodes))
    with reaching(opts):
        view = handle.load()
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, node_json

        click.echo(dumps(node_json(view)))
    else:
        from podaudit.report.text import render_node

        render_node(_console(), view)
    sys.exit(EXIT_PARTIAL if view.incomplete else EXIT_OK)


_SWEEP_OPTIONS = [
    click.option("--fail-on", type=click.Choice(["info", "low", "medium", "high", "critical"]), default="high",
                 show_default=True, help="Exit 1 when a finding is at or above this severity."),
    click.option("--baseline", metavar="FILE", help="Expected static pods per role and suppressions "
                                                    "(a file, or builtin:kubeadm|rke2|k3s)."),
    click.option("--write-baseline", metavar="FILE", help="Record what this run found as a baseline."),
]


def sweep_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_SWEEP_OPTIONS):
        command = option(command)
    return command


@cli.command()
@sweep_options
@shared_options
@click.pass_obj
def sweep(opts: Options, fail_on: str, baseline: str | None, write_baseline: str | None) -> None:
    """Every node at once: static pod path and source, static pods, findings; unreachable nodes listed.

    Exit codes: 1 a finding at or above --fail-on; else 3 when some nodes could not be audited
    (or only in part: PA901-PA904, unless the baseline suppresses them); else 0. 2 is a usage
    or input error. The report covers every node either way.
    """

    expected = _load_baseline(baseline)
    report(opts, _cluster(opts, want_api=True), fail_on, expected, write_baseline)


def report(opts: Options, cluster: Cluster, fail_on: str, expected: Any, write_baseline: str | None) -> NoReturn:
    """Read every node of ``cluster``, audit, render, exit: the body of sweep and analyze."""
    import time

    from podaudit.audit.engine import audit, duplicate_names
    from podaudit.cluster.sweep import run_sweep
    from podaudit.report.progress import progress_for

    sel = opts.selection()
    until = None if sel.deadline is None else time.monotonic() + sel.deadline
    try:
        with progress_for(len(cluster.nodes)) as advance:
            result = run_sweep(cluster.nodes, sel.concurrency, sel.deadline, advance)
    finally:
        _cleanup(opts)
    duplicates = duplicate_names(result)
    if duplicates:
        _fail(f"several nodes report the node name {', '.join(duplicates)} (cloned machines, or a host listed "
              "twice): their findings would be mixed; fix the inventory or the nodes' names")
    _cross_check(opts, cluster, [v.node_name.value for v in result.views], until)
    findings = audit(result, expected, cluster.api)
    # API failures are PA905 findings already; the notes keep the rest.
    failed = set(cluster.api.failed.values()) if cluster.api is not None else set()
    findings.notes = [n for n in cluster.notes if n not in failed] + findings.notes
    if write_baseline:
        _write_baseline(write_baseline, findings)
    _render_sweep(opts, result, findings, cluster.api)
    # Findings at or above --fail-on win over "not audited", so a CI job tolerating 3 sees them.
    if findings.failing(fail_on):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_PARTIAL if findings.not_audited or findings.errors else EXIT_OK)


@contextmanager
def reaching(opts: Options) -> Iterator[None]:
    """Around a command that reads or changes nodes: a node that cannot be reached is one
    line and exit 3; kubectl debug pods are deleted whatever happens."""
    from podaudit.cluster.source import NodeUnavailable

    try:
        yield
    except NodeUnavailable as exc:
        notice(f"podaudit: {exc.message}")
        sys.exit(EXIT_PARTIAL)
    finally:
        _cleanup(opts)


def _cleanup(opts: Options) -> None:
    """Delete every kubectl debug pod this run made and has not deleted yet (on success, error
    and Ctrl-C alike: the sweep's workers are daemon threads, so their own cleanup may not run)."""
    if opts.selection().via != "kubectl-debug":
        return
    from podaudit.collect.over_kubectl_debug import cleanup_debug_pods

    for problem in cleanup_debug_pods():
        notice(f"podaudit: {problem}")


def _load_baseline(spec: str | None) -> Any:
    if spec is None:
        return None
    from podaudit.audit.baseline import load_baseline
    from podaudit.cluster.source import InputError

    try:
        return load_baseline(spec)
    except InputError as exc:
        _fail(str(exc))


def _write_baseline(path: str, findings: Any) -> None:
    from podaudit.audit.baseline import build_baseline

    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(build_baseline(findings.contexts))
    except OSError as exc:
        _fail(f"--write-baseline {path}: {exc.strerror}")


def _render_sweep(opts: Options, result: Any, findings: Any, api: Any) -> None:
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

        render_sweep(_console(), result, findings)


@cli.command()
@shared_options
@click.pass_obj
def rules(opts: Options) -> None:
    """List every rule: ID, severity, title."""
    from podaudit.audit.docs import rules_markdown, rules_table

    _check_format(opts, ("table", "markdown"))
    click.echo(rules_markdown() if opts.output == "markdown" else rules_table(), nl=False)


@cli.command()
@click.argument("rule_id", metavar="ID")
def explain(rule_id: str) -> None:
    """The page of one rule: what it flags, why it matters, how to fix it, an example."""
    from podaudit.audit.docs import rule_page
    from podaudit.audit.registry import load_all_rules

    found = load_all_rules().get(rule_id.upper())
    if found is None:
        _fail(f"no rule {rule_id}; `podaudit rules` lists them")
    click.echo(rule_page(found), nl=False)


# The commands that change nodes live in their own module; importing it registers them.
from podaudit import cli_bundle, cli_remedy  # noqa: E402

del cli_bundle, cli_remedy


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM. A subclass on purpose: CPython (3.11) marks a plain KeyboardInterrupt
    that passes through exec() of a string (dataclasses and namedtuple make their methods so,
    at import) as unhandled, and the process then ends by SIGINT, not with podaudit's code
    (run_eval_code_obj in Python/pythonrun.c compares the exception type exactly)."""


@dataclass
class _Interrupt:
    pid: int = 0  # podaudit's own process: a forked worker inherits the handler, not the role
    signum: int = 0  # the signal that interrupted the run


_INTERRUPT = _Interrupt()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C, and SIGTERM (a CI job cancelled, kill PID, timeout(1)) the same way: a sweep stops
    its workers and prints what finished; finally blocks and atexit run, so debug pods are
    deleted and nothing is left half-written. The exit code names the signal."""
    if os.getpid() != _INTERRUPT.pid:
        os._exit(128 + signum)  # a worker forked before it set its own handlers: it just ends
    _INTERRUPT.signum = signum
    raise Interrupted


def _show(exc: click.ClickException) -> None:
    """A click error: ours is one line; click's own (an unknown option, a missing argument)
    quote what was typed, so their lines go through ``notice`` too."""
    if isinstance(exc, UsageFailure):
        exc.show()
        return
    import io

    text = io.StringIO()
    exc.show(file=text)
    for line in text.getvalue().splitlines():
        notice(line)


def main() -> None:
    """Entry point: one line for people on any failure, a traceback only with --debug."""
    import signal

    _INTERRUPT.pid = os.getpid()
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    # As a kubectl plugin (kubectl-podaudit), help and errors say "kubectl podaudit".
    plugin = os.path.basename(sys.argv[0]) == "kubectl-podaudit"
    try:
        cli.main(prog_name="kubectl podaudit" if plugin else None, standalone_mode=False)
    except click.exceptions.Abort:
        notice("podaudit: interrupted")
        sys.exit(128 + (_INTERRUPT.signum or signal.SIGINT))
    except click.ClickException as exc:
        _show(exc)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:
        if "--debug" in sys.argv:
            raise
        notice(f"podaudit: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_OK)
