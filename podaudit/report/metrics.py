"""Prometheus metrics of ``podaudit watch --metrics ADDR:PORT`` (docs/watch.md#metrics).

A ``Sink`` (watch/events.py) that keeps, per node, counts of what the last reading showed,
and serves them over HTTP with the official ``prometheus_client`` from a private
``CollectorRegistry`` (no process or platform collectors: the scraper wants the fleet, and
the watcher's own CPU is the bench's business). The metrics are built at scrape time by a
custom collector from that state, so a finding that cleared or a node that left is simply no
longer there: no stale series to remove.

Everything here came from nodes: label values are escaped (``escape_field``: control
characters, bidi overrides and undecodable bytes as ``\\xNN``; prometheus_client then escapes
quotes and backslashes for the text format) and bounded in length. The number of series is
bounded by design: files and pods are counted per state and fate (a node with 10,000 rogue
files is one series with the value 10,000, never 10,000 series), states, fates and severities
are closed sets, and the rules per node and the nodes are capped.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podaudit.audit.registry import SEVERITIES
from podaudit.errors import InputError
from podaudit.model import FailureKind
from podaudit.report.watch import escape_field
from podaudit.watch.events import EVENT_KINDS, WatchEvent

if TYPE_CHECKING:
    from http.server import HTTPServer

    from prometheus_client.registry import Collector

    from podaudit.audit.registry import Finding
    from podaudit.kubelet.resolve import NodeView

PREFIX = "podaudit_"
# (name without prefix, type, labels, help): the table docs/watch.md shows and the tests check.
METRICS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("up", "gauge", ("node",), "1 when the last reading of the node succeeded, 0 when it failed"),
    ("watched_nodes", "gauge", (), "Nodes this watcher watches"),
    ("last_read_timestamp_seconds", "gauge", ("node",), "Unix time of the node's last successful reading"),
    ("static_pods", "gauge", ("node", "state"),
     "Static pods the node's files define, by state (running, after-restart, kubelet-not-running, "
     "kubelet-cannot-start, rejected, unknown)"),
    ("manifest_files", "gauge", ("node", "fate"),
     "Entries of the static pod path, by what the kubelet does with them (loaded, shadowed, ignored, "
     "rejected, unknown)"),
    ("static_pod_path_info", "gauge", ("node", "path"), "The node's effective static pod path (value 1)"),
    ("findings", "gauge", ("node", "severity", "rule"), "Findings of the node's last reading"),
    ("findings_suppressed", "gauge", ("node", "severity", "rule"),
     "Findings of the node's last reading silenced by the baseline"),
    ("events", "counter", ("node", "event", "suppressed"), "Watch events emitted, by kind"),
    ("node_read_errors", "counter", ("node", "kind"), "Readings of the node that failed, by kind of failure"),
)
POD_STATES = ("running", "after-restart", "kubelet-not-running", "kubelet-cannot-start", "rejected", "unknown")
FATES = ("loaded", "shadowed", "ignored", "rejected", "unknown")
ERROR_KINDS = frozenset(k.value for k in FailureKind) | {"lost"}
LABEL_MAX = 128  # characters of a label value (a node name, a rule id)
PATH_MAX = 256  # characters of the static pod path label
RULES_PER_NODE = 200  # (severity, rule) pairs per node; beyond, counted under rule="other"
MAX_NODES = 10_000  # nodes with series; beyond, counted in watched_nodes only


def bound(text: str, limit: int = LABEL_MAX) -> str:
    """A label value: escaped, and cut (with a hash of the whole, so cut values stay apart)."""
    value = escape_field(text)
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    return f"{value[:limit - 12]}...{digest}"


def _closed(value: str, allowed: Iterable[str], other: str = "other") -> str:
    return value if value in allowed else other


@dataclass
class _Node:
    up: int | None = None
    last_ok: float | None = None
    pods: Counter[str] = field(default_factory=Counter)
    fates: Counter[str] = field(default_factory=Counter)
    path: str | None = None
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)
    error_kind: str = "unreachable"


def _by_rule(findings: Sequence[Finding]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for finding in findings:
        key = (_closed(finding.severity, SEVERITIES), bound(finding.id))
        if key not in out and len(out) >= RULES_PER_NODE:
            key = (key[0], "other")
        out[key] += 1
    return out


class MetricsSink:
    """The ``--metrics`` sink: call ``state``/``emit`` from any thread; scrapes read a copy."""

    def __init__(self, host: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self._lock = threading.Lock()
        self._nodes: dict[str, _Node] = {}
        self._events: Counter[tuple[str, str, str]] = Counter()
        self._errors: Counter[tuple[str, str]] = Counter()
        self._seen: set[str] = set()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self._collector())
        server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self._server: HTTPServer = server
        self.host = host
        self.port: int = server.server_port  # the bound port (port 0: the kernel's choice)

    # --- Sink ---------------------------------------------------------------------------

    def emit(self, event: WatchEvent) -> None:
        node = bound(event.node)
        kind = _closed(event.event, EVENT_KINDS)
        with self._lock:
            self._seen.add(node)
            if node not in self._nodes and len(self._nodes) >= MAX_NODES:
                return
            self._events[(node, kind, "true" if event.suppressed else "false")] += 1
            if event.event == "node-unreachable":
                # The loop's reason kind (a FailureKind value, or "lost" for a lost feed).
                reason = event.detail.get("kind")
                self._node(node).error_kind = _closed(str(reason), ERROR_KINDS, "unreachable")

    def state(self, node: str, view: NodeView | None, findings: Sequence[Finding],
              suppressed: Sequence[Finding] = ()) -> None:
        """After each reading. ``suppressed``: the findings the baseline silenced (optional)."""
        name = bound(node)
        with self._lock:
            self._seen.add(name)
            if name not in self._nodes and len(self._nodes) >= MAX_NODES:
                return
            entry = self._node(name)
            if view is None:  # a failed reading: the last good one still stands, but not up
                entry.up = 0
                self._errors[(name, entry.error_kind)] += 1
                return
            entry.up, entry.last_ok = 1, time.time()
            entry.pods = Counter(_closed(p.state, POD_STATES, "unknown") for p in view.reconciled.pods)
            entry.fates = Counter(_closed(e.fate, FATES, "unknown") for e in view.entries)
            value = view.static_pod_path.value
            entry.path = None if value is None else bound(value, PATH_MAX)
            entry.findings, entry.suppressed = _by_rule(findings), _by_rule(suppressed)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- scraping -----------------------------------------------------------------------

    def _node(self, name: str) -> _Node:
        return self._nodes.setdefault(name, _Node())

    def _collector(self) -> Collector:
        sink = self

        class _Collect:
            def collect(self) -> Iterator[Any]:
                return sink._families()

        return _Collect()

    def _families(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self._lock:  # a consistent copy; the families are built outside the lock
            nodes = {name: _Node(n.up, n.last_ok, Counter(n.pods), Counter(n.fates), n.path,
                                 Counter(n.findings), Counter(n.suppressed)) for name, n in self._nodes.items()}
            events, errors, seen = Counter(self._events), Counter(self._errors), len(self._seen)
        samples = _samples(nodes, events, errors, seen)
        for name, kind, labels, doc in METRICS:
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_type(PREFIX + name, doc, labels=list(labels))
            for values, value in samples[name]:
                family.add_metric(list(values), value)
            yield family


def _samples(nodes: dict[str, _Node], events: Counter[tuple[str, str, str]], errors: Counter[tuple[str, str]],
             seen: int) -> dict[str, list[tuple[tuple[str, ...], float]]]:
    out: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name, *_ in METRICS}
    out["watched_nodes"].append(((), float(seen)))
    for name, node in sorted(nodes.items()):
        if node.up is not None:
            out["up"].append(((name,), float(node.up)))
        if node.last_ok is not None:
            out["last_read_timestamp_seconds"].append(((name,), node.last_ok))
            # Every state and fate, zeros included: an alert on "rejected > 0" needs the series.
            out["static_pods"].extend(((name, s), float(node.pods[s])) for s in POD_STATES)
            out["manifest_files"].extend(((name, f), float(node.fates[f])) for f in FATES)
        if node.path is not None:
            out["static_pod_path_info"].append(((name, node.path), 1.0))
        out["findings"].extend(((name, sev, rule), float(n)) for (sev, rule), n in sorted(node.findings.items()))
        out["findings_suppressed"].extend(((name, sev, rule), float(n))
                                          for (sev, rule), n in sorted(node.suppressed.items()))
    out["events"].extend((key, float(n)) for key, n in sorted(events.items()))
    out["node_read_errors"].extend((key, float(n)) for key, n in sorted(errors.items()))
    return out


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` (``0.0.0.0:9110``, ``[::]:9110``, ``127.0.0.1:0``; ``:9110``: every IPv4
    address) as (host, port)."""
    host, sep, port = addr.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host or "0.0.0.0"  # noqa: S104 (":PORT" asks for it)
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--metrics {addr!r}: expected ADDRESS:PORT, such as 0.0.0.0:9110 or 127.0.0.1:9110")
    return host, int(port)


def metrics_sink(addr: str) -> MetricsSink:
    """Serve the metrics at ``addr`` from now until ``close()``; ``.port`` is the bound port."""
    host, port = parse_addr(addr)
    try:
        return MetricsSink(host, port)
    except OSError as exc:
        raise InputError(f"--metrics {addr}: cannot listen there: {exc.strerror or exc}") from None
