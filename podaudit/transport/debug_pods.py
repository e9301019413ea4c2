"""The kubectl debug pods podaudit makes, and their end: every pod is labelled and always
deleted, on success, failure and interrupt alike.

A process-wide registry remembers each pod from before ``kubectl debug`` starts until its
delete was sent, and :func:`cleanup_debug_pods` (the CLI's ``finally`` and ``atexit``)
deletes whatever a worker thread could not. Only a pod that carries this run's marker in
its command is ever deleted.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any

from podaudit.errors import NodeUnavailable
from podaudit.kubelet.untrusted import as_dict
from podaudit.model import FailureKind
from podaudit.names import valid_node_name
from podaudit.transport.kubectl import KubectlFatal, KubectlOptions, kubectl_argv, run_kubectl, time_limit
from podaudit.transport.limits import kill_group

NO_CHROOT = 97  # the container's exit status when chroot /host is refused
# The container's command after "sh -c": $0 is the run's marker, $1 the gather script. The
# script's stderr is dropped (logs merge it into stdout); its stdout goes out as base64 lines.
WRAPPER = (f"chroot /host true 2>/dev/null || {{ echo 'podaudit: chroot /host refused'; exit {NO_CHROOT}; }}; "
           "printf '%s' \"$1\" | chroot /host sh -s 2>/dev/null | base64; echo PODAUDIT-END")
RBAC = ("podaudit needs create, get, list, patch and delete on pods, get on pods/log, and get on nodes "
        "(docs/kubectl-debug.md)")


@dataclass
class Launch:
    """One debug pod, from before kubectl debug starts until its delete was sent."""

    node: str
    namespace: str | None
    marker: str
    run_id: str
    kubectl: KubectlOptions
    name: str | None = None  # known to be ours: kubectl debug created it and said so
    proc: subprocess.Popen[bytes] | None = None
    settled: threading.Event = field(default_factory=threading.Event)  # proc is set, or never will be


_LOCK = threading.Lock()
_LIVE: dict[int, Launch] = {}
_SEEN: set[str] = set()  # run ids of every collection started
_CLOSED: set[str] = set()  # run ids whose cleanup ran: no new pod for them (workers outlive Ctrl-C)
_ATEXIT: list[bool] = []  # [True] once registered


def open_run(run_id: str) -> None:
    """Note a run's collection, so that its cleanup stops the run's other workers too."""
    with _LOCK:
        _SEEN.add(run_id)


def register_cleanup() -> None:
    """Delete every pod still registered when the interpreter exits (once per process)."""
    with _LOCK:
        if not _ATEXIT:
            atexit.register(cleanup_debug_pods)
            _ATEXIT.append(True)


def cleanup_debug_pods() -> list[str]:
    """Delete every debug pod not yet deleted (after Ctrl-C: daemon workers never reach their
    ``finally``); their runs start no new pod. Returns one problem line per pod left behind."""
    with _LOCK:
        launches = list(_LIVE.values())
        _LIVE.clear()
        _CLOSED.update(_SEEN)  # a sweep's other workers must not start pods after this
    problems: list[str] = []
    for launch in launches:
        _stop_kubectl(launch)
        problems.extend(_delete(launch))
    return problems


def register(launch: Launch) -> None:
    with _LOCK:
        if launch.run_id in _CLOSED:
            raise NodeUnavailable(launch.node, FailureKind.INTERRUPTED,
                                  f"{launch.node}: interrupted; no debug pod created")
        _LIVE[id(launch)] = launch


def check_open(launch: Launch) -> None:
    """After an interrupt's cleanup, a worker still running says so rather than reporting the
    failures the cleanup caused (a killed kubectl, a pod gone)."""
    with _LOCK:
        closed = launch.run_id in _CLOSED
    if closed:
        raise NodeUnavailable(launch.node, FailureKind.INTERRUPTED,
                              f"{launch.node}: interrupted; its debug pod was deleted")


def release(launch: Launch) -> list[str]:
    """The worker's own delete. The launch stays registered until the delete was sent, so a
    Ctrl-C that interrupts it leaves the pod to cleanup_debug_pods."""
    with _LOCK:
        mine = id(launch) in _LIVE
    if not mine:
        return []  # cleanup_debug_pods took it over
    if launch.proc is not None and launch.proc.poll() is None:
        kill_group(launch.proc, reap=False)  # interrupted in kubectl debug: no pod may appear after the search
    problems = _delete(launch)
    with _LOCK:
        _LIVE.pop(id(launch), None)
    return problems


def _stop_kubectl(launch: Launch) -> None:
    """A kubectl debug still running is killed before its pod is looked for: otherwise it
    could create the pod after the search."""
    launch.settled.wait(5)
    if launch.proc is not None and launch.proc.poll() is None:
        kill_group(launch.proc, reap=False)  # its owner thread reaps it


# -- kubectl debug itself -------------------------------------------------------------------
def spawn(launch: Launch, args: list[str]) -> tuple[int, bytes, bytes]:
    """Run kubectl debug (stdout and stderr both wanted: the pod's name is on stdout, even
    when kubectl then fails) and register the process so an interrupt can kill it."""
    opts = launch.kubectl
    limit = time_limit(opts)
    argv = kubectl_argv(opts, args)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, close_fds=True)
    except OSError as exc:
        launch.settled.set()
        raise NodeUnavailable(launch.node, FailureKind.KUBECTL_MISSING,
                              f"{launch.node}: kubectl ({opts.kubectl}) could not be "
                              f"started ({exc.strerror or exc}): install it or fix --kubectl") from None
    with _LOCK:
        launch.proc = proc
        closing = launch.run_id in _CLOSED
    launch.settled.set()
    if closing:
        kill_group(proc, reap=False)  # communicate below collects it
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        check_open(launch)
        raise NodeUnavailable(launch.node, FailureKind.TIMEOUT, (
            f"{launch.node}: kubectl debug got no answer within {limit:g}s: check that the cluster is "
            "reachable (--kubeconfig/--context), or raise the timeout")) from None
    check_open(launch)
    return proc.returncode, out, err


# -- finding and deleting pods ----------------------------------------------------------------
def _delete(launch: Launch) -> list[str]:
    """Delete the launch's pod: by name when kubectl debug created it, else every pod on the
    node that carries its marker (kubectl may have been killed after its create went out)."""
    try:
        names = [launch.name] if launch.name is not None else ours(launch)
    except NodeUnavailable as exc:
        return [f"{exc.message}; a debug pod with {launch.marker} in its command may be left on {launch.node}"]
    problems: list[str] = []
    for name in names:
        what = f"kubectl delete pod {name}"
        try:
            out = run_kubectl(launch.kubectl, ["delete", "pod", name, *ns_args(launch), "--wait=false",
                                               "--ignore-not-found"], what, problems, RBAC)
        except KubectlFatal:
            out = None
        if out is None:
            why = problems.pop() if problems else f"{what} failed"
            problems.append(f"{launch.node}: debug pod {name} may be left behind ({why}): "
                            f"delete it with kubectl delete pod {name}{_ns_text(launch)}")
    return problems


def ours(launch: Launch) -> list[str]:
    """Pods on the launch's node whose command carries its marker (never anyone else's)."""
    problems: list[str] = []
    what = f"kubectl get pods on {launch.node}"
    try:
        out = run_kubectl(launch.kubectl, ["get", "pods", *ns_args(launch), "--field-selector",
                                                    f"spec.nodeName={launch.node}", "-o", "json"], what, problems, RBAC)
    except KubectlFatal:
        out = None
    if out is None:
        raise NodeUnavailable(launch.node, FailureKind.KUBECTL, f"{launch.node}: {problems[-1] if problems else what}")
    items = json_object(out).get("items")
    pods = [p for p in items if isinstance(p, dict)] if isinstance(items, list) else []
    names = [as_dict(p.get("metadata")).get("name") for p in pods if marker_of(p) == launch.marker]
    return [n for n in names if isinstance(n, str) and valid_node_name(n)]  # pod names are DNS subdomains too


def marker_of(pod: dict[str, Any]) -> str | None:
    """$0 of the pod's sh -c command: the marker podaudit put there, if it is ours."""
    try:
        command = pod["spec"]["containers"][0]["command"]
        return str(command[3]) if command[:3] == ["sh", "-c", WRAPPER] else None
    except (KeyError, IndexError, TypeError):
        return None



def json_object(out: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(out)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def ns_args(launch: Launch) -> list[str]:
    return [f"--namespace={launch.namespace}"] if launch.namespace else []


def _ns_text(launch: Launch) -> str:
    return f" -n {launch.namespace}" if launch.namespace else ""
