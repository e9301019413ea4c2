"""The API view of a live cluster, read through the user's own kubectl.

kubectl is run rather than talking to the API server directly so that whatever the
kubeconfig says (exec credential plugins, auth providers, proxies, client certificates)
keeps working. It runs without a shell, with stdin closed, in its own process group (so a
credential plugin it started dies with it on a timeout), under a hard deadline.

Nothing here raises: a missing binary, an unreachable cluster, RBAC, a timeout or junk on
stdout becomes one line in ``problems`` saying what to do, and the node-side audit goes on.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from podaudit.cluster.api import (
    ApiView,
    configz_object,
    decode_json,
    list_items,
    parse_pod,
    valid_node_name,
)

RBAC_HINT = "podaudit needs get/list on pods, nodes, namespaces"
_USER = re.compile(r'User "([^"]*)"')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KLOG = re.compile(r"^[EWIF]\d{4} \d\d:\d\d:\d\d")  # client-go's log lines ("E1126 20:33:38.98 ...")
_UNREACHABLE = ("connection refused", "was refused", "no such host", "unable to connect", "network is unreachable",
                "no route to host", "connection reset", "dial tcp", "server misbehaving")
_TIMEOUT = ("context deadline exceeded", "timeout exceeded", "i/o timeout", "timed out", "tls handshake timeout")
_UNAUTHORIZED = ("unauthorized", "you must be logged in", "getting credentials", "exec plugin")
_CONFIG = ("error in configuration", "invalid configuration", "context was not found", "no configuration has been",
           "current-context", "error loading config", "couldn't get version/kind", "stat ")


@dataclass(frozen=True)
class KubectlOptions:
    kubeconfig: str | None = None
    context: str | None = None
    kubectl: str = "kubectl"
    timeout: float = 20.0  # seconds, for each kubectl run (and its --request-timeout)


class KubectlFatal(Exception):
    """kubectl cannot work at all here (no binary, no cluster, bad kubeconfig): stop asking."""


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


def kubectl_argv(opts: KubectlOptions, args: list[str]) -> list[str]:
    """kubectl, the user's --kubeconfig/--context and a request timeout, then ``args``.

    The global flags come first: ``args`` may end with ``-- COMMAND...`` (kubectl debug),
    where anything after them would become part of the command.
    """
    # "--flag=value" as one word: a value starting with "-" cannot turn into another flag.
    argv = [opts.kubectl]
    if opts.kubeconfig is not None:
        argv.append(f"--kubeconfig={opts.kubeconfig}")
    if opts.context is not None:
        argv.append(f"--context={opts.context}")
    # kubectl reads --request-timeout=0 as "no limit": never pass that.
    return [*argv, f"--request-timeout={time_limit(opts):.3f}s", *args]


def time_limit(opts: KubectlOptions) -> float:
    """The timeout in seconds, kept between 1 ms and a day (NaN: the default 20 s)."""
    timeout = opts.timeout
    if not isinstance(timeout, (int, float)) or math.isnan(timeout):
        return 20.0
    return min(max(float(timeout), 0.001), 86400.0)


def run_kubectl(opts: KubectlOptions, args: list[str], what: str, problems: list[str], rbac: str) -> bytes | None:
    """kubectl's stdout on success; None and a problem line otherwise; KubectlFatal when no
    further kubectl run can succeed either."""
    try:
        proc = subprocess.Popen(  # no shell; argv from the user's own options
            kubectl_argv(opts, args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, close_fds=True,
        )
    except FileNotFoundError:
        problems.append(f"kubectl not found ({opts.kubectl}): install it or pass --snapshot")
        raise KubectlFatal from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        problems.append(f"kubectl ({opts.kubectl}) could not be started ({reason}): fix it or pass --snapshot")
        raise KubectlFatal from None
    try:
        out, err = proc.communicate(timeout=time_limit(opts))
    except subprocess.TimeoutExpired:
        kill_group(proc)
        problems.append(f"{what}: no answer within {time_limit(opts):g}s: check that the cluster is reachable "
                        "(--kubeconfig/--context), raise the timeout, or pass --snapshot")
        raise KubectlFatal from None
    except BaseException:  # Ctrl-C: kubectl is in its own session, so it did not get the SIGINT
        kill_group(proc)
        raise
    if proc.returncode == 0:
        return out
    _explain(what, proc.returncode, err.decode("utf-8", "replace"), opts, problems, rbac)
    return None


def kill_group(proc: subprocess.Popen[bytes], reap: bool = True) -> None:
    """SIGKILL kubectl and any credential plugin it started (its own process group). With
    ``reap`` also collect it; not from another thread than the one reading its pipes."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    if not reap:
        return
    try:
        proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:  # a grandchild in its own session still holds the pipes
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()


def last_detail(stderr: str, code: int) -> str:
    """The line of kubectl's stderr that says what went wrong (not client-go's log lines)."""
    lines = [one_line(line) for line in stderr.splitlines() if line.strip()]
    plain = [line for line in lines if not _KLOG.match(line)]
    return (plain or lines or [f"exit status {code}"])[-1]


def _explain(what: str, code: int, stderr: str, opts: KubectlOptions, problems: list[str], rbac: str) -> None:
    detail = last_detail(stderr, code)
    low = stderr.lower()
    if "forbidden" in low:
        user = _USER.search(stderr)
        who = f" for user {one_line(user[1])}" if user else ""
        problems.append(f"{what}: forbidden{who} (RBAC): {rbac}")
        return
    target = f" (--context={opts.context})" if opts.context else ""
    if "error from server" in low:
        # The API server answered; what failed is behind it (a node's kubelet for configz, a
        # busy etcd): this call only, not the cluster.
        problems.append(f"{what} failed ({detail})")
        return
    if any(s in low for s in _TIMEOUT):
        problems.append(f"{what}: the cluster did not answer in time{target} ({detail}): check that it is "
                        "reachable, raise the timeout, or pass --snapshot")
    elif any(s in low for s in _UNREACHABLE):
        problems.append(f"{what}: cannot reach the cluster{target} ({detail}): check --kubeconfig/--context "
                        "and that the API server is up, or pass --snapshot")
    elif any(s in low for s in _UNAUTHORIZED):
        problems.append(f"{what}: the cluster rejected the credentials{target} ({detail}): log in again "
                        "(kubectl get nodes should work), or pass --snapshot")
    elif any(s in low for s in _CONFIG):
        problems.append(f"{what}: kubeconfig problem ({detail}): fix --kubeconfig/--context, or pass --snapshot")
    else:
        problems.append(f"{what} failed ({detail})")
        return
    raise KubectlFatal


def one_line(text: str) -> str:
    """One printable line of at most 300 characters (stderr may carry a hostile server's text)."""
    text = _CONTROL.sub("?", text.strip())
    return text if len(text) <= 300 else text[:297] + "..."
