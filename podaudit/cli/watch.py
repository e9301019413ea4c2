"""watch: know within seconds when a node's static pods change (docs/watch.md)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from podaudit.cli.helpfmt import SectionedCommand, SectionedOption
from podaudit.cli.options import (
    API,
    CONNECTION,
    NODES,
    OUTPUT,
    Options,
    Seconds,
    check_format,
    cleanup,
    cluster,
    console,
    fail,
    input_errors,
    load_baseline,
    notice,
    shared_options,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from podaudit.watch.events import Sink

WATCH_FORMATS = ("table", "jsonl")
_WATCH = "Options"  # helpfmt.SECTIONS: the command's own options first


def _option(*names: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(*names, cls=SectionedOption, section=_WATCH, **kwargs)


def check_metrics_address(addr: str) -> str:
    """ADDR:PORT (``:9100``, ``0.0.0.0:9100``, ``[::1]:9100``); one line when it is not."""
    host, colon, port = addr.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535 or (":" in host and not bracketed):
        fail(f"--metrics {addr}: give ADDR:PORT (:9100, 127.0.0.1:9100, [::1]:9100)")
    return addr


@click.command(cls=SectionedCommand)
@_option("--local", is_flag=True, help="Watch this machine (with --root DIR: the node's filesystem there).")
@_option("--interval", type=Seconds(0.1), default=1.0, show_default=True,
         help="Seconds between a remote node's checks (where it has no inotifywait); the check for a "
              "kubelet that is not running.")
@_option("--once", is_flag=True, help="Read each node once, print what is watched, exit (tests, cron).")
@_option("--for", "seconds", type=Seconds(0.1), help="Stop after this many seconds.")
@_option("--baseline", metavar="FILE", help="Suppressions apply (findings, and event windows: docs/baselines.md).")
@_option("--exec", "hook", metavar="CMD", help="Run CMD per event, the event's JSON on stdin (no shell).")
@_option("--metrics", metavar="ADDR:PORT", help="Serve Prometheus metrics here (:9100).")
@click.option("--report", "reports", metavar="jsonl=FILE", multiple=True, cls=SectionedOption, section=OUTPUT,
              help="Also append the events as JSON lines to FILE (repeatable).")
@shared_options(sections=(NODES, CONNECTION, API, OUTPUT), formats=WATCH_FORMATS)
@click.pass_obj
def watch(opts: Options, /, **asked: Any) -> None:
    """Watch every path that decides what each kubelet runs; one event per change.

    \b
    podaudit watch --local                       this machine, a live table
    podaudit watch --local -o jsonl              JSON lines (time, node, event, path, pod, sha256...)
    podaudit watch --inventory hosts.ini --sudo  every node over SSH, one session each
    podaudit watch --local --exec ./alert.sh --metrics :9100

    Ctrl-C or SIGTERM stops it (exit 0).
    """
    from podaudit.run.watch import WatchRequest, watch_nodes

    check_format(opts, WATCH_FORMATS)
    if asked["local"]:
        if opts.where.get("nodes") or opts.where.get("inventory") or opts.where.get("snapshot"):
            fail("--local watches this machine; --nodes, --inventory and --snapshot name others: give one")
        opts.where.setdefault("root", "/")
    elif not any(opts.where.get(key) for key in ("nodes", "inventory", "root", "snapshot", "demo")):
        fail("podaudit watch needs nodes: --local (this machine), --root DIR, or --nodes/--inventory")
    if asked["metrics"] is not None:
        check_metrics_address(asked["metrics"])
    request = WatchRequest(asked["interval"], asked["once"], asked["seconds"], opts.selection().concurrency,
                           load_baseline(asked["baseline"]))
    sinks = _sinks(opts, asked)
    chosen = cluster(opts)
    fleet = None
    try:
        with input_errors():
            fleet = watch_nodes(chosen.nodes, request, sinks)
    except KeyboardInterrupt:
        pass  # Ctrl-C, SIGTERM: a watch ends this way; the sinks were closed on the way out
    finally:
        cleanup(opts)
    if fleet is not None and opts.output == "table":
        total = sum(fleet.counts.values())
        notice(f"podaudit: watched {len(chosen.nodes)} node{'s' if len(chosen.nodes) != 1 else ''}, "
               f"{total} event{'s' if total != 1 else ''}")
    sys.exit(0)


def _sinks(opts: Options, asked: dict[str, Any]) -> list[Sink]:
    """-o to stdout, each --report jsonl=FILE, --exec, --metrics; checked before any node is read."""
    from podaudit.cli.reports import parse_reports
    from podaudit.report.events import JsonlSink, LiveSink

    sinks: list[Sink] = []
    with input_errors():
        reports = parse_reports(asked["reports"], ("jsonl",))
        sinks += [JsonlSink.append_to(path) for _, path in reports]
        if asked["hook"] is not None:
            from podaudit.run.hook import ExecHook, parse_exec

            sinks.append(ExecHook(parse_exec(asked["hook"]), notice))
        if asked["metrics"] is not None:
            from podaudit.report.metrics import metrics_sink

            sinks.append(metrics_sink(asked["metrics"]))
    sinks.append(JsonlSink(sys.stdout) if opts.output == "jsonl" else LiveSink(console()))
    return sinks
