"""`podaudit watch --metrics`: the Prometheus sink (podaudit/report/metrics.py) and the
PrometheusRule of docs/deploy, scraped over real HTTP and parsed with prometheus_client's own
parser, from views of real node trees (tests/fixtures/nodes) and the real rules."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from podaudit.audit.engine import audit as run_audit
from podaudit.audit.registry import Finding
from podaudit.collect.source import NodeResult, SweepResult
from podaudit.errors import InputError
from podaudit.kubelet.resolve import NodeView
from podaudit.report.metrics import LABEL_MAX, METRICS, PREFIX, MetricsSink, metrics_sink
from podaudit.watch.events import WatchEvent
from tests.test_formats import NODES, view_of

ROOT = Path(__file__).resolve().parent.parent
RULE_FILE = ROOT / "docs" / "deploy" / "prometheus-rule.yaml"
Sample = tuple[str, dict[str, str], float]


@pytest.fixture
def sink() -> Iterator[MetricsSink]:
    made = metrics_sink("127.0.0.1:0")
    yield made
    made.close()


def scrape(port: int) -> list[Sample]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode("utf-8")
    return [(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [v for n, lab, v in samples if n == name and labels.items() <= lab.items()]
    return sum(found) if found else None


def findings_of(*reads: tuple[str, NodeView]) -> dict[str, list[Finding]]:
    """The real rules' findings, per node (each node audited on its own)."""
    return {node: run_audit(SweepResult([NodeResult.read(node, view, 0.1)])).findings for node, view in reads}


def event(node: str, what: Any, suppressed: bool = False, **detail: Any) -> WatchEvent:
    return WatchEvent("2026-12-07T15:00:00.000Z", node, what, suppressed=suppressed, detail=detail)


def test_a_scrape_shows_each_nodes_pods_files_and_findings(sink: MetricsSink) -> None:
    reads = [("messy", view_of("messy-dir")), ("kubeadm", view_of("kubeadm-etc"))]
    findings = findings_of(*reads)
    before = time.time()
    for node, view in reads:
        sink.state(node, view, findings[node])
    samples = scrape(sink.port)
    assert value(samples, "podaudit_watched_nodes") == 2
    for node, view in reads:
        assert value(samples, "podaudit_up", node=node) == 1
        assert (value(samples, "podaudit_last_read_timestamp_seconds", node=node) or 0) >= before - 1
        for state in {p.state for p in view.reconciled.pods}:
            assert value(samples, "podaudit_static_pods", node=node, state=state) == \
                sum(p.state == state for p in view.reconciled.pods)
        assert value(samples, "podaudit_manifest_files", node=node) == len(view.entries)
        assert value(samples, "podaudit_static_pod_path_info", node=node,
                     path=view.static_pod_path.value or "") == 1
        assert value(samples, "podaudit_findings", node=node) == (len(findings[node]) or None)
        for f in findings[node]:
            assert value(samples, "podaudit_findings", node=node, severity=f.severity, rule=f.id)
    rejected = sum(e.fate == "rejected" for e in reads[0][1].entries)
    assert rejected and value(samples, "podaudit_manifest_files", node="messy", fate="rejected") == rejected
    # Every state is there, zeros included: an alert on one state needs its series.
    assert value(samples, "podaudit_static_pods", node="kubeadm", state="kubelet-cannot-start") == 0


def test_cleared_findings_and_suppressed_ones_are_told_apart(sink: MetricsSink) -> None:
    view = view_of("messy-dir")
    found = findings_of(("messy", view))["messy"]
    assert found
    sink.state("messy", view, found)
    assert value(scrape(sink.port), "podaudit_findings", node="messy") == len(found)
    sink.state("messy", view, found[1:], suppressed=found[:1])
    samples = scrape(sink.port)
    assert value(samples, "podaudit_findings", node="messy") == (len(found) - 1 or None)
    assert value(samples, "podaudit_findings_suppressed", node="messy", rule=found[0].id) == 1
    sink.state("messy", view, [])
    samples = scrape(sink.port)
    assert value(samples, "podaudit_findings") is None  # cleared: the series are gone, not 0 forever
    assert value(samples, "podaudit_findings_suppressed") is None


def test_events_and_failed_readings_are_counted(sink: MetricsSink) -> None:
    view = view_of("kubeadm-etc")
    sink.emit(event("w1", "watching"))
    sink.state("w1", view, [])
    for suppressed in (False, False, True):
        sink.emit(event("w1", "manifest-added", suppressed))
    sink.emit(event("w1", "node-unreachable", kind="timeout", reason="w1: ssh: timed out"))
    sink.state("w1", None, [])
    sink.state("w1", None, [])
    sink.emit(event("w1", "node-unreachable", kind="made\nup"))
    sink.state("w1", None, [])
    samples = scrape(sink.port)
    assert value(samples, "podaudit_events_total", node="w1", event="manifest-added", suppressed="false") == 2
    assert value(samples, "podaudit_events_total", node="w1", event="manifest-added", suppressed="true") == 1
    assert value(samples, "podaudit_events_total", node="w1", event="watching") == 1
    assert value(samples, "podaudit_node_read_errors_total", node="w1", kind="timeout") == 2
    assert value(samples, "podaudit_node_read_errors_total", node="w1", kind="unreachable") == 1
    assert value(samples, "podaudit_up", node="w1") == 0
    # The last good reading still stands: its time and its pods.
    assert value(samples, "podaudit_last_read_timestamp_seconds", node="w1")
    assert value(samples, "podaudit_static_pods", node="w1") == len(view.reconciled.pods)


def test_hostile_names_and_ten_thousand_rogue_files_stay_bounded(sink: MetricsSink, tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(NODES / "kubeadm-etc", root, symlinks=True)
    manifests = root / "etc" / "kubernetes" / "manifests"
    for i in range(10_000):
        (manifests / f"rogue-{i}.yaml").write_text(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: r{i}}}\n")
    view = view_of("rogue", root)
    hostile = 'evil"\n\x1b[31m\u202e\udcff\\' + "n" * 1000
    sink.state(hostile, view, findings_of((hostile, view))[hostile])
    sink.emit(event(hostile, "coalesced", count=10_000))
    samples = scrape(sink.port)
    assert len(samples) < 200, f"{len(samples)} samples for one node"
    names = {lab["node"] for _, lab, _ in samples if "node" in lab}
    (name,) = names
    assert len(name) <= LABEL_MAX and name.isprintable() and "\n" not in name
    assert name.startswith(r'evil"\x0a\x1b[31m\xe2\x80\xae\xff\x5c')
    assert (value(samples, "podaudit_manifest_files", node=name) or 0) >= 10_000
    assert value(samples, "podaudit_static_pods", node=name) == len(view.reconciled.pods)


def test_every_documented_metric_is_served_and_nothing_else(sink: MetricsSink) -> None:
    view = view_of("messy-dir")
    sink.emit(event("n", "node-unreachable", kind="auth"))
    sink.state("n", None, [])
    sink.state("n", view, findings_of(("n", view))["n"], suppressed=findings_of(("n", view))["n"][:1])
    sink.emit(event("n", "manifest-changed"))
    served = {name.removesuffix("_total") for name, _, _ in scrape(sink.port)}
    assert served == {PREFIX + name for name, *_ in METRICS}
    for name, _, labels in ((n, t, lab) for n, t, lab, _ in METRICS):
        for sample_name, sample_labels, _ in scrape(sink.port):
            if sample_name.removesuffix("_total") == PREFIX + name:
                assert set(sample_labels) == set(labels), name


def test_bad_addresses_are_one_line_errors() -> None:
    for bad in ("9110", "host:", "127.0.0.1:99999", "127.0.0.1:http"):
        with pytest.raises(InputError, match="ADDRESS:PORT"):
            metrics_sink(bad)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(InputError, match="cannot listen"):
            metrics_sink(f"127.0.0.1:{taken.getsockname()[1]}")


# --- docs/deploy/prometheus-rule.yaml ------------------------------------------------------

def rule_exprs() -> list[tuple[str, str]]:
    (doc,) = [d for d in yaml.safe_load_all(RULE_FILE.read_text(encoding="utf-8")) if d]
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    out = []
    for group in doc["spec"]["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
            out.append((rule["alert"], rule["expr"]))
    return out


def test_the_prometheus_rule_uses_only_served_metrics_and_labels(sink: MetricsSink) -> None:
    view = view_of("messy-dir")
    found = findings_of(("n", view))["n"]
    sink.emit(event("n", "node-unreachable", kind="auth"))
    sink.state("n", None, [])
    sink.state("n", view, found, suppressed=found[:1])
    sink.emit(event("n", "manifest-changed"))
    served: dict[str, set[str]] = {}
    for name, labels, _ in scrape(sink.port):
        served.setdefault(name, set()).update(labels)
    alerts = rule_exprs()
    assert {"PodauditStaticPodManifestChanged", "PodauditStaticPodPathChanged", "PodauditNodeNotRead",
            "PodauditHighFindings"} <= {a for a, _ in alerts}
    for alert, expr in alerts:
        metrics = set(re.findall(r"\bpodaudit_\w+", expr))
        assert metrics, alert
        for metric in metrics:
            assert metric in served, f"{alert}: {metric} is not served"
        # Label names in selectors and by/without clauses.
        used = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
        for clause in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
            used.update(w.strip() for w in clause.split(",") if w.strip())
        known = set().union(*(served[m] for m in metrics))
        assert used <= known, f"{alert}: labels {used - known} are not served by {metrics}"


# --- end to end: podaudit watch --root DIR --metrics ---------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(not (ROOT / "podaudit" / "cli" / "watch.py").exists(), reason="podaudit watch is not there yet")
def test_podaudit_watch_serves_metrics_of_a_tree(tmp_path: Path) -> None:
    root = tmp_path / "node"
    shutil.copytree(NODES / "kubeadm-etc", root, symlinks=True)
    port = free_port()
    argv = [sys.executable, "-m", "podaudit", "watch", "--local", "--root", str(root), "--metrics", f"127.0.0.1:{port}",
            "-o", "jsonl", "--for", "30"]
    env = {**os.environ, "NO_COLOR": "1"}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            deadline, samples = time.monotonic() + 10, []
            while time.monotonic() < deadline and not value(samples, "podaudit_up"):
                time.sleep(0.2)
                try:
                    samples = scrape(port)
                except OSError:
                    continue
            assert value(samples, "podaudit_up") == 1, proc.stderr.read() if proc.poll() is not None else ""
            (root / "etc/kubernetes/manifests/rogue.yaml").write_text(
                "apiVersion: v1\nkind: Pod\nmetadata: {name: rogue, namespace: kube-system}\n"
                "spec: {containers: [{name: c, image: busybox}]}\n")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                samples = scrape(port)
                if value(samples, "podaudit_events_total", event="manifest-added"):
                    break
                time.sleep(0.2)
            assert value(samples, "podaudit_events_total", event="manifest-added") == 1
            assert value(samples, "podaudit_manifest_files", fate="loaded") == 2
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert '"manifest-added"' in out


def test_docs_list_every_metric_with_its_labels() -> None:
    """docs/watch.md's table names each metric as it is scraped, with its labels."""
    text = (ROOT / "docs" / "watch.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(podaudit_\w+)` \| \w+ \|([^|]*)\|", text, re.M)}
    for name, kind, labels, _ in METRICS:
        shown = PREFIX + name + ("_total" if kind == "counter" else "")
        assert shown in rows, shown
        assert set(re.findall(r"`(\w+)`", rows[shown])) == set(labels), shown
