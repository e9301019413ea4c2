"""Audit many nodes at once: bounded concurrency, a whole-run deadline, Ctrl-C safe.

Each node's own connect and command timeouts bound its work; the deadline bounds the run.
Workers are daemon threads, so a node stuck past the deadline never keeps podaudit alive:
it is reported as not audited and the rest of the report stands.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from podaudit.cluster.source import NodeSource, NodeUnavailable
from podaudit.kubelet.resolve import NodeView

DEFAULT_CONCURRENCY = 32


@dataclass(frozen=True)
class NodeResult:
    name: str
    view: NodeView | None
    failure: NodeUnavailable | None
    seconds: float


@dataclass
class SweepResult:
    results: list[NodeResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def views(self) -> list[NodeView]:
        return [r.view for r in self.results if r.view is not None]

    @property
    def failures(self) -> list[NodeUnavailable]:
        return [r.failure for r in self.results if r.failure is not None]


def _audit(node: NodeSource) -> NodeResult:
    start = time.monotonic()
    try:
        return NodeResult(node.name, node.load(), None, time.monotonic() - start)
    except NodeUnavailable as exc:
        return NodeResult(node.name, None, exc, time.monotonic() - start)
    except Exception as exc:  # a bug in one node's analysis must not lose the others
        failure = NodeUnavailable(node.name, "error", f"{node.name}: {type(exc).__name__}: {exc}")
        return NodeResult(node.name, None, failure, time.monotonic() - start)


def run_sweep(nodes: Sequence[NodeSource], concurrency: int = DEFAULT_CONCURRENCY,
              deadline: float | None = None, on_result: Callable[[NodeResult], None] | None = None) -> SweepResult:
    """Audit every node; results keep the order of ``nodes``."""
    pending: queue.Queue[tuple[int, NodeSource]] = queue.Queue()
    done: queue.Queue[tuple[int, NodeResult]] = queue.Queue()
    for item in enumerate(nodes):
        pending.put(item)
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                index, node = pending.get_nowait()
            except queue.Empty:
                return
            done.put((index, _audit(node)))

    for _ in range(max(1, min(concurrency, len(nodes)))):
        threading.Thread(target=worker, daemon=True).start()
    found, interrupted = _collect(done, len(nodes), deadline, on_result)
    stop.set()
    return SweepResult(_in_order(nodes, found, interrupted), interrupted)


def _collect(done: queue.Queue[tuple[int, NodeResult]], total: int, deadline: float | None,
             on_result: Callable[[NodeResult], None] | None) -> tuple[dict[int, NodeResult], bool]:
    found: dict[int, NodeResult] = {}
    end = None if deadline is None else time.monotonic() + deadline
    try:
        while len(found) < total:
            wait = 0.2 if end is None else min(0.2, end - time.monotonic())
            if wait <= 0:
                break
            try:
                index, result = done.get(timeout=wait)
            except queue.Empty:
                continue
            found[index] = result
            if on_result is not None:
                on_result(result)
    except KeyboardInterrupt:
        return found, True
    return found, False


def _in_order(nodes: Sequence[NodeSource], found: dict[int, NodeResult], interrupted: bool) -> list[NodeResult]:
    why = "interrupted (Ctrl-C) before this node finished" if interrupted else "the sweep deadline passed first"
    kind = "interrupted" if interrupted else "deadline"
    return [found.get(i) or NodeResult(n.name, None, NodeUnavailable(n.name, kind, f"{n.name}: {why}"), 0.0)
            for i, n in enumerate(nodes)]
