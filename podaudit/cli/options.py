"""What every command shares: the options (accepted before or after the command name), the
one-line errors, stderr for people, the console, and the nodes the options select.

Nothing of the library is imported at module level, so ``podaudit --help`` starts instantly.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

from podaudit.run.status import ExitStatus

if TYPE_CHECKING:
    from podaudit.audit.baseline import Baseline
    from podaudit.model import NodeFailure
    from podaudit.report.console import SafeConsole
    from podaudit.run.select import Cluster, Selection

FORMATS = ("table", "json", "markdown", "junit", "sarif", "watch-paths")
NODE_FORMATS = ("table", "json")


@dataclass
class Options:
    output: str = "table"
    debug: bool = False
    where: dict[str, Any] = field(default_factory=dict)  # fields of run.select.Selection

    def selection(self) -> Selection:
        from podaudit.run.select import Selection

        return Selection(**self.where)


def notice(line: str) -> None:
    """Every line podaudit writes to stderr for people (errors, notes, "wrote FILE") goes
    through here: it names nodes, paths and what nodes said, so control and format characters
    are escaped (report/escape.py), and the line stays one line."""
    from podaudit.report.escape import printable

    click.echo(printable(line), err=True)


class UsageFailure(click.ClickException):
    """A one-line error for people; exit code 2."""

    exit_code = ExitStatus.INPUT

    def show(self, file: object = None) -> None:
        notice(f"podaudit: error: {self.message}")


def fail(message: str) -> NoReturn:
    raise UsageFailure(message)


@contextmanager
def input_errors() -> Iterator[None]:
    """The library's InputError (bad input from the user) as podaudit's one-line usage error."""
    from podaudit.errors import InputError

    try:
        yield
    except InputError as exc:
        fail(str(exc))


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


def check_format(opts: Options, allowed: tuple[str, ...]) -> None:
    """--output names a format this command writes; one line saying which otherwise."""
    if opts.output not in allowed:
        fail(f"--output {opts.output} is for podaudit sweep; this command writes {' or '.join(allowed)}")


def cluster(opts: Options, host: str | None = None, want_api: bool = False) -> Cluster:
    """The nodes (and API view) the options select; a usage error in one line."""
    from podaudit.run.select import select_cluster

    with input_errors():
        return select_cluster(opts.selection(), host, want_api)


def console() -> SafeConsole:
    """The console of reports for people: node text never markup, never a control character."""
    from podaudit.report.console import SafeConsole

    found = SafeConsole()
    if not found.is_terminal:
        # Piped output is read by people in logs and tickets: do not fold it at 80 columns.
        found = SafeConsole(width=160)
    return found


@contextmanager
def reaching(opts: Options) -> Iterator[None]:
    """Around a command that reads or changes nodes: a node that cannot be reached is one
    line and exit 3; kubectl debug pods are deleted whatever happens."""
    from podaudit.errors import NodeUnavailable

    try:
        yield
    except NodeUnavailable as exc:
        not_audited(exc.failure)
    finally:
        cleanup(opts)


def not_audited(failure: NodeFailure) -> NoReturn:
    """The one node a command needs could not be reached: its line, and exit 3."""
    notice(f"podaudit: {failure.message}")
    sys.exit(ExitStatus.PARTIAL)


def cleanup(opts: Options) -> None:
    """Delete every kubectl debug pod this run made and has not deleted yet (on success, error
    and Ctrl-C alike: the sweep's workers are daemon threads, so their own cleanup may not run)."""
    if opts.selection().via != "kubectl-debug":
        return
    from podaudit.transport.debug_pods import cleanup_debug_pods

    for problem in cleanup_debug_pods():
        notice(f"podaudit: {problem}")


def load_baseline(spec: str | None) -> Baseline | None:
    """--baseline FILE (or builtin:NAME); None without one."""
    if spec is None:
        return None
    from podaudit.audit.baseline import load_baseline as load

    with input_errors():
        return load(spec)
