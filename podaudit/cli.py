"""The command line: parse options, call the library, pick a format. Nothing else.

Imports of the library happen inside each command so ``podaudit --help`` starts instantly.
Every shared option is accepted before or after the command name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from podaudit.cluster.select import Selection
    from podaudit.cluster.source import Cluster

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_PARTIAL = 0, 1, 2, 3
FORMATS = ("table", "json")


@dataclass
class Options:
    output: str = "table"
    debug: bool = False
    where: dict[str, Any] = field(default_factory=dict)  # fields of cluster.select.Selection

    def selection(self) -> Selection:
        from podaudit.cluster.select import Selection

        return Selection(**self.where)


class UsageFailure(click.ClickException):
    """A one-line error for people; exit code 2."""

    exit_code = EXIT_INPUT

    def show(self, file: object = None) -> None:
        click.echo(f"podaudit: error: {self.message}", err=True)


def _fail(message: str) -> NoReturn:
    raise UsageFailure(message)


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
    (("--timeout",), {"type": click.FloatRange(0.5), "help": "Per-node connect and command timeout, seconds (30)."}),
    (("--deadline",), {"type": click.FloatRange(1), "help": "Whole-run deadline, seconds (none)."}),
    (("-o", "--output"), {"type": click.Choice(FORMATS), "help": "Report format (table)."}),
    (("--debug",), {"is_flag": True, "default": None, "help": "Show tracebacks for unexpected errors."}),
]


def shared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for names, kwargs in reversed(SHARED_OPTIONS):
        command = click.option(*names, expose_value=False, callback=_remember, **kwargs)(command)
    return command


def _cluster(opts: Options, host: str | None = None) -> Cluster:
    from podaudit.cluster.select import select_cluster
    from podaudit.cluster.source import InputError

    try:
        return select_cluster(opts.selection(), host)
    except InputError as exc:
        _fail(str(exc))


def _console() -> object:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped output is read by people in logs and tickets: do not fold it at 80 columns.
        console = Console(highlight=False, width=160)
    return console


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@shared_options
@click.version_option(package_name="podaudit")
def cli() -> None:
    """Find, explain and audit Kubernetes static pods.

    \b
    podaudit --demo find static-greenbox-node01   which node, which file, why, how to remove it
    podaudit node                                 this node's kubelet and its static pods
    podaudit node --root /host                    a node's filesystem mounted elsewhere
    podaudit node node01 --sudo                   one node over SSH
    podaudit sweep --inventory hosts.ini --sudo   every node over SSH, in parallel
    podaudit --snapshot DIR node NODE             one node of a cluster snapshot
    """


@cli.command()
@click.argument("pod")
@click.option("-n", "--namespace", help="Only this namespace (default: any).")
@shared_options
@click.pass_obj
def find(opts: Options, pod: str, namespace: str | None) -> None:
    """Which node and which file define the static pod POD (its mirror pod name), and how we know."""
    from podaudit.cluster.locate import find_pod

    result = find_pod(pod, namespace, _cluster(opts), opts.selection().concurrency)
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, find_json

        click.echo(dumps(find_json(result)))
    else:
        from podaudit.report.text import render_find

        render_find(_console(), result)  # type: ignore[arg-type]
    partial = result.incomplete or result.unavailable
    sys.exit(EXIT_PARTIAL if partial else EXIT_OK if result.matches else EXIT_INPUT)


@cli.command()
@click.argument("node_name", metavar="[NODE]", required=False)
@shared_options
@click.pass_obj
def node(opts: Options, node_name: str | None) -> None:
    """How one node's kubelet decides its static pods, and the fate of every manifest entry."""
    from podaudit.cluster.source import NodeUnavailable

    cluster = _cluster(opts, node_name)
    if node_name is None and len(cluster.nodes) > 1:
        _fail(f"{cluster.origin} has {len(cluster.nodes)} nodes; name one: "
              + ", ".join(n.name for n in cluster.nodes))
    handle = cluster.nodes[0] if node_name is None or len(cluster.nodes) == 1 else cluster.node(node_name)
    if handle is None:
        _fail(f"no node {node_name} in {cluster.origin}; nodes: " + ", ".join(n.name for n in cluster.nodes))
    try:
        view = handle.load()
    except NodeUnavailable as exc:
        click.echo(f"podaudit: {exc.message}", err=True)
        sys.exit(EXIT_PARTIAL)
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, node_json

        click.echo(dumps(node_json(view)))
    else:
        from podaudit.report.text import render_node

        render_node(_console(), view)  # type: ignore[arg-type]
    sys.exit(EXIT_PARTIAL if view.incomplete else EXIT_OK)


@cli.command()
@shared_options
@click.pass_obj
def sweep(opts: Options) -> None:
    """Every node at once: static pod path and source, static pods, problems; unreachable nodes listed."""
    from podaudit.cluster.sweep import run_sweep
    from podaudit.report.progress import progress_for

    cluster = _cluster(opts)
    sel = opts.selection()
    with progress_for(len(cluster.nodes)) as advance:
        result = run_sweep(cluster.nodes, sel.concurrency, sel.deadline, advance)
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, sweep_json

        click.echo(dumps(sweep_json(result)))
    else:
        from podaudit.report.text import render_sweep

        render_sweep(_console(), result)  # type: ignore[arg-type]
    partial = result.failures or any(v.incomplete for v in result.views)
    sys.exit(EXIT_PARTIAL if partial else EXIT_OK)


def main() -> None:
    """Entry point: one line for people on any failure, a traceback only with --debug."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("podaudit: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:
        if "--debug" in sys.argv:
            raise
        reason = f"{type(exc).__name__}: {exc}"
        click.echo(f"podaudit: internal error: {reason} (run with --debug for the traceback)", err=True)
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_OK)
