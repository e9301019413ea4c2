"""The one registry of rules. Each rule is a small pure function with an ID, a severity, a
title and a docs page (what it flags, why it matters, how to fix, an example).

An ID never changes meaning once shipped: retire a rule rather than reuse its ID.
``podaudit rules``, ``podaudit explain ID`` and docs/rules.md all come from here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from podaudit.audit.context import ClusterContext, NodeContext

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")

# The benchmark a rule's ``cis`` IDs number, as kube-bench encodes it (cfg/cis-1.12: master.yaml
# 1.x, node.yaml 4.x, policies.yaml 5.x; kube-bench maps Kubernetes 1.32-1.34 to it). Sections
# 1.1, 4.1 and 4.2 carry the same numbers in cis-1.10; section 5.2 does not (HostPath is 5.2.12 there).
CIS_BENCHMARK = "CIS Kubernetes Benchmark v1.12"
CIS_SOURCE = "kube-bench cfg/cis-1.12"
_CIS_ID = re.compile(r"[1-9][0-9]?(\.[1-9][0-9]?){1,3}")


class Category(Enum):
    """What a finding says, which decides the exit code (run/status.py), whatever its ID."""

    FINDING = "finding"  # something wrong on a node or in the cluster: exit 1 at or above --fail-on
    NOT_AUDITED = "not-audited"  # a node (or the API) could not be read, or only in part: exit 3


@dataclass(frozen=True)
class Finding:
    """One problem on one node (or path); the fingerprint is stable across runs."""

    id: str
    severity: Severity
    node: str
    path: str | None
    message: str
    fingerprint: str


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    what: str
    why: str
    fix: str
    example: str
    scope: Literal["node", "cluster"]
    check: Callable[[Any], Iterable[Finding]]
    category: Category = Category.FINDING
    # The CIS_BENCHMARK controls this rule checks (on the files and settings it judges), in
    # benchmark order; () when it checks none. Only controls the rule really decides.
    cis: tuple[str, ...] = ()


RULES: dict[str, Rule] = {}


Check = Callable[[Any], Iterable[Finding]]


def rule(id: str, severity: Severity, title: str, *, what: str, why: str, fix: str, example: str,
         scope: Literal["node", "cluster"] = "node", category: Category = Category.FINDING,
         cis: tuple[str, ...] = ()) -> Callable[[Check], Check]:
    """Register a check; the decorated function yields Findings (use ``finding``)."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"rule {id} registered twice")
        bad = [c for c in cis if not _CIS_ID.fullmatch(c)]
        if bad or len(set(cis)) != len(cis):
            raise ValueError(f"rule {id}: CIS IDs {list(cis)} are not distinct benchmark numbers like 4.2.1")
        RULES[id] = Rule(id, severity, title, what.strip(), why.strip(), fix.strip(), example.strip(), scope, check,
                         category, tuple(sorted(cis, key=cis_key)))
        return check

    return register


def finding(rule_id: str, node: str, path: str | None, message: str, key: str = "") -> Finding:
    """A Finding of a registered rule. ``key`` names the subject when a path is not enough
    (a pod, a flag), so the fingerprint survives reruns and message rewording."""
    subject = "\0".join((rule_id, node, path or "", key))
    fingerprint = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return Finding(rule_id, RULES[rule_id].severity, node, path, message, fingerprint)


def cis_key(control: str) -> tuple[int, ...]:
    """Benchmark order: 1.1.2 before 1.1.10."""
    return tuple(int(part) for part in control.split(".") if part.isdigit())


def severity_at_least(severity: Severity, threshold: Severity) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def category_of(finding: Finding) -> Category:
    """The registered category of the finding's rule."""
    return RULES[finding.id].category


def node_rules() -> list[Rule]:
    return [r for r in RULES.values() if r.scope == "node"]


def cluster_rules() -> list[Rule]:
    return [r for r in RULES.values() if r.scope == "cluster"]


def run_node_rules(ctx: NodeContext, errors: list[str]) -> list[Finding]:
    return [f for r in node_rules() for f in _checked(r, ctx, errors)]


def run_cluster_rules(ctx: ClusterContext, errors: list[str]) -> list[Finding]:
    return [f for r in cluster_rules() for f in _checked(r, ctx, errors)]


def _checked(rule: Rule, ctx: Any, errors: list[str]) -> list[Finding]:
    """One rule's findings; a bug in one rule costs that rule, not the report."""
    try:
        return list(rule.check(ctx))
    except Exception as exc:  # reported as a note, and exit code 3
        errors.append(f"rule {rule.id} failed: {type(exc).__name__}: {exc}")
        return []


def load_all_rules() -> dict[str, Rule]:
    """Import every rule module (each registers its rules on import)."""
    from podaudit.audit import (
        rules_api,
        rules_baseline,
        rules_collection,
        rules_files,
        rules_kubelet,
        rules_kubelet_api,
        rules_manifests,
        rules_pods,
        rules_witness,
    )

    del rules_api, rules_baseline, rules_collection, rules_files, rules_kubelet, rules_kubelet_api, rules_manifests
    del rules_pods, rules_witness
    _in_definition_order()
    return RULES


def _in_definition_order() -> None:
    """RULES in the order of their modules' names, then of their lines: the order findings are
    made and reported in must not depend on which code imported a rule module first (a worker
    process, a test, a command that reads the baseline rules early)."""
    def place(rule_id: str) -> tuple[str, int]:
        check = RULES[rule_id].check
        return check.__module__, getattr(getattr(check, "__code__", None), "co_firstlineno", 0)

    ordered = sorted(RULES, key=place)
    if ordered != list(RULES):
        rules = {rule_id: RULES[rule_id] for rule_id in ordered}
        RULES.clear()
        RULES.update(rules)
