"""Offline analysis of a fleet (issue 17): what worker processes send back is small, and the
report is the one a single thread gives, byte for byte."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, tzinfo
from pathlib import Path

import pytest

from podaudit.audit.engine import audit
from podaudit.collect.source import SweepResult, read_node
from podaudit.report.jsonout import dumps, sweep_json
from podaudit.run.select import demo_path, snapshot_cluster
from podaudit.run.sweep import PROCESS_THRESHOLD, _in_threads
from podaudit.run.worker import slimmed
from scripts.bench import Generator

NODES = PROCESS_THRESHOLD + 20  # worker processes
# Removal commands name a quarantine folder by the second they were made in.
STAMP = re.compile(r"\d{8}T\d{6}Z")


def sweep_cli(snapshot: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "podaudit", "--snapshot", str(snapshot), "sweep", "-o", "json"],
                          capture_output=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet") / "snapshot"
    Generator(7).write(out, NODES)
    return out


def test_a_fleet_read_in_processes_reports_what_one_thread_reports(fleet: Path) -> None:
    """The sweep's worker processes, their slimmed results and the JSON written piece by piece
    give the very bytes of whole views read in one thread and rendered at once."""
    run = sweep_cli(fleet)
    cluster = snapshot_cluster(str(fleet))
    whole = _in_threads(cluster.nodes, 1, None, None)  # read_node: nothing left out
    expected = dumps(sweep_json(whole, audit(whole, None, cluster.api), cluster.api)) + "\n"
    assert run.returncode == 1, run.stderr  # the generated fleet has findings
    assert len(json.loads(run.stdout)["nodes"]) == NODES
    assert STAMP.sub("T", run.stdout.decode()) == STAMP.sub("T", expected)


def test_a_worker_sends_back_a_small_result_and_the_same_findings() -> None:
    """A kubeadm node's result, as a worker pickles it: without the gathered snapshot and the
    bytes of files no rule reads again, and every finding still the same."""
    cluster = snapshot_cluster(demo_path())
    full = [read_node(node) for node in cluster.nodes]
    slim = [slimmed(result) for result in full]
    worker = next(r for r in slim if r.node == "node01")
    assert len(pickle.dumps(worker)) < 20_000
    assert all(len(pickle.dumps(s)) < len(pickle.dumps(f)) for s, f in zip(slim, full, strict=True))
    assert worker.view is not None and worker.view.snapshot is None

    def found(results: list) -> list[tuple[str, str, str | None, str]]:
        return [(f.id, f.node, f.path, f.message) for f in audit(SweepResult(results), None, cluster.api).findings]

    assert found(slim) == found(full) and found(full)


def test_a_node_reached_by_its_address_is_matched_to_its_api_node(tmp_path: Path) -> None:
    """A snapshot whose node folder is named by the node's InternalIP: the API's Node is still
    found by that address, and confirms the kubelet's node name."""
    snapshot = tmp_path / "cluster"
    shutil.copytree(demo_path(), snapshot)
    (snapshot / "nodes" / "node01").rename(snapshot / "nodes" / "192.168.121.11")
    run = sweep_cli(snapshot)
    nodes = {n["node"]: n for n in json.loads(run.stdout)["nodes"]}
    assert sorted(nodes) == ["controlplane", "node01"], run.stderr
    assert nodes["node01"]["node_name_decided_by"] == "api"
    assert any("the API has a Node node01" in step["what"] for step in nodes["node01"]["node_name_provenance"])


class _Frozen(datetime):
    """A clock that stands still: a document holds times (removal commands' backup stamps, pod
    ages), and two renderings a second apart would differ there, not in what is compared."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Frozen:
        return cls(2026, 12, 7, 12, 0, 0, tzinfo=tz)


def test_sweep_json_pieces_are_the_document(fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also with no nodes, no audit and an interrupted run: the pieces join to ``dumps``."""
    from podaudit.api import view
    from podaudit.remedy import commands
    from podaudit.report.jsonout import iter_sweep_json

    monkeypatch.setattr(commands, "datetime", _Frozen)
    monkeypatch.setattr(view, "datetime", _Frozen)

    cluster = snapshot_cluster(str(fleet))
    some = _in_threads(cluster.nodes[:3], 1, None, None)
    findings = audit(some, None, cluster.api)
    for args in ((some, findings, cluster.api), (some, None, None), (SweepResult([], True), findings, None),
                 (replace(some, interrupted=True), findings, cluster.api)):
        assert "".join(iter_sweep_json(*args)) == dumps(sweep_json(*args))


def test_rules_run_in_one_order_whatever_imported_them_first() -> None:
    """Findings are made (and reported) in rule order; a process that imported some rule
    module early (a worker, a test, a command reading the baseline rules) must not reorder
    them: the same fleet gave PA503 before PA305 in one process and after it in another."""
    show = "from podaudit.audit.registry import load_all_rules; print(' '.join(load_all_rules()))"
    fresh = subprocess.run([sys.executable, "-c", show], capture_output=True, text=True, check=True).stdout
    early = subprocess.run([sys.executable, "-c", "import podaudit.audit.rules_witness, podaudit.audit.rules_baseline; "
                            + show], capture_output=True, text=True, check=True).stdout
    assert early == fresh and fresh.index("PA305") < fresh.index("PA503")


def test_workers_never_import_from_where_podaudit_was_started(fleet: Path, tmp_path: Path) -> None:
    """A folder holding a pickle.py (a snapshot, a repository someone hands over) is where an
    operator may run podaudit; the installed command never imports from it, and its worker
    processes (`python -c`, which puts the current directory first) must not either."""
    podaudit = Path(sys.executable).with_name("podaudit")
    if not podaudit.exists():
        pytest.skip("podaudit's console script is not installed beside this python")
    marker = tmp_path / "imported"
    here = tmp_path / "untrusted"
    here.mkdir()
    (here / "pickle.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(9)\n")
    proc = subprocess.run([str(podaudit), "--snapshot", str(fleet), "sweep", "-o", "json"], cwd=here,
                          capture_output=True, text=True, check=False)
    doc = json.loads(proc.stdout)
    assert len(doc["nodes"]) == NODES >= PROCESS_THRESHOLD and doc["unavailable"] == [], proc.stderr
    assert not marker.exists()
