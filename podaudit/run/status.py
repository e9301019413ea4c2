"""Exit codes, computed from results: identical for every output format (README "Exit codes").

0 clean; 1 findings at or above --fail-on; 2 a usage or input error; 3 some nodes (or the
API) could not be audited, or only in part: the report still covers the rest. Whether a
finding is about the cluster or about what could not be read is its rule's registered
category, never its ID.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podaudit.audit.engine import AuditResult
    from podaudit.audit.match import FindResult
    from podaudit.audit.registry import Severity
    from podaudit.collect.source import NodeResult
    from podaudit.remedy.plan import Plan


class ExitStatus(IntEnum):
    OK = 0
    FINDINGS = 1
    INPUT = 2
    PARTIAL = 3


def sweep_status(findings: AuditResult, fail_on: Severity) -> ExitStatus:
    """sweep and analyze. Findings at or above --fail-on win over "not audited", so a CI job
    that tolerates 3 still sees them; a node not audited (or in part), an API outage or a rule
    that failed is 3, unless the baseline suppressed its finding."""
    if findings.failing(fail_on):
        return ExitStatus.FINDINGS
    if findings.not_audited or findings.errors:
        return ExitStatus.PARTIAL
    return ExitStatus.OK


def find_status(result: FindResult) -> ExitStatus:
    """find: 3 when a node read could not be read fully or not at all (the answer may be
    wrong), else 0 when the pod was found, 2 when it was not."""
    if result.incomplete or result.unavailable:
        return ExitStatus.PARTIAL
    return ExitStatus.OK if result.matches else ExitStatus.INPUT


def node_status(result: NodeResult) -> ExitStatus:
    """node: 3 when the node could not be read, or only in part."""
    if result.view is None or result.view.incomplete:
        return ExitStatus.PARTIAL
    return ExitStatus.OK


def collect_status(not_collected: list[str]) -> ExitStatus:
    """collect: 3 when some node was not written to the bundle."""
    return ExitStatus.PARTIAL if not_collected else ExitStatus.OK


def plan_status(plan: Plan, applied_outcome: str | None, yes: bool) -> ExitStatus:
    """delete, restore, create: a refused plan is 2 when it was to be applied (0 when only
    shown); an applied plan that did not fully succeed is 3."""
    if plan.refused is not None:
        return ExitStatus.INPUT if yes else ExitStatus.OK
    if not plan.applied or applied_outcome == "done":
        return ExitStatus.OK
    return ExitStatus.PARTIAL
