"""The sweep runner on in-process node sources: order, failures, deadline, concurrency."""

import threading
import time
from dataclasses import dataclass

from podaudit.cluster.source import NodeUnavailable
from podaudit.cluster.sweep import run_sweep
from podaudit.kubelet.resolve import analyze_node
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
        if self.fail:
            raise NodeUnavailable(self.name, self.fail, f"{self.name}: {self.fail}")
        return analyze_node(mem_node({}, hostname=self.name))


def test_results_keep_inventory_order_and_failures_are_kept():
    nodes = [FakeNode("a", 0.05), FakeNode("b", fail="unreachable"), FakeNode("c"), FakeNode("d", fail="bug")]
    result = run_sweep(nodes, concurrency=4)
    assert [r.name for r in result.results] == ["a", "b", "c", "d"]
    assert [r.view.node_name.value for r in result.results if r.view] == ["a", "c"]
    assert [(f.node, f.kind) for f in result.failures] == [("b", "unreachable"), ("d", "error")]


def test_a_slow_node_does_not_hold_up_the_run_past_the_deadline():
    nodes = [FakeNode("slow", delay=5), *(FakeNode(f"n{i}") for i in range(5))]
    start = time.monotonic()
    result = run_sweep(nodes, concurrency=3, deadline=0.5)
    assert time.monotonic() - start < 1.5
    assert len(result.views) == 5
    assert [(f.node, f.kind) for f in result.failures] == [("slow", "deadline")]


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
