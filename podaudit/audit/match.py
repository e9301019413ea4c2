"""Mirror pods <-> static pods <-> nodes: the one place that pairs what the API shows with
what a node runs.

A mirror pod is named ``<name>-<node>`` (generatePodName in pkg/kubelet/config/common.go)
and matched to a static pod by namespace, that name and ``spec.nodeName``; never by
``metadata.uid``, which the API server assigns afresh. ``find`` asks which node runs a
mirror pod; the PA3xx rules ask whether each static pod has its mirror pod, and each mirror
pod its manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podaudit.api.view import ApiPod, ApiView
    from podaudit.audit.registry import Finding
    from podaudit.collect.source import NodeSource
    from podaudit.kubelet.manifests import PodIdentity
    from podaudit.kubelet.resolve import NodeView, StaticPod
    from podaudit.model import NodeFailure, Problem


@dataclass(frozen=True)
class Candidate:
    """A node ``find`` reads, and why. ``name`` is the node's one name: the source's until it
    was read, then the kubelet's (NodeResult.node)."""

    node: NodeSource
    reason: str
    name: str


@dataclass(frozen=True)
class Match:
    """A static pod whose mirror pod is the one asked for, on the node ``node`` (its one name),
    read as ``candidate``."""

    node: str
    view: NodeView
    pod: StaticPod
    candidate: Candidate


@dataclass
class FindResult:
    query: str
    namespace: str | None
    candidates: list[Candidate]
    matches: list[Match]
    api_pods: list[ApiPod] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    # Per node read, what podaudit could not read (the answer there may be wrong).
    incomplete: dict[str, list[Problem]] = field(default_factory=dict)
    # Candidate nodes that could not be audited at all.
    unavailable: list[NodeFailure] = field(default_factory=list)
    api: ApiView | None = None  # the API view the answer used (None: not asked)
    # Findings about the files that define the matched pods (PA301 no mirror pod, PA303, ...).
    findings: list[Finding] = field(default_factory=list)
    # Files that name this pod but the kubelet refuses: (node, path, the kubelet's reason).
    refused: list[tuple[str, str, str]] = field(default_factory=list)

    def api_pod(self, pod: StaticPod) -> ApiPod | None:
        """The mirror pod the API shows for this static pod, if any."""
        return next((p for p in self.api_pods if p.namespace == pod.namespace), None)


def mirror_key(pod: StaticPod | PodIdentity) -> tuple[str, str]:
    """(namespace, mirror pod name) of a static pod: the key its mirror pod has in the API."""
    return pod.namespace, pod.mirror_name


def api_key(pod: ApiPod) -> tuple[str, str]:
    """(namespace, name) of a pod in the API."""
    return pod.namespace, pod.name


def defines(pod: StaticPod | PodIdentity, name: str, namespace: str | None) -> bool:
    """Whether the static pod's mirror pod is ``name`` (in ``namespace``, when one is given)."""
    return pod.mirror_name == name and namespace in (None, pod.namespace)


def name_fits(name: str, node: str) -> bool:
    """Whether mirror pod ``name`` can be ``<pod>-<node>`` (names compare case-insensitively)."""
    return name.lower().endswith("-" + node.lower())


def name_holders(api: ApiView, pod: StaticPod) -> list[ApiPod]:
    """The API's pods holding the static pod's mirror name in its namespace (mirror or not)."""
    return api.pods_named(pod.mirror_name, pod.namespace)


def mirrored_on(holders: list[ApiPod], node: str) -> bool:
    """Whether one of ``holders`` is the mirror pod that ``node``'s kubelet created."""
    return any(p.is_mirror and p.node_name == node for p in holders)


def file_pods(view: NodeView) -> list[StaticPod]:
    """Every static pod a loaded file defines: the files' folder's, then the running kubelet's
    folder's when that is another one (its /configz said so)."""
    return [*view.static_pods, *view.running_static_pods]


def running_pods(view: NodeView, *, maybe: bool = False) -> list[StaticPod]:
    """The static pods the running kubelet runs (reconciled state ``running``), from either
    folder; ``maybe``: also those it may run (state ``unknown``: no witness settles it)."""
    wanted = {"running", "unknown"} if maybe else {"running"}
    states = {p.manifest_path: p.state for p in view.reconciled.pods}
    return [p for p in file_pods(view) if states.get(p.manifest_path) in wanted]


def manifests_by_mirror(view: NodeView) -> dict[tuple[str, str], str]:
    """The manifest each static pod of the node runs from, by its mirror pod's key (the
    running kubelet's folder wins over the files' one)."""
    return {mirror_key(p): p.manifest_path for p in file_pods(view)}
