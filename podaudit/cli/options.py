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

from podaudit.cli.helpfmt import SectionedOption
from podaudit.run.status import ExitStatus

if TYPE_CHECKING:
    from podaudit.audit.baseline import Baseline
    from podaudit.cli.settings import Settings
    from podaudit.model import NodeFailure
    from podaudit.report.console import SafeConsole
    from podaudit.run.select import Cluster, Selection

SWEEP_FORMATS = ("table", "json", "markdown", "junit", "sarif", "html", "watch-paths")
NODE_FORMATS = ("table", "json")
BUNDLE_FORMATS = ("tar.gz", "armored")
ALL_FORMATS = (*SWEEP_FORMATS, *BUNDLE_FORMATS)


@dataclass
class Options:
    output: str = "table"
    debug: bool = False
    config_file: str | None = None  # --config-file (read before click parses: cli/settings.py)
    settings: Settings | None = None  # the settings file read, and its values
    where: dict[str, Any] = field(default_factory=dict)  # fields of run.select.Selection
    sources: dict[str, str] = field(default_factory=dict)  # option name: flag, env NAME, file, default
    ranks: dict[str, int] = field(default_factory=dict)  # option name: strength of its source

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


# Where a value came from, weakest first: a later source of equal strength wins (an option
# given before and after the command name), a weaker one never replaces a stronger one.
_RANK = {"DEFAULT": 0, "DEFAULT_MAP": 1, "ENVIRONMENT": 2, "PROMPT": 3, "COMMANDLINE": 3}


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Store a shared option and where it came from (flag, environment, config file)."""
    if value is None or not param.name:
        return
    opts = ctx.ensure_object(Options)
    source = ctx.get_parameter_source(param.name)
    rank = _RANK.get(source.name if source is not None else "DEFAULT", 0)
    if rank == 0 and value is False:
        return
    if rank < opts.ranks.get(param.name, -1):
        return
    opts.ranks[param.name] = rank
    opts.sources[param.name] = _source_label(param, source.name if source is not None else "DEFAULT")
    if param.name in {"output", "debug", "config_file"}:
        setattr(opts, param.name, value)
    else:
        opts.where[param.name] = value


def _source_label(param: click.Parameter, source: str) -> str:
    if source == "ENVIRONMENT" and isinstance(param, click.Option) and isinstance(param.envvar, str):
        return f"env {param.envvar}"
    return {"COMMANDLINE": "flag", "DEFAULT_MAP": "file", "DEFAULT": "default"}.get(source, source.lower())


def envvar(name: str) -> str:
    """PODAUDIT_<OPTION>: every option can come from the environment (--fail-on: PODAUDIT_FAIL_ON)."""
    return "PODAUDIT_" + name.lstrip("-").replace("-", "_").upper()


NODES, CONNECTION, API, OUTPUT, AUDIT, OTHER = "Nodes", "Connection", "API", "Output", "Audit", "Other"

# (names, help section, click keyword arguments). Each command takes the sections it uses;
# the group takes them all, so any of them may also come before the command name.
SHARED_OPTIONS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (("--demo",), NODES, {"is_flag": True, "default": None,
                          "help": "Use the bundled demo cluster (the greenbox lab)."}),
    (("--snapshot",), NODES, {"metavar": "DIR", "help": "Read a cluster snapshot (nodes/<node>/, api/*.json)."}),
    (("--root",), NODES, {"metavar": "DIR", "help": "Read one node's root filesystem under DIR, as chroot would."}),
    (("--nodes",), NODES, {"metavar": "A,B", "help": "Audit these nodes over SSH (names or user@host:port)."}),
    (("--inventory",), NODES, {"metavar": "FILE", "help": "Nodes from a file: one host per line, Ansible INI/YAML, "
                               "ansible-inventory --list JSON, or kubectl get nodes -o json."}),
    (("--limit",), NODES, {"metavar": "PATTERN", "help": "Only these inventory hosts or groups (Ansible patterns: "
                           "a,b  !x  &y  web*)."}),
    (("--address-type",), NODES, {"type": click.Choice(["InternalIP", "ExternalIP", "Hostname"]),
                                  "help": "Which node address to connect to, from a kubectl nodes JSON."}),
    (("--via",), NODES, {"type": click.Choice(["ssh", "kubectl-debug"]),
                         "help": "Reach nodes over SSH (default) or with kubectl debug node (no SSH needed)."}),
    (("--debug-image",), NODES, {"metavar": "IMAGE", "help": "Image of the kubectl debug pod (busybox:1.37)."}),
    (("--debug-namespace",), NODES, {"metavar": "NS", "help": "Namespace for kubectl debug pods (the context's)."}),
    (("--ssh-client",), CONNECTION, {"type": click.Choice(["paramiko", "openssh"]),
                                     "help": "SSH client: paramiko (default), or the system ssh (host certificates, "
                                             "FIDO keys, ControlMaster, your whole ssh_config)."}),
    (("--ssh-config",), CONNECTION, {"metavar": "FILE", "help": "OpenSSH client config (default ~/.ssh/config)."}),
    (("--known-hosts",), CONNECTION, {"metavar": "FILE",
                                      "help": "Known hosts file (default: the config's, ~/.ssh/known_hosts)."}),
    (("--user",), CONNECTION, {"help": "SSH user (beats the ssh_config)."}),
    (("--identity",), CONNECTION, {"metavar": "FILE", "help": "SSH private key."}),
    (("--sudo",), CONNECTION, {"is_flag": True, "default": None,
                               "help": "Run the read-only collector as root with sudo -n."}),
    (("--accept-new-host-keys",), CONNECTION, {"is_flag": True, "default": None, "help": "Record unknown host keys "
                                               "(OpenSSH accept-new); changed keys still fail."}),
    (("--concurrency",), CONNECTION, {"type": click.IntRange(1, 1000), "help": "Nodes audited at once (default 32)."}),
    (("--timeout",), CONNECTION, {"type": Seconds(0.5), "help": "Per-node connect and command timeout, seconds (30)."}),
    (("--deadline",), CONNECTION, {"type": Seconds(1), "help": "Whole-run deadline, seconds (none)."}),
    (("--kubeconfig",), API, {"metavar": "FILE", "help": "kubeconfig for the API view (as kubectl takes it)."}),
    (("--context",), API, {"help": "kubeconfig context for the API view."}),
    (("--kubectl",), API, {"metavar": "PATH", "help": "The kubectl to run (default: kubectl on PATH)."}),
    (("--no-api",), API, {"is_flag": True, "default": None,
                          "help": "Do not ask the API server (no mirror pod checks, no API inventory)."}),
    (("--api-timeout",), API, {"type": Seconds(1), "help": "Seconds for each kubectl call (10)."}),
    (("-o", "--output"), OUTPUT, {"type": click.Choice(ALL_FORMATS), "metavar": "FORMAT", "help": "Report format."}),
    (("--config-file",), OTHER, {"metavar": "FILE", "help": "Settings file (default ./podaudit.yaml, else "
                                 "$XDG_CONFIG_HOME/podaudit/config.yaml; '' for none)."}),
    (("--debug",), OTHER, {"is_flag": True, "default": None, "help": "Show tracebacks for unexpected errors."}),
]
ALL_SECTIONS = (NODES, CONNECTION, API, OUTPUT)


def shared_options(command: Callable[..., Any] | None = None, *, sections: tuple[str, ...] = ALL_SECTIONS,
                   formats: tuple[str, ...] = NODE_FORMATS, also: tuple[str, ...] = (),
                   top: bool = False) -> Callable[..., Any]:
    """Add the shared options of ``sections`` (and the single options named in ``also``) to a
    command; ``-o`` offers ``formats``. ``top``: the group itself, which alone reads them from
    the environment (PODAUDIT_*) and the config file, so a flag after the command name beats them."""

    def add(target: Callable[..., Any]) -> Callable[..., Any]:
        for names, section, kwargs in reversed(SHARED_OPTIONS):
            if section not in (*sections, OTHER) and not set(names) & set(also):
                continue
            extra = dict(kwargs)
            if names[0] == "-o" and not top:
                extra.update(type=click.Choice(formats), help=f"Report format: {', '.join(formats)} ({formats[0]}).")
            if top:
                extra["envvar"] = envvar(_long(names))
            target = click.option(*names, cls=SectionedOption, section=section, expose_value=False,
                                  callback=_remember, **extra)(target)
        return target

    return add if command is None else add(command)


def _long(names: tuple[str, ...]) -> str:
    return next(name for name in names if name.startswith("--"))


def _audit_option(*names: str, **kwargs: Any) -> Callable[..., Any]:
    return click.option(*names, cls=SectionedOption, section=AUDIT, envvar=envvar(_long(names)), **kwargs)


def _output_option(*names: str, **kwargs: Any) -> Callable[..., Any]:
    return click.option(*names, cls=SectionedOption, section=OUTPUT, envvar=envvar(_long(names)), **kwargs)


_SWEEP_OPTIONS = [
    _output_option("--report", "reports", metavar="FORMAT=PATH", multiple=True,
                   help=f"Also write FORMAT to PATH (repeatable): {', '.join(SWEEP_FORMATS)}."),
    _output_option("--severity", metavar="LIST", help="Show only these severities (high,medium or high+); "
                                                      "the exit code still follows --fail-on."),
    _output_option("--rule", "rules", metavar="IDS", help="Show only these rules (PA201,PA3*)."),
    _output_option("--skip-rule", "skip_rules", metavar="IDS", help="Do not show these rules."),
    _audit_option("--fail-on", type=click.Choice(["info", "low", "medium", "high", "critical"]), default="high",
                  show_default=True, help="Exit 1 when a finding is at or above this severity."),
    _audit_option("--baseline", metavar="FILE", help="Expected static pods per role and suppressions "
                                                     "(a file, or builtin:kubeadm|rke2|k3s)."),
    _audit_option("--write-baseline", metavar="FILE", help="Record what this run found as a baseline."),
    _audit_option("--accept-findings", is_flag=True, help="With --write-baseline: accept today's findings too "
                                                          "(suppressions with --reason and --expires)."),
    _audit_option("--reason", metavar="TEXT", help="Why the accepted findings are accepted."),
    _audit_option("--expires", metavar="DATE|Nd", help="Last day the accepted findings stay accepted (90d)."),
]


def sweep_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_SWEEP_OPTIONS):
        command = option(command)
    return command


def check_format(opts: Options, allowed: tuple[str, ...]) -> None:
    """--output names a format this command writes; one line saying which otherwise. A format
    from the environment or the config file is meant for the commands that write it (a CI
    config's ``output: sarif``): the others keep their first format."""
    if opts.output in allowed:
        return
    if opts.sources.get("output", "default") != "flag":
        opts.output = allowed[0]
        return
    fail(f"--output {opts.output}: this command writes {', '.join(allowed)}")


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
