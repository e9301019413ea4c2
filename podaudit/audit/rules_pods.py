"""PA405: static pods that hold the host, where none is expected.

A static pod bypasses admission control and the API audit log; one that is privileged or
shares the host's namespaces or files is root on the node for good (Threat Matrix MS-TA9017).
Odd manifest data is never judged: a field of the wrong type is skipped, never raised on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import Finding, finding, rule

# Static pods that run with host privileges by design when no baseline says otherwise.
WELL_KNOWN = frozenset(("kube-system", name) for name in (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "cloud-controller-manager"))
RISKY_CAPABILITIES = frozenset({"SYS_ADMIN", "NET_ADMIN", "ALL"})


def _expected_pods(ctx: NodeContext) -> frozenset[tuple[str, str]]:
    """(namespace, name) a static pod may have on this node: the baseline's, else the
    well-known control plane on a control-plane node (a "kube-apiserver" on a worker is not
    exempt), plus rke2's kube-proxy, which rke2 runs as a static pod on every node."""
    pods = getattr(ctx.expected, "static_pods", None) if ctx.expected is not None else None
    if pods is None:
        known = WELL_KNOWN if ctx.role == "control-plane" else frozenset()
        rke2 = (ctx.view.static_pod_path.value or "").startswith("/var/lib/rancher/rke2/")
        return known | ({("kube-system", "kube-proxy")} if rke2 else frozenset())
    try:
        return frozenset((str(getattr(p, "namespace", "")), str(getattr(p, "name", ""))) for p in pods)
    except TypeError:
        return WELL_KNOWN


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def pod_risks(pod: Any) -> list[str]:
    """What gives a pod (a manifest dict) the host: host namespaces, hostPath, privilege."""
    spec = pod.get("spec") if isinstance(pod, dict) else None
    if not isinstance(spec, dict):
        return []
    risks = [key for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    for volume in _items(spec.get("volumes")):
        host = volume.get("hostPath")
        if isinstance(host, dict):
            risks.append(f"hostPath {host.get('path')}")
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in _items(spec.get(kind)):
            name = container.get("name")
            context = container.get("securityContext")
            if not isinstance(context, dict):
                continue
            if context.get("privileged") is True:
                risks.append(f"privileged container {name}")
            caps = context.get("capabilities")
            added = caps.get("add") if isinstance(caps, dict) else None
            names = [str(c).upper().removeprefix("CAP_") for c in added] if isinstance(added, list) else []
            risky = sorted({c for c in names if c in RISKY_CAPABILITIES})
            if risky:
                risks.append(f"container {name} adds {'/'.join(risky)}")
    return risks


@rule("PA405", "high", "an unexpected static pod with host privileges",
      what="A static pod the kubelet runs that is not expected on this node (the baseline's list for its role; "
           "without a baseline, anything but kube-system etcd, kube-apiserver, kube-controller-manager, "
           "kube-scheduler and cloud-controller-manager) is privileged, adds SYS_ADMIN, NET_ADMIN or ALL, "
           "uses hostNetwork, hostPID or hostIPC, or mounts a hostPath volume.",
      why="Static pods bypass admission control (Pod Security, policy engines) and the API audit log "
          "(kubernetes.io 'API Server Bypass Risks'); a privileged one is root on the node for good. This is "
          "the persistence technique MS-TA9017 'Static Pods' of the Microsoft Threat Matrix for Kubernetes, "
          "and GKE's 'Defense Evasion: Static Pod Created'.",
      fix="Find out who put it there (`ls -l --time-style=full-iso FILE`, auditd/FIM logs). If it is not "
          "wanted, move the manifest out of the directory (`mv FILE /root/quarantine/`): the kubelet stops "
          "the pod within ~20 s. If it is wanted, add it to the baseline's expected static pods.",
      example="worker-2: /etc/kubernetes/manifests/agent.yaml runs default/agent-worker-2, not an expected "
              "static pod, with hostPID, hostPath /, privileged container agent",
      # Privileged, hostPID, hostIPC, hostNetwork, HostPath volumes: for the static pods that
      # admission, where these controls are usually enforced, never sees.
      cis=("5.2.2", "5.2.3", "5.2.4", "5.2.5", "5.2.11"))
def unexpected_privileged_pod(ctx: NodeContext) -> Iterator[Finding]:
    expected = _expected_pods(ctx)
    for pod in ctx.view.static_pods:
        if (pod.namespace, pod.name) in expected or (pod.namespace, pod.mirror_name) in expected:
            continue
        risks = pod_risks(pod.spec)
        if risks:
            yield finding("PA405", ctx.node, pod.manifest_path,
                          f"{ctx.node}: {pod.manifest_path} runs {pod.namespace}/{pod.mirror_name}, not an "
                          f"expected static pod, with {', '.join(risks)}", key=f"{pod.namespace}/{pod.name}")
