"""PA108-PA111: what the kubelet and the container runtime say runs, against the files.

Every rule reads the node's reconciled witnesses (``view.reconciled``, kubelet/reconcile.py),
computed once in ``analyze_node``; none re-derives a state. A witness that was not heard
(refused, absent, failed) gives no finding: these rules only repeat what a witness said.
"""

from __future__ import annotations

from collections.abc import Iterator

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import Finding, finding, rule
from podaudit.kubelet.reconcile import Reconciliation
from podaudit.model import ContainerRun, WitnessSource

MAX_LOG_LINE = 200  # characters of a container's last log line quoted in a finding


def _heard_as(rec: Reconciliation, sources: tuple[WitnessSource, ...]) -> str:
    """Who says so, for people: "the kubelet's /pods (api node proxy) and the runtime (crictl ...)"."""
    words = {WitnessSource.KUBELET: "the kubelet's /pods", WitnessSource.RUNTIME: "the container runtime"}
    said = []
    for source in sources:
        if source in words:
            witness = rec.witness(source)
            via = f" ({witness.via})" if witness is not None and witness.via else ""
            said.append(words[source] + via)
    return " and ".join(said)


def _kubelet_folder(ctx: NodeContext) -> str | None:
    rec = ctx.view.reconciled
    return (rec.running.path or None) if rec.differs else ctx.view.static_pod_path.value


@rule("PA108", "high", "the kubelet runs a static pod that no file defines",
      what="The kubelet's own pod list (/pods) or the container runtime's sandboxes show a static pod "
           "(kubernetes.io/config.source: file) that no file in the folder the running kubelet reads defines.",
      why="Whatever runs it is not on disk where anyone looks: a manifest removed moments ago whose pod the "
          "kubelet has not stopped yet, a folder the kubelet still reads after its config changed, a kubelet "
          "started by hand with other flags, or a pod planted and its file deleted. Reading the files alone "
          "shows nothing.",
      fix="`podaudit node` shows the folder the running kubelet reads and the witness that saw the pod. Restart "
          "the kubelet when its settings changed (`systemctl restart kubelet`); otherwise find who started it "
          "(`crictl inspectp` of its sandbox, `journalctl -u kubelet | grep <pod>`).",
      example="cp-1: kube-system/miner-cp-1 runs (the kubelet's /pods (api node proxy)) but no file defines it: "
              "no file in /etc/kubernetes/manifests defines it")
def witness_only_pod(ctx: NodeContext) -> Iterator[Finding]:
    view, rec = ctx.view, ctx.view.reconciled
    if not rec.complete:
        return  # a folder not read in full may hold its file (PA904 says what was not read)
    has_url = bool(view.static_pod_url.value or rec.running.url)
    for pod in rec.unfiled:
        if pod.manifest_path is not None or (pod.source == "http" and has_url):
            continue
        yield finding("PA108", ctx.node, _kubelet_folder(ctx),
                      f"{ctx.node}: {pod.namespace}/{pod.name} runs ({_heard_as(rec, pod.witnessed_by)}) but no "
                      f"file defines it: {pod.why}", key=f"{pod.namespace}/{pod.name}")


@rule("PA109", "medium", "a static pod file the running kubelet does not run",
      what="A manifest podaudit judges valid, in the folder the running kubelet reads, whose pod the kubelet's "
           "/pods does not list (older than a minute), or for which the container runtime has no sandbox.",
      why="The kubelet refused the file (a field this kubelet version rejects, a decode error podaudit does not "
          "reproduce) or cannot start its sandbox; the file looks fine, and nothing in the API says otherwise: "
          "a rejected file leaves no mirror pod and no event, only a kubelet log line.",
      fix="Read the kubelet's reason: `journalctl -u kubelet | grep \"Could not process manifest file\"`, or "
          "`journalctl -u kubelet | grep <pod name>` for a sandbox that does not start; fix the manifest.",
      example="node-1: /etc/kubernetes/manifests/web.yaml defines default/web-node-1 but the running kubelet does "
              "not run it: the kubelet does not list it in /pods (api node proxy) although the file is older "
              "than a minute: the kubelet refused the file")
def file_not_run(ctx: NodeContext) -> Iterator[Finding]:
    for pod in ctx.view.reconciled.pods:
        if pod.state == "rejected":
            why = pod.why
        elif pod.state == "running" and pod.sandbox is False and WitnessSource.KUBELET in pod.witnessed_by:
            why = ("the kubelet lists it but the container runtime has no ready sandbox for it: it cannot start it "
                   "(journalctl -u kubelet | grep " + pod.pod_name + ")")
        else:
            continue
        yield finding("PA109", ctx.node, pod.manifest_path,
                      f"{ctx.node}: {pod.manifest_path} defines {pod.namespace}/{pod.pod_name} but the running "
                      f"kubelet does not run it: {why}", key=f"{pod.namespace}/{pod.name}")


@rule("PA110", "low", "the runtime has a sandbox for a static pod the kubelet does not list",
      what="The container runtime has a ready pod sandbox of a static pod (kubernetes.io/config.source: file) "
           "whose UID the kubelet's own /pods does not list.",
      why="The kubelet no longer knows that pod (its file was removed or changed, which gives a new UID, or "
          "the kubelet restarted with another folder): its containers run unmanaged until the kubelet's "
          "housekeeping (HandlePodCleanups) kills them. One that stays means the kubelet cannot stop it.",
      fix="Wait a minute and look again; if it stays, `crictl stopp <sandbox id> && crictl rmp <sandbox id>` "
          "on the node, and read `journalctl -u kubelet` for why the kubelet did not.",
      example="node-1: the container runtime has a sandbox for default/web-node-1 (uid 3a5d...) that the kubelet's "
              "/pods does not list")
def unlisted_sandbox(ctx: NodeContext) -> Iterator[Finding]:
    for box in ctx.view.reconciled.unlisted_sandboxes:
        yield finding("PA110", ctx.node, None,
                      f"{ctx.node}: the container runtime has a sandbox for {box.namespace}/{box.name} (uid "
                      f"{box.uid or 'not given'}) that the kubelet's /pods does not list",
                      key=f"{box.namespace}/{box.name}/{box.uid}")


def failing(container: ContainerRun) -> bool:
    """Not running, and crash-looping, exited non-zero or restarted (the runtime knows only
    EXITED; CrashLoopBackOff is the kubelet's word, kuberuntime_manager.go doBackOff)."""
    if container.state == "running":
        return False
    return container.reason == "CrashLoopBackOff" or container.exit_code not in (None, 0) or container.restarts > 0


def describe(container: ContainerRun) -> str:
    """container kube-apiserver exited 1, 14 restarts, last log line: ..."""
    if container.state == "exited" and container.exit_code is not None:
        words = f"exited {container.exit_code}"
    else:
        words = container.state + (f", last exit {container.exit_code}" if container.exit_code else "")
    if container.reason and container.reason != "Error":  # Error: containerd's word for any non-zero exit
        words += f" ({container.reason})"
    words += f", {container.restarts} restarts" if container.restarts else ""
    lines = [line for line in container.log_tail if line.strip()]
    if lines:
        words += f", last log line: {lines[-1][:MAX_LOG_LINE]}"
    return f"container {container.name} {words}"


@rule("PA111", "high", "a static pod's container keeps failing",
      what="The kubelet's /pods or the container runtime shows a static pod's container that is not running and "
           "exited non-zero, is in CrashLoopBackOff, or has restarted.",
      why="A static pod the kubelet cannot keep running is usually a bad manifest edit (a wrong flag, a bad "
          "path); on a control plane it takes the API server down with it, and then kubectl shows nothing. The "
          "runtime still knows the exit code and the last log lines.",
      fix="Read the whole log on the node (`crictl logs <container id>`, `crictl ps -a --name <container>`), "
          "fix the manifest podaudit names; the kubelet picks the file up within 20 s.",
      example="cp1: kube-system/kube-apiserver from /etc/kubernetes/manifests/kube-apiserver.yaml: container "
              "kube-apiserver exited 1, 14 restarts, last log line: Error: unknown flag: --insecure-port")
def failing_container(ctx: NodeContext) -> Iterator[Finding]:
    rec = ctx.view.reconciled
    for pod in rec.pods:
        for container in filter(failing, pod.containers):
            yield finding("PA111", ctx.node, pod.manifest_path,
                          f"{ctx.node}: {pod.namespace}/{pod.name} from {pod.manifest_path}: {describe(container)}",
                          key=f"{pod.namespace}/{pod.name}/{container.name}")
    for unfiled in rec.unfiled:
        for container in filter(failing, unfiled.containers):
            yield finding("PA111", ctx.node, unfiled.manifest_path,
                          f"{ctx.node}: {unfiled.namespace}/{unfiled.name} (no file defines it; "
                          f"{_heard_as(rec, unfiled.witnessed_by)}): {describe(container)}",
                          key=f"{unfiled.namespace}/{unfiled.name}/{container.name}")
