"""The API server's side: nodes and pods as ``kubectl get ... -o json`` prints them.

A mirror pod carries ``kubernetes.io/config.mirror`` (pkg/kubelet/pod/mirror_client.go);
since v1.17 it also has an ownerReference to its Node. Its ``metadata.uid`` is assigned by
the API server and never matches anything on the node, so it is never used for matching.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
SOURCE_ANNOTATION = "kubernetes.io/config.source"


@dataclass(frozen=True)
class ApiNode:
    name: str
    addresses: dict[str, str]
    labels: dict[str, str]


@dataclass(frozen=True)
class ApiPod:
    namespace: str
    name: str
    node_name: str | None
    is_mirror: bool
    owner_node: str | None
    ready: str
    status: str
    restarts: int
    created: str | None

    def age(self, now: datetime | None = None) -> str:
        return _age(self.created, now or datetime.now(timezone.utc))


@dataclass
class ApiView:
    nodes: list[ApiNode] = field(default_factory=list)
    pods: list[ApiPod] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def pods_named(self, name: str, namespace: str | None) -> list[ApiPod]:
        return [p for p in self.pods if p.name == name and namespace in (None, p.namespace)]


def load_list(path: str, problems: list[str]) -> list[dict[str, Any]]:
    """The items of a kubectl List JSON file; a problem line instead of raising."""
    try:
        with open(path, "rb") as handle:
            doc = json.loads(handle.read())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: not readable kubectl JSON ({exc}); continuing without it")
        return []
    items = doc.get("items") if isinstance(doc, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def parse_node(item: dict[str, Any]) -> ApiNode | None:
    meta, status = _dict(item.get("metadata")), _dict(item.get("status"))
    name = meta.get("name")
    if not isinstance(name, str):
        return None
    addresses = {
        str(a.get("type")): str(a.get("address"))
        for a in status.get("addresses") or [] if isinstance(a, dict)
    }
    return ApiNode(name, addresses, {str(k): str(v) for k, v in _dict(meta.get("labels")).items()})


def parse_pod(item: dict[str, Any]) -> ApiPod | None:
    meta, spec, status = _dict(item.get("metadata")), _dict(item.get("spec")), _dict(item.get("status"))
    name = meta.get("name")
    if not isinstance(name, str):
        return None
    annotations = _dict(meta.get("annotations"))
    owner = next((str(o.get("name")) for o in meta.get("ownerReferences") or []
                  if isinstance(o, dict) and o.get("kind") == "Node"), None)
    statuses = [s for s in status.get("containerStatuses") or [] if isinstance(s, dict)]
    ready = sum(1 for s in statuses if s.get("ready"))
    total = len(spec.get("containers") or []) or len(statuses)
    return ApiPod(
        str(meta.get("namespace") or "default"), name,
        spec.get("nodeName") if isinstance(spec.get("nodeName"), str) else None,
        MIRROR_ANNOTATION in annotations, owner, f"{ready}/{total}",
        _pod_status(status, statuses, meta), sum(int(s.get("restartCount") or 0) for s in statuses),
        meta.get("creationTimestamp") if isinstance(meta.get("creationTimestamp"), str) else None,
    )


def _pod_status(status: dict[str, Any], statuses: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The STATUS column of kubectl get pods: a waiting/terminated reason beats the phase."""
    if meta.get("deletionTimestamp"):
        return "Terminating"
    for s in statuses:
        state = _dict(s.get("state"))
        for key in ("waiting", "terminated"):
            reason = _dict(state.get(key)).get("reason")
            if isinstance(reason, str) and reason:
                return reason
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return "<unknown>"
    try:
        seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        return "<unknown>"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2 or (unit == "m" and seconds >= 60):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def load_api_dir(directory: str) -> ApiView:
    """``pods.json`` and ``nodes.json`` from a snapshot's api/ folder (each optional)."""
    view = ApiView()
    view.nodes = [n for i in load_list(f"{directory}/nodes.json", view.problems) if (n := parse_node(i))]
    view.pods = [p for i in load_list(f"{directory}/pods.json", view.problems) if (p := parse_pod(i))]
    return view
