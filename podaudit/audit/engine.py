"""Run every rule over a sweep: node rules per node, cluster rules (drift, baseline) once,
then the baseline's suppressions (each with a reason, perhaps an expiry)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from podaudit.audit.context import ClusterContext, NodeContext, Role
from podaudit.audit.registry import (
    Category,
    Finding,
    Severity,
    category_of,
    load_all_rules,
    run_cluster_rules,
    run_node_rules,
    severity_at_least,
)

if TYPE_CHECKING:
    from podaudit.api.view import ApiView
    from podaudit.audit.baseline import Baseline
    from podaudit.audit.suppressions import Suppression
    from podaudit.collect.source import SweepResult
    from podaudit.kubelet.resolve import NodeView

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
# Without labels or a baseline list: names like cp-1, k8s-master-0, controlplane.
CONTROL_PLANE_NAME = re.compile(r"(^|[-_.])(cp|control-?plane|master|controller|server)([-_.]?\d*)?($|[-_.])")


@dataclass
class AuditResult:
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[tuple[Finding, Suppression]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)
    contexts: list[NodeContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # rules that failed

    @property
    def not_audited(self) -> list[Finding]:
        """Nodes (or the API) not read, or only in part, by the rules' registered category
        (unless the baseline suppressed them)."""
        return [f for f in self.findings if category_of(f) is Category.NOT_AUDITED]

    def failing(self, threshold: Severity) -> list[Finding]:
        """Findings at or above the threshold; what could not be read decides exit 3 instead."""
        return [f for f in self.findings
                if category_of(f) is Category.FINDING and severity_at_least(f.severity, threshold)]


def role_of(name: str, view: NodeView, api: ApiView | None, baseline: Baseline | None) -> Role:
    """control-plane or worker: the API's node labels, else the baseline's lists, else how the
    node runs (k3s/rke2 ``server``), else the name. Never from the node's static pods: a pod
    named kube-apiserver planted on a worker must not make it a control plane."""
    node = api.node(name) if api else None
    if node is not None:
        return "control-plane" if any(label in node.labels for label in CONTROL_PLANE_LABELS) else "worker"
    if baseline is not None:
        listed = baseline.role_for(name)
        if listed is not None:
            return listed
    if _runs_control_plane(view) or CONTROL_PLANE_NAME.search(name.lower()):
        return "control-plane"
    return "worker"


def _runs_control_plane(view: NodeView) -> bool:
    process = view.invocation.process
    words = view.invocation.program, *(process.argv[1:2] if process else ())
    return view.invocation.kind in {"k3s", "rke2"} and "server" in " ".join(w or "" for w in words)


def audit(sweep: SweepResult, baseline: Baseline | None = None, api: ApiView | None = None,
          today: date | None = None) -> AuditResult:
    """Every finding of the run, suppressions applied."""
    load_all_rules()
    result = AuditResult()
    contexts = []
    for read in sweep.results:
        if read.view is None:
            continue
        role = role_of(read.node, read.view, api, baseline)
        result.roles[read.node] = role
        expected = baseline.expect(role) if baseline else None
        contexts.append(NodeContext(read.view, role, expected, api, read.node, read.reached_as))
    result.contexts = contexts
    found = [f for ctx in contexts for f in run_node_rules(ctx, result.errors)]
    found += run_cluster_rules(ClusterContext(contexts, sweep.failures, baseline, api), result.errors)
    if baseline is None:
        result.findings = found
    else:
        result.findings, result.suppressed, result.notes = baseline.apply_suppressions(found, today or date.today())
    result.notes += result.errors
    return result
