"""What a fleet's views cost the parent process (issue 17): a large offline sweep holds every
node's result, as its worker sent it, until the audit. A generated kubeadm worker node held so
costs a bounded number of bytes, its strings are shared with the other nodes', and the report
made from the results as received is the one made from the nodes read here."""

from __future__ import annotations

import gc
import pickle
import re
import tracemalloc
from pathlib import Path

import pytest

from podaudit.audit.engine import audit
from podaudit.collect.source import NodeResult, SweepResult, read_node
from podaudit.report.jsonout import dumps, sweep_json
from podaudit.run import worker
from podaudit.run.select import snapshot_cluster
from podaudit.run.sweep import CHUNK
from podaudit.run.worker import pack, read_slim, slimmed
from scripts.bench import Generator

NODES = 60
# Measured: 14.2 KB per generated worker node (Python 3.11, x86-64); 38 KB before records were
# slotted and repeats shared. The margin is for other Python builds, not for growth.
HELD_PER_NODE = 17_000
# Removal commands name a quarantine folder by the second they were made in.
STAMP = re.compile(r"\d{8}T\d{6}Z")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet") / "snapshot"
    Generator(11).write(out, NODES)
    return out


def received(chunks: list[bytes]) -> list[NodeResult]:
    """The results as the parent's Connection.recv gives them: a plain pickle.loads."""
    return [result for chunk in chunks for _, result in pickle.loads(chunk)]


def sent(results: list[NodeResult]) -> list[bytes]:
    """What the workers send for ``results``, a chunk at a time as run/sweep.py hands them out."""
    return [pack(list(enumerate(results[i:i + CHUNK]))) for i in range(0, len(results), CHUNK)]


def test_a_held_worker_node_costs_a_bounded_number_of_bytes(fleet: Path) -> None:
    cluster = snapshot_cluster(str(fleet))
    workers = [node for node in cluster.nodes if node.name.startswith("worker-")]
    assert len(workers) > NODES // 2
    chunks = sent([read_slim(node) for node in workers])
    worker._SHARED.clear()  # what an earlier test left there is not this sweep's
    gc.collect()
    tracemalloc.start()
    try:
        held = received(chunks)
        gc.collect()
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert all(result.view is not None for result in held)
    print(f"held per worker node: {size / len(held):.0f} bytes")
    assert size / len(held) < HELD_PER_NODE


def test_nodes_share_their_strings_and_report_what_they_reported(fleet: Path) -> None:
    cluster = snapshot_cluster(str(fleet))
    whole = [read_node(node) for node in cluster.nodes]
    held = received(sent([read_slim(node) for node in cluster.nodes]))
    first, second = [r.view for r in held if r.node.startswith("worker-") and r.view is not None][:2]
    # The same program and config keys on two nodes: one string object each, not one per node.
    assert first.invocation.program == second.invocation.program == "/usr/bin/kubelet"
    assert first.invocation.program is second.invocation.program
    assert [id(key) for key in first.config] == [id(key) for key in second.config]
    # One dict for an equal merged config, and one for the same config file on every node.
    assert first.config is first.config_docs[0].data is second.config_docs[0].data
    assert first.entries[0].spec is second.entries[0].spec  # the same manifest's fields

    def report(results: list[NodeResult]) -> str:
        sweep = SweepResult(results)
        return STAMP.sub("T", dumps(sweep_json(sweep, audit(sweep, None, cluster.api), cluster.api)))

    assert report(held) == report(whole)
    assert report(held) == report([slimmed(result) for result in whole])
