"""The sweep runner on in-process node sources: order, failures, deadline, concurrency."""

import os
import threading
import time
from dataclasses import dataclass

import psutil

from podaudit.errors import NodeUnavailable
from podaudit.kubelet.resolve import analyze_node
from podaudit.model import FailureKind
from podaudit.run.sweep import CHUNK, _in_processes, run_sweep
from tests.memnode import mem_node


@dataclass
class FakeNode:
    name: str
    delay: float = 0.0
    fail: str | None = None
    only: bool = False

    def load(self):
        time.sleep(self.delay)
        if self.fail == "bug":
            raise RuntimeError("boom")
        if self.fail == "die":  # the worker process ends (out of memory, a crash in a C library)
            os._exit(1)
        if self.fail == "unpicklable":  # a view that cannot travel back from a worker process
            view = analyze_node(mem_node({}, hostname=self.name))
            view.collection = {"callback": lambda: None}
            return view
        if self.fail:
            raise NodeUnavailable(self.name, FailureKind(self.fail), f"{self.name}: {self.fail}")
        return analyze_node(mem_node({}, hostname=self.name))


def test_results_keep_inventory_order_and_failures_are_kept():
    nodes = [FakeNode("a", 0.05), FakeNode("b", fail="unreachable"), FakeNode("c"), FakeNode("d", fail="bug")]
    result = run_sweep(nodes, concurrency=4)
    assert [r.node for r in result.results] == ["a", "b", "c", "d"]
    assert [r.view.node_name.value for r in result.results if r.view] == ["a", "c"]
    assert [(f.node, f.kind) for f in result.failures] == [("b", FailureKind.UNREACHABLE), ("d", FailureKind.ERROR)]


def test_a_slow_node_does_not_hold_up_the_run_past_the_deadline():
    nodes = [FakeNode("slow", delay=5), *(FakeNode(f"n{i}") for i in range(5))]
    start = time.monotonic()
    result = run_sweep(nodes, concurrency=3, deadline=0.5)
    assert time.monotonic() - start < 1.5
    assert len(result.views) == 5
    assert [(f.node, f.kind) for f in result.failures] == [("slow", FailureKind.DEADLINE)]


def test_concurrency_is_bounded():
    running, peak, lock = 0, 0, threading.Lock()

    @dataclass
    class Counting(FakeNode):
        def load(self):
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1
            return super().load()

    run_sweep([Counting(f"n{i}") for i in range(20)], concurrency=4)
    assert peak == 4


# Worker processes (the path of 100 or more local nodes), on these nodes: a dying worker or a
# result that cannot come back costs only its chunk; the deadline stops every worker.

def _kinds(result):
    return {r.node: r.failure.kind.value if r.failure else "ok" for r in result.results}


def test_processes_keep_order_and_a_dying_worker_costs_only_its_chunk():
    nodes = [FakeNode(f"n{i:02d}", fail="die" if i == 3 else None) for i in range(4 * CHUNK)]
    result = _in_processes(nodes, None, None)
    assert [r.node for r in result.results] == [n.name for n in nodes]
    kinds = _kinds(result)
    assert {name for name, kind in kinds.items() if kind != "ok"} == {f"n{i:02d}" for i in range(CHUNK)}
    assert "worker process failed" in result.results[0].failure.message and not result.interrupted


def test_a_result_that_cannot_come_back_costs_only_its_chunk():
    nodes = [FakeNode(f"n{i:02d}", fail="unpicklable" if i == CHUNK else None) for i in range(3 * CHUNK)]
    kinds = _kinds(_in_processes(nodes, None, None))
    assert {name for name, kind in kinds.items() if kind == "error"} == {f"n{i:02d}" for i in range(CHUNK, 2 * CHUNK)}
    assert sum(kind == "ok" for kind in kinds.values()) == 2 * CHUNK


def test_the_deadline_stops_every_worker_process():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    nodes = [FakeNode("slow", delay=30), *(FakeNode(f"n{i}") for i in range(2 * CHUNK))]
    start = time.monotonic()
    # Workers are fresh interpreters (run/worker.py): under a loaded machine one takes a second
    # or more to import podaudit, so the deadline leaves them time to audit a chunk first.
    result = _in_processes(nodes, 5.0, None)
    assert time.monotonic() - start < 8
    assert _kinds(result)["slow"] == "deadline" and sum(k == "ok" for k in _kinds(result).values()) >= CHUNK
    assert {p.pid for p in psutil.Process().children(recursive=True)} - before == set()
