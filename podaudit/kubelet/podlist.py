"""The kubelet's own pod list (its ``/pods`` endpoint), decoded into ``WitnessedPod`` values.

``/pods`` is ``Server.getPods`` (pkg/kubelet/server/server.go): ``encodePods`` of the pod
manager's pods, a ``v1.PodList``. It never lists mirror pods (``basicManager.GetPods``), and a
static pod there carries ``kubernetes.io/config.source: file`` and its UID, which equals
``kubernetes.io/config.hash`` (``applyDefaults``, pkg/kubelet/config/common.go). The kubelet
puts the status manager's status on static pods, so restarts and states are live even when
the API server is down (``Kubelet.GetPods``, pkg/kubelet/kubelet_getters.go).

Everything here is hostile input: any shape is accepted, what is not as documented is
skipped, and at most ``MAX_PODS`` pods are kept.
"""

from __future__ import annotations

import json
from typing import Any

from podaudit.kubelet.untrusted import as_dict, as_list, as_text
from podaudit.model import ContainerRun, WitnessedPod

# A node runs at most maxPods (110 by default; a few hundred on big nodes): beyond this the
# answer is not a kubelet's, and what is kept stays bounded.
MAX_PODS = 2000
MAX_REASON = 200  # characters kept of a container's waiting or terminated reason
SOURCE = "kubernetes.io/config.source"
HASH = "kubernetes.io/config.hash"


class PodListError(ValueError):
    """The answer is not a pod list (one line for people)."""


def parse_pod_list(data: bytes) -> tuple[WitnessedPod, ...]:
    """The pods of a ``/pods`` answer, sorted by namespace and name; PodListError when it is
    not a JSON object with an ``items`` list."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise PodListError(f"not JSON ({type(exc).__name__})") from None
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise PodListError("not a pod list (no items)")
    pods = [pod for pod in map(_pod, items[:MAX_PODS]) if pod is not None]
    return tuple(sorted(pods, key=lambda p: (p.namespace, p.name)))


def _pod(item: Any) -> WitnessedPod | None:
    meta = as_dict(as_dict(item).get("metadata"))
    name, uid = as_text(meta.get("name")), as_text(meta.get("uid"))
    if not name:
        return None
    annotations = as_dict(meta.get("annotations"))
    status = as_dict(as_dict(item).get("status"))
    return WitnessedPod(
        namespace=as_text(meta.get("namespace")) or "default",
        name=name,
        uid=uid or as_text(annotations.get(HASH)),
        source=as_text(annotations.get(SOURCE)),
        ready=_ready(status),
        containers=tuple(c for c in map(_container, as_list(status.get("containerStatuses"))) if c is not None),
        phase=as_text(status.get("phase")),
        reason=as_text(status.get("reason")),
    )


def _ready(status: dict[str, Any]) -> bool | None:
    for item in as_list(status.get("conditions")):
        condition = as_dict(item)
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return None


def _container(item: Any) -> ContainerRun | None:
    """One containerStatuses[] entry: its state now, and the last finished attempt's exit code."""
    status = as_dict(item)
    name = as_text(status.get("name"))
    if not name:
        return None
    state = as_dict(status.get("state"))
    last = as_dict(as_dict(status.get("lastState")).get("terminated"))
    if "running" in state:
        now, reason = "running", ""
    elif "terminated" in state:
        last = as_dict(state["terminated"])
        now, reason = "exited", as_text(last.get("reason"), MAX_REASON)
    elif "waiting" in state:
        now, reason = "waiting", as_text(as_dict(state["waiting"]).get("reason"), MAX_REASON)
    else:
        now, reason = "unknown", ""
    code = last.get("exitCode")
    restarts = status.get("restartCount")
    return ContainerRun(name, now, reason,
                        code if isinstance(code, int) and not isinstance(code, bool) else None,
                        restarts if isinstance(restarts, int) and not isinstance(restarts, bool) else 0)
