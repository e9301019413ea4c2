"""sweep and analyze: read every node of a cluster, cross-check the API, audit, and record a
baseline. The command line renders the result and chooses the exit code."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from podaudit.audit.engine import AuditResult, audit
from podaudit.collect.source import refuse_duplicates
from podaudit.errors import InputError
from podaudit.report.progress import progress_for
from podaudit.run.sweep import run_sweep

if TYPE_CHECKING:
    from podaudit.audit.baseline import Baseline
    from podaudit.collect.source import SweepResult
    from podaudit.run.select import Cluster, Selection


def audit_cluster(sel: Selection, cluster: Cluster, expected: Baseline | None,
                  cleanup: Callable[[], None]) -> tuple[SweepResult, AuditResult]:
    """Read every node of ``cluster`` (``cleanup`` runs when the reading ends, however it
    ends), then audit it. InputError when two nodes report one node name."""
    until = None if sel.deadline is None else time.monotonic() + sel.deadline
    try:
        with progress_for(len(cluster.nodes)) as advance:
            result = run_sweep(cluster.nodes, sel.concurrency, sel.deadline, advance)
    finally:
        cleanup()
    refuse_duplicates(result.results, "findings")
    cross_check(sel, cluster, [name for name, _ in result.audited], until)
    findings = audit(result, expected, cluster.api)
    # API failures are PA905 findings already; the notes keep the rest.
    failed = set(cluster.api.failed.values()) if cluster.api is not None else set()
    findings.notes = [n for n in cluster.notes if n not in failed] + findings.notes
    return result, findings


def cross_check(sel: Selection, cluster: Cluster, nodes: list[str], until: float | None = None) -> None:
    """After the nodes were read: the pods again (a manifest added during a long sweep has its
    mirror pod by now) and the live kubelets' configz for PA107, when the API view is live (a
    snapshot may carry api/configz/). A configz refusal is a note: nodes/proxy is often, rightly,
    not granted."""
    api = cluster.api
    if api is None or not api.origin.startswith("kubectl") or "nodes" not in api.loaded or not nodes:
        return
    from podaudit.api.kubectl import configz_all, reload_pods

    if "pods" in api.loaded:
        reload_pods(sel.kubectl_options(), api)

    # Only nodes the API knows and calls Ready: the API server cannot proxy to a kubelet that is down.
    ready = [n for n in nodes if (known := api.node(n)) is not None and known.ready == "True"]
    found, problems = configz_all(sel.kubectl_options(), ready, until=until)
    api.configz.update(found)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        cluster.notes.append(f"PA107 not checked where configz could not be read: {problems[0]}{more}")


def write_baseline(path: str, findings: AuditResult) -> None:
    """--write-baseline FILE: what this run found, as a baseline; InputError when it cannot be written."""
    from podaudit.audit.baseline_record import build_baseline

    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(build_baseline(findings.contexts))
    except OSError as exc:
        raise InputError(f"--write-baseline {path}: {exc.strerror}") from exc
