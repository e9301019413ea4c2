"""sweep and analyze: read every node of a cluster, cross-check the API, audit, and record a
baseline (``Acceptance``: what --accept-findings, --reason and --expires say). The command line
renders the result and chooses the exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from podaudit.audit.baseline_accept import Acceptance
from podaudit.audit.engine import AuditResult, audit
from podaudit.collect.source import refuse_duplicates
from podaudit.errors import InputError
from podaudit.report.progress import progress_for
from podaudit.run.sweep import run_sweep

__all__ = ["Acceptance", "audit_cluster", "cross_check", "write_baseline"]

if TYPE_CHECKING:
    from podaudit.audit.baseline import Baseline
    from podaudit.collect.source import SweepResult
    from podaudit.run.select import Cluster, Selection


def audit_cluster(sel: Selection, cluster: Cluster, expected: Baseline | None,
                  cleanup: Callable[[], None]) -> tuple[SweepResult, AuditResult]:
    """Read every node of ``cluster`` (``cleanup`` runs when the reading ends, however it
    ends), then audit it. InputError when two nodes report one node name."""
    try:
        with progress_for(len(cluster.nodes)) as advance:
            result = run_sweep(cluster.about_to_read(cluster.nodes), sel.concurrency, sel.deadline, advance,
                               slim=True)
    finally:
        cleanup()
    refuse_duplicates(result.results, "findings")
    cross_check(sel, cluster, [name for name, _ in result.audited])
    findings = audit(result, expected, cluster.api)
    # API failures are PA905 findings already; the notes keep the rest.
    failed = set(cluster.api.failed.values()) if cluster.api is not None else set()
    findings.notes = [n for n in cluster.notes if n not in failed] + findings.notes
    return result, findings


def cross_check(sel: Selection, cluster: Cluster, nodes: list[str]) -> None:
    """After the nodes were read: the pods again, when the API view is live (a manifest added
    during a long sweep has its mirror pod by now). The kubelets' word (/configz for PA107,
    /pods) was asked before the nodes were read (Cluster.about_to_read, run/reach.py with_kubelet_words), not here: it
    chooses what is read on them."""
    api = cluster.api
    if api is None or not api.origin.startswith("kubectl") or "nodes" not in api.loaded or not nodes:
        return
    from podaudit.api.kubectl import reload_pods

    if "pods" in api.loaded:
        reload_pods(sel.kubectl_options(), api)


def write_baseline(path: str, findings: AuditResult, accept: Acceptance | None = None) -> None:
    """--write-baseline FILE: what this run found, as a baseline; with ``accept``
    (--accept-findings), its findings as suppressions too, each with the acceptance's reason
    and last day (audit/baseline_accept.py). InputError when it cannot be written."""
    from podaudit.audit.baseline_accept import accepting_baseline
    from podaudit.audit.baseline_record import build_baseline

    text = accepting_baseline(findings, accept) if accept is not None else build_baseline(findings.contexts)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputError(f"--write-baseline {path}: {exc.strerror}") from exc
