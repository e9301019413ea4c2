"""The command line: parse options, call the library, pick a format. Nothing else.

Imports of the library happen inside each command so ``podaudit --help`` starts instantly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from podaudit.cluster.source import Cluster

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_PARTIAL = 0, 1, 2, 3
FORMATS = ("table", "json")


@dataclass
class Options:
    snapshot: str | None
    root: str | None
    demo: bool
    output: str
    debug: bool


class UsageFailure(click.ClickException):
    """A one-line error for people; exit code 2."""

    exit_code = EXIT_INPUT

    def show(self, file: object = None) -> None:
        click.echo(f"podaudit: error: {self.message}", err=True)


def _fail(message: str) -> NoReturn:
    raise UsageFailure(message)


def _override(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option repeated after the command (``podaudit find X -o json``) wins."""
    if value is not None and value is not False and param.name:
        setattr(ctx.ensure_object(Options), param.name, value)


def where_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The global options, also accepted after the command name."""
    options = [
        click.option("--snapshot", metavar="DIR", expose_value=False, callback=_override,
                     help="Read a cluster snapshot (nodes/<node>/, api/*.json)."),
        click.option("--root", metavar="DIR", expose_value=False, callback=_override,
                     help="Read one node's root filesystem under DIR, as chroot would."),
        click.option("--demo", is_flag=True, default=None, expose_value=False, callback=_override,
                     help="Use the bundled demo cluster."),
        click.option("-o", "--output", type=click.Choice(FORMATS), expose_value=False, callback=_override,
                     help="Report format."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _cluster(opts: Options) -> Cluster:
    from podaudit.cluster.source import InputError, demo_path, local_cluster, snapshot_cluster

    chosen = [name for name, value in (("--snapshot", opts.snapshot), ("--root", opts.root),
                                       ("--demo", opts.demo or None)) if value is not None]
    if len(chosen) > 1:
        _fail(f"{' and '.join(chosen)} each name where to read nodes from; give only one")
    try:
        if opts.demo:
            return snapshot_cluster(demo_path())
        if opts.snapshot is not None:
            return snapshot_cluster(opts.snapshot)
        return local_cluster("/" if opts.root is None else opts.root)
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
@click.option("--snapshot", metavar="DIR", help="Read a cluster snapshot (nodes/<node>/, api/*.json).")
@click.option("--root", metavar="DIR", help="Read one node's root filesystem under DIR, as chroot would.")
@click.option("--demo", is_flag=True, help="Use the bundled demo cluster (the static-greenbox lab).")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Report format.")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(package_name="podaudit")
@click.pass_context
def cli(ctx: click.Context, snapshot: str | None, root: str | None, demo: bool, output: str, debug: bool) -> None:
    """Find, explain and audit Kubernetes static pods.

    \b
    podaudit --demo find static-greenbox-node01   which node, which file, why, how to remove it
    podaudit node                                 this node's kubelet and its static pods
    podaudit node --root /host                    a node's filesystem mounted elsewhere
    podaudit --snapshot DIR node NODE             one node of a cluster snapshot
    """
    ctx.obj = Options(snapshot, root, demo, output, debug)


@cli.command()
@click.argument("pod")
@click.option("-n", "--namespace", help="Only this namespace (default: any).")
@where_options
@click.pass_obj
def find(opts: Options, pod: str, namespace: str | None) -> None:
    """Which node and which file define the static pod POD (its mirror pod name), and how we know."""
    from podaudit.cluster.locate import find_pod

    result = find_pod(pod, namespace, _cluster(opts))
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
@where_options
@click.pass_obj
def node(opts: Options, node_name: str | None) -> None:
    """How one node's kubelet decides its static pods, and the fate of every manifest entry."""
    cluster = _cluster(opts)
    if node_name is None and len(cluster.nodes) > 1:
        _fail(f"{cluster.origin} has {len(cluster.nodes)} nodes; name one: "
              + ", ".join(n.name for n in cluster.nodes))
    handle = cluster.nodes[0] if node_name is None else cluster.node(node_name)
    if handle is None:
        _fail(f"no node {node_name} in {cluster.origin}; nodes: " + ", ".join(n.name for n in cluster.nodes))
    view = handle.load()
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, node_json

        click.echo(dumps(node_json(view)))
    else:
        from podaudit.report.text import render_node

        render_node(_console(), view)  # type: ignore[arg-type]
    sys.exit(EXIT_PARTIAL if view.incomplete else EXIT_OK)


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
