"""The API view of a live cluster, read through the user's own kubectl (transport/kubectl.py).

Nothing here raises: a missing binary, an unreachable cluster, RBAC, a timeout or junk on
stdout becomes one line in ``problems`` saying what to do, and the node-side audit goes on.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from podaudit.api.view import PROXY_VIA, ApiView, configz_object, decode_json, list_items, parse_pod
from podaudit.kubelet.podlist import PodListError, parse_pod_list
from podaudit.model import KubeletWord, Witness, WitnessedPod, WitnessSource, WitnessStatus
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


# The kubelet's word is asked through the API server's node proxy (PROXY_VIA;
# pkg/registry/core/node/rest/proxy.go), which calls the kubelet with the API server's own
# kubelet-client identity once the user's RBAC allows get on nodes/proxy.
PROXY_HINT = "podaudit needs get on nodes/proxy to hear the kubelets (/pods, /configz)"
# At most this many kubectl runs at a time: each is a request the API server proxies.
WORD_CONCURRENCY = 8
# Bytes of one proxied answer read at most: it is the node's kubelet's (hostile input); 110
# pods of /pods are a few MiB.
MAX_PROXY_ANSWER = 16 << 20
# The kubelet's answer when its webhook authorizer fails (InstallAuthFilter, pkg/kubelet/server/server.go):
# "Authorization error (user=U, verb=get, resource=nodes, subresource=pods)".
_AUTHZ_ERROR = re.compile(r"Authorization error \([^()]*\)")


@dataclass(frozen=True)
class _Answer:
    """One proxied request: heard (with its body), refused or failed (with one line)."""

    status: WitnessStatus
    body: bytes = b""
    line: str = ""
    everywhere: bool = False  # the same for every node: the others are not asked
    alone: bool = False  # the node's other endpoint would answer the same: not asked either


def kubelet_word(opts: KubectlOptions, node: str) -> KubeletWord:
    """What ``node``'s kubelet says of itself through the API's node proxy: its running
    configuration (``/configz``) and its own pod list (``/pods``), one kubectl run each.

    Heard when either answered; refused when the API server's RBAC (get on nodes/proxy),
    or the kubelet's own authorization, would not let it be asked; failed otherwise (a
    timeout, junk, a kubelet that is down). Never raises for the kubelet's or kubectl's sake.
    """
    return _hear(opts, node)[0]


def kubelet_words(opts: KubectlOptions, nodes: list[str], until: float | None = None,
                  concurrency: int = WORD_CONCURRENCY) -> dict[str, KubeletWord]:
    """``kubelet_word`` of many nodes, a few kubectl runs at a time, none after ``until``
    (time.monotonic(); the run's --deadline).

    The first node is asked alone: when RBAC refuses nodes/proxy (often, rightly), a kubelet
    refuses the API server's identity, or the cluster is gone, the answer is the same for
    every node, so the others get the first one's word and are not asked.
    """
    from concurrent.futures import ThreadPoolExecutor

    words: dict[str, KubeletWord] = {}
    if not nodes:
        return words
    first, everywhere = _hear(opts, nodes[0], until)
    words[nodes[0]] = first
    if everywhere:
        return dict.fromkeys(nodes, first)
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(nodes))))
    try:
        for node, (word, _) in zip(nodes[1:], pool.map(lambda n: _hear(opts, n, until), nodes[1:]), strict=True):
            words[node] = word
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: do not start the queued ones
    return words


def _hear(opts: KubectlOptions, node: str, until: float | None = None) -> tuple[KubeletWord, bool]:
    """The node's word, and whether that word holds for every node (the first-node-alone rule)."""
    if not isinstance(node, str) or not valid_node_name(node):
        return _word(WitnessStatus.FAILED, f"{one_line(repr(node))} is not a valid node name (DNS-1123 "
                                           "subdomain); not asked"), False
    config = _ask(opts, node, "configz", until)
    pods = config if config.alone else _ask(opts, node, "pods", until)
    heard_at = time.time()  # a file written after this is too new for the answer to judge
    configz: dict[str, Any] | None = None
    if config.status is WitnessStatus.HEARD:
        lines: list[str] = []
        configz = configz_object(decode_json(config.body, _what(node, "configz"), lines), _what(node, "configz"),
                                 lines)
        config = config if configz is not None else _Answer(WitnessStatus.FAILED, line=lines[-1])
    listed: tuple[WitnessedPod, ...] | None = None
    if pods.status is WitnessStatus.HEARD:
        try:
            listed = parse_pod_list(pods.body)
        except PodListError as exc:
            pods = _Answer(WitnessStatus.FAILED, line=f"{_what(node, 'pods')}: {exc}; the kubelet's pod list "
                                                      "is not used")
    answers = [config] if pods is config else [config, pods]
    if listed is not None or configz is not None:
        missing = [a.line for a in answers if a.status is not WitnessStatus.HEARD]
        return KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.HEARD, PROXY_VIA, "; ".join(missing)),
                           listed, configz, heard_at if listed is not None else None), False
    worst = next((a for a in answers if a.status is WitnessStatus.REFUSED), answers[0])
    return _word(worst.status, worst.line), worst.everywhere


def _word(status: WitnessStatus, detail: str) -> KubeletWord:
    return KubeletWord(Witness(WitnessSource.KUBELET, status, PROXY_VIA, detail))


def _what(node: str, endpoint: str) -> str:
    return f"kubectl get --raw /api/v1/nodes/{node}/proxy/{endpoint}"


def _ask(opts: KubectlOptions, node: str, endpoint: str, until: float | None) -> _Answer:
    """One ``kubectl get --raw`` through the node proxy, judged."""
    what = _what(node, endpoint)
    if until is not None and time.monotonic() >= until:
        return _Answer(WitnessStatus.FAILED, line=f"{what}: not asked: the --deadline passed", alone=True)
    problems: list[str] = []
    try:
        out = run_kubectl(opts, ["get", "--raw", f"/api/v1/nodes/{node}/proxy/{endpoint}"], what, problems,
                          rbac=PROXY_HINT, limit=MAX_PROXY_ANSWER)
    except KubectlFatal:
        return _fatal(what, problems[-1])
    if out is not None:
        return _Answer(WitnessStatus.HEARD, out)
    return _refusal(what, problems[-1])


def _fatal(what: str, line: str) -> _Answer:
    """kubectl gave up: a timeout is this kubelet's (the API listed the nodes a moment ago);
    401 is the kubelet refusing the API server's client (or the user's credentials expiring);
    anything else (the cluster gone, kubectl gone) is the same for every node."""
    if "in time" in line or "no answer within" in line:
        return _Answer(WitnessStatus.FAILED, line=line, alone=True)
    if "rejected the credentials" in line:
        return _Answer(WitnessStatus.REFUSED, line=f"{what}: unauthorized (401): the kubelet did not accept the "
                                                   "API server's client credentials, or yours expired",
                       everywhere=True, alone=True)
    return _Answer(WitnessStatus.FAILED, line=line, everywhere=True, alone=True)


def _refusal(what: str, line: str) -> _Answer:
    """A request the API server answered with an error: refused or failed, and for whom.

    The API's own RBAC names the user (``User "jane"``) and holds for both endpoints alike;
    the kubelet's 403 (``Forbidden (user=..., verb=get, resource=nodes, subresource(s)=[pods
    proxy])``, InstallAuthFilter in pkg/kubelet/server/server.go) judges the API server's
    kubelet client, per endpoint with KubeletFineGrainedAuthz. A 500 ``Authorization error``
    is the kubelet's webhook authorizer failing to ask the API server: that kubelet's trouble.
    """
    if "(RBAC)" in line:
        if "forbidden for user" in line:
            return _Answer(WitnessStatus.REFUSED, line=line, everywhere=True, alone=True)
        return _Answer(WitnessStatus.REFUSED, line=f"{what}: forbidden by the kubelet: the API server's kubelet "
                                                   "client needs get on nodes/proxy there", everywhere=True)
    said = _AUTHZ_ERROR.search(line)
    if said:
        return _Answer(WitnessStatus.REFUSED, line=f"{what}: refused by the kubelet ({said[0]}): its webhook "
                                                   "could not ask the API server whether get on nodes/proxy is "
                                                   "allowed")
    return _Answer(WitnessStatus.FAILED, line=line)


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
