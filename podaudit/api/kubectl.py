"""The API view of a live cluster, read through the user's own kubectl (transport/kubectl.py).

Nothing here raises: a missing binary, an unreachable cluster, RBAC, a timeout or junk on
stdout becomes one line in ``problems`` saying what to do, and the node-side audit goes on.
"""

from __future__ import annotations

import time
from typing import Any

from podaudit.api.view import ApiView, configz_object, decode_json, list_items, parse_pod
from podaudit.names import valid_node_name
from podaudit.transport.kubectl import KubectlFatal, KubectlOptions, one_line, run_kubectl

RBAC_HINT = "podaudit needs get/list on pods, nodes, namespaces"


def load_api_view(opts: KubectlOptions) -> ApiView:
    """Nodes, pods and namespaces; a list that failed is a line in ``problems`` and is missing
    from ``loaded``.

    After a failure that would hit every call alike (no kubectl, cluster unreachable, timed
    out, credentials rejected, kubeconfig broken) the remaining lists are not attempted;
    after a per-resource one (RBAC, junk output) they are. Nodes come first: they are the
    smallest answer, and tell soonest whether the cluster is there at all.
    """
    view = ApiView(origin=describe(opts))
    resources = ["nodes", "pods", "namespaces"]
    for at, resource in enumerate(resources):
        try:
            items = _get_list(opts, resource, view)
        except KubectlFatal:
            fatal = view.problems[-1]
            view.failed[resource] = fatal
            view.failed.update(dict.fromkeys(resources[at + 1:], fatal))  # not asked after that
            break
        view.take(resource, items)
    return view


def reload_pods(opts: KubectlOptions, view: ApiView) -> None:
    """Read the pods again (after a sweep that took a while), so a mirror pod is compared
    with node files read before it, never after; the old list stays if this read fails."""
    fresh = ApiView(origin=view.origin)
    try:
        items = _get_list(opts, "pods", fresh)
    except KubectlFatal:
        return
    if "pods" in fresh.loaded:
        view.pods = [p for i in items if (p := parse_pod(i))]


def pod_exists(opts: KubectlOptions, namespace: str, name: str, problems: list[str]) -> bool | None:
    """Whether the API has pod NAMESPACE/NAME; None (and a problem line) when it cannot say."""
    what = f"kubectl get pod {namespace}/{name}"
    # The names may be a node's word (restore's journal): a name is a positional word of
    # kubectl's argv, where "--server=..." would be a flag. Pod names and namespaces are
    # DNS-1123 names, which never start with "-".
    if not (valid_node_name(name) and valid_node_name(namespace)):
        problems.append(f"{one_line(repr(what))}: not a pod name and namespace (DNS-1123); not asked")
        return None
    try:
        out = run_kubectl(opts, ["get", "pod", name, f"--namespace={namespace}", "-o", "json", "--ignore-not-found"],
                          what, problems, rbac=RBAC_HINT)
    except KubectlFatal:
        return None
    return None if out is None else bool(out.strip())


def describe(opts: KubectlOptions) -> str:
    """Where the API view came from, for people."""
    parts = [f"--context={opts.context}" if opts.context else "", f"--kubeconfig={opts.kubeconfig}"
             if opts.kubeconfig else ""]
    return " ".join(["kubectl", *(p for p in parts if p)])


def configz(opts: KubectlOptions, node: str, problems: list[str] | None = None) -> dict[str, Any] | None:
    """The kubelet's running configuration (the ``kubeletconfig`` object of /configz), via
    the API server's node proxy; None (and a line in ``problems``, if given) on any failure."""
    sink: list[str] = [] if problems is None else problems
    if not isinstance(node, str) or not valid_node_name(node):
        sink.append(f"configz: {one_line(repr(node))} is not a valid node name (DNS-1123 subdomain); not asked")
        return None
    what = f"kubectl get --raw configz of node {node}"
    try:
        out = run_kubectl(opts, ["get", "--raw", f"/api/v1/nodes/{node}/proxy/configz"], what, sink,
                   rbac=f"podaudit needs get on nodes/proxy to read {node}'s kubelet config")
    except KubectlFatal:
        return None
    if out is None:
        return None
    return configz_object(decode_json(out, what, sink), what, sink)


def configz_all(opts: KubectlOptions, nodes: list[str], concurrency: int = 8, until: float | None = None
                ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """configz of many nodes, a few kubectl runs at a time; (node -> config, problems).

    The first node is asked alone: when RBAC refuses nodes/proxy (often, rightly) or the
    cluster is gone, the answer is the same for every node, so the others are not asked.
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(node: str) -> tuple[str, dict[str, Any] | None, list[str]]:
        problems: list[str] = []
        if until is not None and time.monotonic() >= until:  # the run's --deadline has passed
            return node, None, [f"kubectl get --raw configz of node {node} failed (not asked: the --deadline passed)"]
        return node, configz(opts, node, problems), problems

    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    if not nodes:
        return found, problems
    first, config, lines = one(nodes[0])
    if config is not None:
        found[first] = config
    elif lines and not lines[-1].startswith(f"kubectl get --raw configz of node {first} failed"):
        rest = f" (not asked of the other {len(nodes) - 1} nodes)" if len(nodes) > 1 else ""
        return found, [lines[-1] + rest]
    problems += lines
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(nodes))))
    try:
        for node, config, lines in pool.map(one, nodes[1:]):
            problems += lines
            if config is not None:
                found[node] = config
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: do not start the queued ones
    return found, problems


def _get_list(opts: KubectlOptions, resource: str, view: ApiView) -> list[dict[str, Any]]:
    what = f"kubectl get {resource}"
    scope = ["-A"] if resource == "pods" else []
    out = run_kubectl(opts, ["get", resource, *scope, "-o", "json"], what, view.problems, rbac=RBAC_HINT)
    if out is None:
        view.failed[resource] = view.problems[-1]
        return []
    before = len(view.problems)
    items = list_items(decode_json(out, what, view.problems), what, view.problems)
    if len(view.problems) == before:
        view.loaded.add(resource)
    else:
        view.failed[resource] = view.problems[before]
    return items
