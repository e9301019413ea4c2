"""Run every rule over a sweep: node rules per node, cluster rules (drift, baseline) once,
then the baseline's suppressions (each with a reason, perhaps an expiry)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from podaudit.audit.context import ClusterContext, NodeContext, Role
from podaudit.audit.registry import Finding, load_all_rules, run_cluster_rules, run_node_rules, severity_at_least

if TYPE_CHECKING:
    from podaudit.api.view import ApiView
    from podaudit.audit.baseline import Baseline, Suppression
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
        """PA9xx: nodes not audited, or only in part (unless the baseline suppressed it)."""
        return [f for f in self.findings if f.id.startswith("PA9")]

    def failing(self, threshold: str) -> list[Finding]:
        """Findings at or above the threshold; collection problems (PA9xx) decide exit 3 instead."""
        return [f for f in self.findings
                if not f.id.startswith("PA9") and severity_at_least(f.severity, threshold)]  # type: ignore[arg-type]


def role_of(view: NodeView, api: ApiView | None, baseline: Baseline | None) -> Role:
    """control-plane or worker: the API's node labels, else the baseline's lists, else how the
    node runs (k3s/rke2 ``server``), else the name. Never from the node's static pods: a pod
    named kube-apiserver planted on a worker must not make it a control plane."""
    name = view.node_name.value
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
    for view in sweep.views:
        role = role_of(view, api, baseline)
        result.roles[view.node_name.value] = role
        contexts.append(NodeContext(view, role, baseline.expect(role) if baseline else None, api))
    result.contexts = contexts
    found = [f for ctx in contexts for f in run_node_rules(ctx, result.errors)]
    found += run_cluster_rules(ClusterContext(contexts, sweep.failures, baseline, api), result.errors)
    if baseline is None:
        result.findings = found
    else:
        result.findings, result.suppressed, result.notes = baseline.apply_suppressions(found, today or date.today())
    result.notes += result.errors
    return result


def duplicate_names(sweep: SweepResult) -> list[str]:
    """Node names reported by more than one node (cloned machines, a host listed twice)."""
    seen: dict[str, int] = {}
    for view in sweep.views:
        seen[view.node_name.value] = seen.get(view.node_name.value, 0) + 1
    return sorted(name for name, count in seen.items() if count > 1)
