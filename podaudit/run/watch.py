"""podaudit watch, without click: the nodes' readers and feeds, the loop, the sinks.

A node readable here (this machine, --root, a snapshot's node) is read with ``read_node`` and
watched with inotify (watch/local.py); a node over SSH with W2's persistent reader and remote
feed (watch/remote.py: one session, one long remote loop). The command line picks the sinks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podaudit.collect.source import NodeResult, read_node
from podaudit.model import FailureKind, NodeFailure
from podaudit.watch.feed import Change
from podaudit.watch.loop import Fleet, NodeLoop, run_fleet

if TYPE_CHECKING:
    from podaudit.audit.baseline import Baseline
    from podaudit.collect.source import NodeSource
    from podaudit.watch.events import Sink
    from podaudit.watch.feed import ChangeFeed


@dataclass(frozen=True)
class WatchRequest:
    interval: float = 1.0  # the remote stat loop's period; the slow check for a new local kubelet
    once: bool = False  # read each node once, emit, stop
    seconds: float | None = None  # --for: stop after
    concurrency: int = 32  # readings at once
    baseline: Baseline | None = None


class IdleFeed:
    """A feed that never reports (--once; a node no feed can watch): the loop re-reads a
    node that could not be read every --interval anyway."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def watch(self, paths: Sequence[str], kubelet_pid: int | None) -> None:
        pass

    def wait(self, timeout: float) -> Change | None:
        self.stop.wait(timeout)
        return None

    def close(self) -> None:
        pass


def _local(source: NodeSource, request: WatchRequest, stop: threading.Event
           ) -> tuple[Callable[[], NodeResult], ChangeFeed, bool]:
    from podaudit.collect.rootfs import live_procfs
    from podaudit.watch.local import LocalFeed

    live = source.root == "/" or live_procfs(source.root)  # a tree's proc/ has no process to watch
    feed: ChangeFeed = IdleFeed(stop) if request.once else LocalFeed(source.root, request.interval, kubelet=live)
    return lambda: read_node(source), feed, live


def _remote(source: NodeSource, request: WatchRequest, stop: threading.Event
            ) -> tuple[Callable[[], NodeResult], ChangeFeed, bool]:
    try:
        from podaudit.watch.remote import remote_feed
        from podaudit.watch.remote_session import persistent_reader  # W2 keeps the shared login there
    except ImportError:
        failure = NodeFailure(source.name, FailureKind.CONFIG,
                              f"{source.name}: watching over SSH is not available in this build; "
                              "run podaudit watch --local on the node")
        return lambda: NodeResult.failed(failure), IdleFeed(stop), False
    reader = persistent_reader(source)
    feed: ChangeFeed = IdleFeed(stop) if request.once else remote_feed(source, request.interval)
    return reader, feed, True


def node_loop(source: NodeSource, request: WatchRequest, fleet: Fleet, stop: threading.Event,
              slots: threading.BoundedSemaphore) -> NodeLoop:
    from podaudit.collect.local import NodeHandle

    make = _local if isinstance(source, NodeHandle) else _remote
    reader, feed, live = make(source, request, stop)
    return NodeLoop(source.name, reader, feed, fleet, stop, slots, request.interval, live)


def watch_nodes(nodes: Sequence[NodeSource], request: WatchRequest, sinks: Sequence[Sink]) -> Fleet:
    """Watch ``nodes`` until --for passes, --once is done, or Ctrl-C (which propagates, after
    the threads were told to stop and the sinks closed)."""
    stop = threading.Event()
    fleet = Fleet(sinks, request.baseline)
    slots = threading.BoundedSemaphore(request.concurrency)
    try:
        loops = [node_loop(source, request, fleet, stop, slots) for source in nodes]
        run_fleet(loops, stop, request.seconds, request.once)
    finally:
        stop.set()
        fleet.close()
    return fleet
