"""PA107 and PA3xx: what the nodes run against what the API server shows (mirror pods).

A mirror pod is matched to a static pod by namespace, name (``<name>-<node>``) and
``spec.nodeName`` (audit/match.py); never by ``metadata.uid``. Each rule runs only on the
lists that were actually read (``api.loaded``): a list that could not be read is not an
empty cluster. PA905 says what could not be read.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from podaudit.audit.context import ClusterContext, NodeContext
from podaudit.audit.match import api_key, manifests_by_mirror, mirror_key, mirrored_on, name_holders, running_pods
from podaudit.audit.registry import Category, Finding, finding, rule
from podaudit.kubelet.validation import api_references

if TYPE_CHECKING:
    from podaudit.api.view import ApiPod, ApiView
    from podaudit.kubelet.resolve import NodeView, StaticPod

RECENT = 60  # seconds: a manifest this fresh may not have its mirror pod yet
STARTING = {"Pending", "ContainerCreating", "PodInitializing"}


def _pods_read(ctx: NodeContext | ClusterContext) -> ApiView | None:
    return ctx.api if ctx.api is not None and "pods" in ctx.api.loaded else None


@rule("PA301", "high", "a static pod runs with no mirror pod (invisible to kubectl)",
      what="The node's kubelet runs a static pod from a file, but the API server has no mirror pod for it, so "
           "`kubectl get pods` does not show it. Only pods that run: not a file the running kubelet does not read "
           "(after-restart), refuses (rejected), or whose state no witness can tell (unknown). When podaudit "
           "only guessed the node name (an in-tree cloud provider names the node and the API did not say which "
           "Node this machine is), the finding is low and begins 'cannot tell': the mirror pod may simply have "
           "another name.",
      why="Nothing in the API shows that pod: no kubectl, no dashboard, no admission policy, no cost report. "
          "It is also how a planted static pod hides (the API server bypass risk). Known causes: the namespace "
          "does not exist, the pod references API objects (service account, secrets, config maps), the Node object "
          "is missing, an ordinary pod holds the name, or admission (webhooks, NodeRestriction) refuses it.",
      fix="Fix the cause podaudit names (create the namespace, drop the API references, register the node), or "
          "remove the manifest if nobody should run it (`podaudit find` shows the file). The kubelet's log says "
          "why it failed: `journalctl -u kubelet | grep -i 'mirror pod'`.",
      example="node-1: mining/miner runs from /etc/kubernetes/manifests/miner.yaml but the API has no mirror "
              "pod mining/miner-node-1: namespace mining does not exist (PA304)")
def no_mirror_pod(ctx: NodeContext) -> Iterator[Finding]:
    api = _pods_read(ctx)
    # Without a kubelet process nothing runs (the pods would start with the kubelet).
    if api is None or ctx.view.invocation.process is None:
        return
    # Only what runs now (the reconciled state): a file of a folder the kubelet does not read runs
    # nothing. A pod no witness settles (unknown) may run: a planted pod must not hide behind that.
    pods = [p for p in running_pods(ctx.view, maybe=True) if not _just_written(ctx.view, p.manifest_path)]
    unknown = {p.manifest_path for p in ctx.view.reconciled.pods if p.state == "unknown"}
    if "nodes" in api.loaded and api.node(ctx.node) is None and pods:
        yield _guessed(ctx, _unregistered(ctx, pods))
        return
    for pod in pods:
        holders = name_holders(api, pod)
        if mirrored_on(holders, ctx.node):
            continue
        causes = _causes(ctx, api, pod, holders)
        runs = "may run (no witness says whether the running kubelet reads its folder)" \
            if pod.manifest_path in unknown else "runs"
        yield _guessed(ctx, finding(
            "PA301", ctx.node, pod.manifest_path,
            f"{ctx.node}: {pod.namespace}/{pod.name} {runs} from {pod.manifest_path} but the API has no "
            f"mirror pod {pod.namespace}/{pod.mirror_name}: {'; '.join(causes)}", key=f"{pod.namespace}/{pod.name}"))


def _guessed(ctx: NodeContext, found: Finding) -> Finding:
    """A mirror pod's name ends with the node name: when podaudit only guessed it (a cloud
    provider names the node, and the API did not say which Node this machine is), a missing
    mirror pod may just be named otherwise. Not high then: podaudit cannot tell."""
    name = ctx.view.node_name
    if not name.guessed:
        return found
    return replace(found, severity="low", message=(
        f"cannot tell: podaudit guessed the node name {name.value} (the API did not confirm it), and mirror pods "
        f"are named after the kubelet's node name. {found.message}"))


def _unregistered(ctx: NodeContext, pods: list[StaticPod]) -> Finding:
    """One finding for the node, not one per pod: either the node is not in this cluster, or
    podaudit's idea of its name is not the kubelet's (a cloud provider naming it)."""
    names = ", ".join(f"{p.namespace}/{p.name}" for p in pods[:5]) + (" ..." if len(pods) > 5 else "")
    reached = f" (podaudit reached it as {ctx.reached_as})" if ctx.reached_as != ctx.node else ""
    return finding("PA301", ctx.node, ctx.view.static_pod_path.value,
                   f"{ctx.node}: {len(pods)} static pods run with no mirror pod ({names}): there is no Node "
                   f"{ctx.node} in the API{reached}; the kubelet creates mirror pods only once its Node exists. "
                   "Is this node in this cluster, and is its node name what podaudit shows?", key="(node)")


def _just_written(view: NodeView, path: str) -> bool:
    """A manifest changed in the last minute: the kubelet (every 20 s, then the API) may not
    have created its mirror pod yet."""
    record = view.records.get(path)
    return record is not None and record.mtime is not None and abs(time.time() - record.mtime) < RECENT


def _causes(ctx: NodeContext, api: ApiView, pod: StaticPod, holders: list[ApiPod]) -> list[str]:
    """The known reasons a mirror pod is missing, those that can be seen from here."""
    causes = [f"an ordinary pod already holds the name {p.namespace}/{p.name}, so the kubelet cannot create the "
              "mirror pod" for p in holders if not p.is_mirror]
    causes += [f"a mirror pod of the same name runs on {p.node_name or 'no node'} (a name collision: "
               "<pod>-<node> can be split two ways)" for p in holders if p.is_mirror and p.node_name != ctx.node]
    if "namespaces" in api.loaded and pod.namespace not in api.namespaces:
        causes.append(f"namespace {pod.namespace} does not exist (PA304)")
    references = api_references({"spec": pod.spec})
    if references:
        causes.append(f"it references API objects ({', '.join(references[:3])}), which NodeRestriction refuses "
                      "in a mirror pod")
    node = api.node(ctx.node)
    if node is not None and node.ready != "True":
        causes.append(f"node {ctx.node} is not Ready ({node.ready}): its kubelet may not reach the API server")
    if _standalone(ctx.view):
        causes.append("the kubelet runs without --kubeconfig (standalone): it never creates mirror pods")
    return causes or ["no cause visible from here; the kubelet's log says why "
                      "(journalctl -u kubelet | grep -i 'mirror pod')"]


def _standalone(view: NodeView) -> bool:
    """A plain kubelet with no API client (k3s, rke2 and MicroK8s always have one)."""
    inv = view.invocation
    return inv.kind == "kubelet" and view.flags.get("kubeconfig") is None


@rule("PA302", "medium", "a mirror pod with no manifest on its node",
      what="The API shows a mirror pod on a node whose static pod path holds no file defining that pod.",
      why="The pod is stale or orphaned: its manifest was removed, renamed, rejected, or the kubelet watches "
          "another path than the one on disk. The kubelet deletes orphaned mirror pods when it runs and reaches "
          "the API, so one that stays says the kubelet is down, disconnected, or reading something else. "
          "`kubectl delete` of such a pod does not tell you where it came from.",
      fix="Follow the cause podaudit names: restart the kubelet after a config change, fix a rejected manifest, "
          "or bring the kubelet back. A mirror pod from a kubelet's staticPodURL is expected (podaudit does "
          "not read URLs).",
      example="node-1: mirror pod kube-system/old-agent-node-1 has no manifest in /etc/kubernetes/manifests")
def orphaned_mirror(ctx: NodeContext) -> Iterator[Finding]:
    api = _pods_read(ctx)
    if api is None or not _fully_read(ctx):
        return
    view = ctx.view
    running = manifests_by_mirror(view)
    for mirror in api.mirrors_on(ctx.node):
        if api_key(mirror) in running:
            continue
        if mirror.source == "http" and view.static_pod_url.value:
            continue  # served by the URL source, which podaudit does not read: expected
        where = view.static_pod_path.value or "no static pod path"
        yield finding("PA302", ctx.node, view.static_pod_path.value,
                      f"{ctx.node}: mirror pod {mirror.namespace}/{mirror.name} has no manifest in {where}: "
                      + "; ".join(_orphan_causes(ctx, api, mirror)), key=f"{mirror.namespace}/{mirror.name}")


def _fully_read(ctx: NodeContext) -> bool:
    """Whether "no file defines it" can be trusted: a kubelet was found, the API knows the node
    by that name, and every entry of its static pod path was read (PA903/PA904 say otherwise)."""
    view, api = ctx.view, ctx.api
    if view.invocation.kind == "none" or api is None or ("nodes" in api.loaded and api.node(ctx.node) is None):
        return False
    if view.static_pod_path.value is None and not view.static_pod_url.value:
        return False
    return not view.incomplete and all(e.fate != "unknown" for e in view.entries)


def _orphan_causes(ctx: NodeContext, api: ApiView, mirror: ApiPod) -> list[str]:
    view = ctx.view
    causes = [f"{e.path} defines it but the kubelet does not load it ({e.fate}: {e.reason})"
              for e in view.entries
              if e.pod is not None and e.fate != "loaded" and mirror_key(e.pod) == api_key(mirror)]
    if mirror.source == "http" or view.static_pod_url.value:
        causes.append(f"it may come from the kubelet's staticPodURL ({view.static_pod_url.value or 'source http'}), "
                      "which podaudit does not read")
    if view.restart_pending:
        causes.append("the kubelet's settings changed since it started (restart pending): it may still run from "
                      "the old path")
    node = api.node(ctx.node)
    if node is not None and node.ready != "True":
        causes.append(f"node {ctx.node} is not Ready ({node.ready}): no kubelet is there to remove the mirror "
                      "pod, and its status is stale")
    return causes or ["its manifest is gone; a running kubelet that reaches the API removes such a mirror pod "
                      "within seconds, so check the kubelet (systemctl status kubelet)"]


@rule("PA303", "medium", "a mirror pod is not ready or is restarting",
      what="The API shows a static pod's mirror pod as not ready, failed, pending or crash-looping.",
      why="A control-plane static pod in CrashLoopBackOff is usually a bad manifest edit (kubernetes#48219); the "
          "kubelet keeps restarting it from the file, and deleting the mirror pod changes nothing.",
      fix="Read the pod's logs (`kubectl logs -n NS POD --previous`, or `crictl logs` on the node when the API "
          "server itself is down) and fix the manifest file podaudit names.",
      example="cp-1: kube-system/kube-apiserver-cp-1 is CrashLoopBackOff (ready 0/1, 12 restarts)")
def unhealthy_mirror(ctx: NodeContext) -> Iterator[Finding]:
    api = _pods_read(ctx)
    if api is None:
        return
    files = manifests_by_mirror(ctx.view)
    for mirror in api.mirrors_on(ctx.node):
        trouble = mirror.trouble()
        age = mirror.age_seconds()
        if mirror.status in STARTING and age is not None and 0 <= age < RECENT * 2:
            continue  # just created: give it the time an image pull takes
        if trouble is not None:
            path = files.get(api_key(mirror))
            source = f" (from {path})" if path else ""
            yield finding("PA303", ctx.node, path, f"{ctx.node}: {mirror.namespace}/{mirror.name}{source} is "
                          f"{trouble}", key=f"{mirror.namespace}/{mirror.name}")


@rule("PA304", "medium", "a static pod's namespace does not exist",
      what="A manifest the kubelet runs names a namespace the API server does not have.",
      why="The pod runs, but its mirror pod is refused (`namespaces \"x\" not found` in the kubelet's log), so it "
          "is invisible to kubectl (openshift-metal3/dev-scripts#371).",
      fix="Create the namespace (`kubectl create namespace NAME`) or change metadata.namespace in the manifest.",
      example="node-1: /etc/kubernetes/manifests/keepalived.yaml runs in namespace kni-infra, which does not exist")
def missing_namespace(ctx: NodeContext) -> Iterator[Finding]:
    api = ctx.api
    if api is None or "namespaces" not in api.loaded:
        return
    for pod in ctx.view.static_pods:
        if pod.namespace not in api.namespaces:
            yield finding("PA304", ctx.node, pod.manifest_path,
                          f"{ctx.node}: {pod.manifest_path} runs {pod.name} in namespace {pod.namespace}, which "
                          "does not exist in the API", key=f"{pod.namespace}/{pod.name}")


@rule("PA305", "high", "a pod claims to be a mirror pod but no node owns it",
      what="A pod carries the kubernetes.io/config.mirror annotation but has no Node ownerReference, or the "
           "reference names another node than the one it runs on, a Node that does not exist, or a Node with "
           "another uid.",
      why="Every mirror pod a kubelet (v1.17 or later) creates is owned by its Node. One that is not was made by "
          "someone else through the API (made to look static and undeletable), or survives from a kubelet "
          "older than v1.17.",
      fix="Find who created it (`kubectl get pod -o yaml`, audit logs for the create); delete it if it is "
          "forged (it is an API object, so `kubectl delete` works); upgrade kubelets older than v1.17.",
      example="(api): kube-system/kube-proxy-fake-node-1 claims to be a mirror pod but has no Node ownerReference",
      scope="cluster")
def forged_mirror(ctx: ClusterContext) -> Iterator[Finding]:
    api = _pods_read(ctx)
    if api is None:
        return
    for pod in api.mirror_pods():
        problem = _ownership_problem(api, pod)
        if problem is not None:
            node = pod.node_name or pod.owner_node or "(api)"
            yield finding("PA305", node, None, f"{node}: {pod.namespace}/{pod.name} claims to be a mirror pod but "
                          f"{problem}", key=f"{pod.namespace}/{pod.name}")


def _ownership_problem(api: ApiView, pod: ApiPod) -> str | None:
    if pod.owner_node is None:
        return "has no Node ownerReference (forged through the API, or made by a kubelet older than v1.17)"
    if pod.node_name is not None and pod.owner_node != pod.node_name:
        return f"is owned by node {pod.owner_node} while it runs on {pod.node_name}"
    if "nodes" not in api.loaded:
        return None
    node = api.node(pod.owner_node)
    if node is None:
        return f"its owner node {pod.owner_node} does not exist"
    if node.uid and pod.owner_uid and node.uid != pod.owner_uid:
        return f"its ownerReference uid {pod.owner_uid} is not node {node.name}'s ({node.uid})"
    return None


@rule("PA107", "high", "the kubelet's live static pod path differs from its files",
      what="The kubelet's running configuration (its `/configz`, through the API server's node proxy or on the "
           "node) names another staticPodPath (or staticPodURL) than the one podaudit resolves from the node's "
           "unit, flags and config files.",
      why="The kubelet reads its files only at start: after a config change without a restart, or when it was "
          "started by hand with other flags, the files on disk do not say what runs. podaudit shows both, and "
          "reads the running kubelet's folder too (`running_static_pod_path`).",
      fix="Restart the kubelet (`systemctl restart kubelet`) if the files are what you want; otherwise find who "
          "started it with other settings (`podaudit node` shows the process's own command line).",
      example="cp-1: the running kubelet's staticPodPath is /srv/manifests (configz) but its files say "
              "/etc/kubernetes/manifests")
def live_path_differs(ctx: NodeContext) -> Iterator[Finding]:
    view = ctx.view
    running = view.reconciled.running
    # Only /configz tells: a path from the process's own flags is the files' path by definition.
    if running.source != "configz" or view.invocation.kind == "none":
        return
    for field, live, setting in (("staticPodPath", running.path, view.static_pod_path),
                                 ("staticPodURL", running.url, view.static_pod_url)):
        on_disk = _normal(setting.value)
        if (live or "") != on_disk:
            pending = " (a restart is pending: the files changed after the kubelet started)" \
                if view.restart_pending else ""
            yield finding("PA107", ctx.node, setting.value or None,
                          f"{ctx.node}: the running kubelet's {field} is {live or 'unset'} (configz) but its "
                          f"files say {on_disk or 'unset'}{pending}", key=field)


def _normal(value: str | None) -> str:
    """'' for unset; a path without a trailing slash (the kubelet lists the directory either way)."""
    if not value:
        return ""
    return posixpath.normpath(value) if value.startswith("/") else value


@rule("PA905", "medium", "the API server could not be read",
      what="podaudit asked kubectl for pods, nodes or namespaces and did not get them (unreachable, forbidden, "
           "timed out, or junk), so the mirror pod checks (PA301-PA305) that need that list did not run.",
      why="Without the API's side, a static pod invisible to kubectl and a stale mirror pod go unnoticed.",
      fix="Follow the line podaudit prints (RBAC: get/list on pods, nodes, namespaces), or pass --no-api when "
          "the API is out of scope.",
      example="(api): kubectl get pods: forbidden for user jane (RBAC): podaudit needs get/list on pods, nodes, "
              "namespaces", scope="cluster", category=Category.NOT_AUDITED)
def api_unreadable(ctx: ClusterContext) -> Iterator[Finding]:
    api = ctx.api
    if api is None:
        return
    # One outage (kubectl missing, cluster unreachable) is one finding naming the lists it cost.
    by_cause: dict[str, list[str]] = {}
    for resource in ("nodes", "pods", "namespaces"):
        if resource in api.failed:
            by_cause.setdefault(api.failed[resource], []).append(resource)
    for cause, resources in by_cause.items():
        lists = f" ({' and '.join(resources)} not read)" if len(resources) > 1 else ""
        yield finding("PA905", "(api)", None, f"(api): {cause}{lists}", key=resources[0])
