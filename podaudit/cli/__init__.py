"""The command line: parse options, call the library, pick a format. Nothing else.

One module per group of commands (inspect: find, node, sweep; bundle: collect, analyze;
remedy: delete, restore, quarantine, create; rules: rules, explain), each registered here
with ``add_command``; what they share is in ``options``. Imports of the library happen inside
each command so ``podaudit --help`` starts instantly. Every shared option is accepted before
or after the command name.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from podaudit import __version__
from podaudit.cli import bundle, completion, config, inspect, remedy, rules, watch
from podaudit.cli.helpfmt import SectionedGroup
from podaudit.cli.options import ALL_FORMATS, ALL_SECTIONS, Options, UsageFailure, notice, shared_options
from podaudit.run.status import ExitStatus

if TYPE_CHECKING:
    from types import FrameType

    from podaudit.cli.settings import Settings


@click.group(cls=SectionedGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@shared_options(sections=ALL_SECTIONS, formats=ALL_FORMATS, top=True)
@click.version_option(__version__, prog_name="podaudit")  # not importlib.metadata: it costs startup
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
    podaudit collect b.tar.gz; podaudit analyze b.tar.gz      offline, same report
    podaudit sweep --report sarif=out.sarif --report html=out.html   one sweep, many reports
    podaudit config show                          every setting and where it came from
    """
    ctx.ensure_object(Options)


for _command in (inspect.find, inspect.node, inspect.sweep, bundle.collect, bundle.analyze, remedy.delete,
                 remedy.restore, remedy.quarantine, remedy.create, rules.rules, rules.explain,
                 completion.completion, config.config, watch.watch):
    cli.add_command(_command)


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


def _settings() -> Settings:
    """The settings file (cli/settings.py), read before click parses; a bad one is exit 2."""
    from podaudit.cli.settings import config_path, known_settings, load_settings

    path, _ = config_path(sys.argv[1:], os.environ)
    if path is None:
        return load_settings(None, {})
    from podaudit.errors import InputError

    try:
        return load_settings(path, known_settings(cli))
    except InputError as exc:
        raise UsageFailure(str(exc)) from exc


def main() -> None:
    """Entry point: one line for people on any failure, a traceback only with --debug."""
    import signal

    _INTERRUPT.pid = os.getpid()
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    # As a kubectl plugin (kubectl-podaudit), help and errors say "kubectl podaudit".
    plugin = os.path.basename(sys.argv[0]) == "kubectl-podaudit"
    try:
        from podaudit.cli.settings import default_map

        settings = _settings()
        cli.main(prog_name="kubectl podaudit" if plugin else None, standalone_mode=False,
                 default_map=default_map(settings, cli), obj=Options(settings=settings))
    except click.exceptions.Abort:
        notice("podaudit: interrupted")
        sys.exit(128 + (_INTERRUPT.signum or signal.SIGINT))
    except click.ClickException as exc:
        _show(exc)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(ExitStatus.OK)
    except Exception as exc:
        if "--debug" in sys.argv:
            raise
        notice(f"podaudit: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        sys.exit(ExitStatus.INPUT)
    sys.exit(ExitStatus.OK)
