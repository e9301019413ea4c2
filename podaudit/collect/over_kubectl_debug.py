"""Collect a node through ``kubectl debug node/NODE --profile=sysadmin``: no SSH needed.

Each pass creates one debug pod on the node (privileged, host namespaces, the node's ``/``
at ``/host``, tolerating every taint: what kubectl's sysadmin profile and node debugging
set), whose container runs the same POSIX gather script as the SSH transport, chrooted
into ``/host``. The script travels as one argv word of the container's command, so no
shell on our side ever parses it. The output comes back through ``kubectl logs``, which is
line-based text merged with stderr, so the container prints it base64-encoded, followed by
an end line: a log without that line is not podaudit's output.

Every pod is labelled and always deleted, on success, failure and interrupt alike: a
process-wide registry remembers each pod from before ``kubectl debug`` starts until its
delete was sent, and :func:`cleanup_debug_pods` (the CLI's ``finally`` and ``atexit``)
deletes whatever a worker thread could not. Only a pod that carries this run's marker in
its command is ever deleted.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from podaudit.cluster.api import valid_node_name
from podaudit.cluster.kubectl import (
    KubectlFatal,
    KubectlOptions,
    kill_group,
    kubectl_argv,
    last_detail,
    one_line,
    run_kubectl,
    time_limit,
)
from podaudit.cluster.source import NodeUnavailable
from podaudit.collect.passes import collect_view
from podaudit.collect.records import GatherError
from podaudit.kubelet.resolve import NodeView
from podaudit.transport.limits import MAX_NODE_STDERR, MAX_NODE_STDOUT, base64_size, run_capped, too_much

MARKER = b"PODAUDIT-GATHER "
END = b"PODAUDIT-END"
NO_CHROOT = 97  # the container's exit status when chroot /host is refused
MAX_PASSES = 3
CONTAINER = "debugger"  # the container name kubectl debug node gives its pod
# The container's command after "sh -c": $0 is the run's marker, $1 the gather script. The
# script's stderr is dropped (logs merge it into stdout); its stdout goes out as base64 lines.
WRAPPER = (f"chroot /host true 2>/dev/null || {{ echo 'podaudit: chroot /host refused'; exit {NO_CHROOT}; }}; "
           "printf '%s' \"$1\" | chroot /host sh -s 2>/dev/null | base64; echo PODAUDIT-END")
MAX_SCRIPT = 120_000  # Linux caps one argv word at 128 KiB; the first pass is about 24 KB
RBAC = ("podaudit needs create, get, list, patch and delete on pods, get on pods/log, and get on nodes "
        "(docs/kubectl-debug.md)")
IMAGE_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
START_REASONS = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff")
ADMISSION = ("violates podsecurity", "admission webhook", "denied the request", "podsecuritypolicy")
_CREATED = re.compile(rb"Creating debugging pod (\S+) with container ")
_RUN_ID = re.compile(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?")


@dataclass(frozen=True)
class DebugOptions:
    image: str = "busybox:1.37"
    namespace: str | None = None  # None: the context's namespace, as kubectl itself chooses
    timeout: float = 120.0  # seconds for each debug pod, from create to its end (image pull included)


@dataclass(frozen=True)
class DebugNode:
    """A node reached through ``kubectl debug node/NODE``; a NodeSource."""

    node: str
    kubectl: KubectlOptions
    debug: DebugOptions = field(default_factory=DebugOptions)
    run_id: str = "podaudit"
    only: bool = False
    node_ip: str | None = None

    @property
    def name(self) -> str:
        return self.node

    def load(self) -> NodeView:
        start = time.monotonic()
        session = _Session(self)
        try:
            _, view, execs = collect_view(session.run, self.node, max_passes=MAX_PASSES, node_ip=self.node_ip)
        except GatherError as exc:
            raise NodeUnavailable(self.node, "gather", f"{self.node}: {exc}") from exc
        view.collection = {"transport": "kubectl-debug", "pods": session.pods, "execs": execs,
                           "seconds": round(time.monotonic() - start, 3)}
        view.problems.extend(session.leftovers)
        return view

    def run_script(self, script: bytes) -> bytes:
        """One POSIX sh script run as root on the node through one debug pod: its stdout,
        which must start with ``PODAUDIT-GATHER ``; raises NodeUnavailable."""
        session = _Session(self)
        out = session.run(script)
        if session.leftovers:
            raise NodeUnavailable(self.node, "kubectl", session.leftovers[0])
        return out


def container_command(marker: str, script: bytes) -> list[str]:
    """The debug container's argv: ``sh -c WRAPPER MARKER SCRIPT``. The script is one argv
    word (its exact bytes, by surrogateescape) that WRAPPER only ever expands as "$1", so no
    shell parses it as part of a command line; WRAPPER is a constant."""
    if b"\0" in script:  # an argv word ends at a NUL: the script would arrive cut
        raise ValueError("a script with a NUL byte cannot travel as one argument")
    return ["sh", "-c", WRAPPER, marker, script.decode("utf-8", "surrogateescape")]


# -- the registry of pods that may exist ---------------------------------------------------
@dataclass
class _Launch:
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
_LIVE: dict[int, _Launch] = {}
_SEEN: set[str] = set()  # run ids of every collection started
_CLOSED: set[str] = set()  # run ids whose cleanup ran: no new pod for them (workers outlive Ctrl-C)
_ATEXIT: list[bool] = []  # [True] once registered


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


def _register(launch: _Launch) -> None:
    with _LOCK:
        if launch.run_id in _CLOSED:
            raise NodeUnavailable(launch.node, "interrupted", f"{launch.node}: interrupted; no debug pod created")
        _LIVE[id(launch)] = launch


def _check_open(launch: _Launch) -> None:
    """After an interrupt's cleanup, a worker still running says so rather than reporting the
    failures the cleanup caused (a killed kubectl, a pod gone)."""
    with _LOCK:
        closed = launch.run_id in _CLOSED
    if closed:
        raise NodeUnavailable(launch.node, "interrupted", f"{launch.node}: interrupted; its debug pod was deleted")


def _release(launch: _Launch) -> list[str]:
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


def _stop_kubectl(launch: _Launch) -> None:
    """A kubectl debug still running is killed before its pod is looked for: otherwise it
    could create the pod after the search."""
    launch.settled.wait(5)
    if launch.proc is not None and launch.proc.poll() is None:
        kill_group(launch.proc, reap=False)  # its owner thread reaps it


# -- one pass: one pod ------------------------------------------------------------------------
class _Session:
    """The passes of one node's collection, each through its own debug pod."""

    def __init__(self, source: DebugNode) -> None:
        if not valid_node_name(source.node):  # it reaches kubectl's argv and a field selector
            raise NodeUnavailable(source.node, "usage", f"{one_line(repr(source.node))}: not a node name")
        if not _RUN_ID.fullmatch(source.run_id):  # it becomes a label value and the pod's $0
            raise NodeUnavailable(source.node, "usage", f"{source.node}: run id {one_line(repr(source.run_id))} "
                                  "is not 1-32 lowercase letters, digits and dashes")
        with _LOCK:
            _SEEN.add(source.run_id)
        self.source = source
        self.node = source.node
        self.pods = 0
        self.leftovers: list[str] = []  # pods whose delete failed: the user must know

    def run(self, script: bytes) -> bytes:
        if len(script) > MAX_SCRIPT:
            raise NodeUnavailable(self.node, "gather", f"{self.node}: the gather script ({len(script)} bytes) is "
                                  "too long for one command argument; use --via ssh for this node")
        self.pods += 1
        marker = f"podaudit-{self.source.run_id}-{self.pods}"
        launch = _Launch(self.node, self.source.debug.namespace, marker, self.source.run_id, self.source.kubectl)
        _register(launch)
        try:
            return self._pass(launch, script)
        finally:
            self.leftovers.extend(_release(launch))

    def _pass(self, launch: _Launch, script: bytes) -> bytes:
        launch.name = self._create(launch, script)
        self._kubectl(["label", "pod", launch.name, *_ns(launch), f"podaudit/run={launch.run_id}",
                       "app.kubernetes.io/created-by=podaudit", "--overwrite"], "kubectl label pod", launch)
        code = self._wait(launch)
        if code == NO_CHROOT:
            raise NodeUnavailable(self.node, "privilege", (
                f"{self.node}: the debug pod could not chroot /host (it is not privileged: an admission policy "
                "may have changed it); use --debug-namespace with a namespace that allows privileged pods, "
                "or --via ssh"))
        log = self._logs(launch)
        out = decode_log(self.node, log)
        if not out.startswith(MARKER):
            raise NodeUnavailable(self.node, "gather", f"{self.node}: the gather script did not run in the debug pod "
                                  f"(exit {code}): {_first_lines(out) or 'no output'}")
        return out

    def _create(self, launch: _Launch, script: bytes) -> str:
        """kubectl debug node/NODE; the created pod's name, as kubectl printed it."""
        debug = self.source.debug
        args = ["debug", f"node/{self.node}", "--profile=sysadmin", f"--image={debug.image}", "--attach=false",
                *_ns(launch), "--", *container_command(launch.marker, script)]
        code, out, err = _spawn(launch, args)
        if code != 0:
            raise _debug_failed(self.node, launch, code, err)
        found = _CREATED.search(out)
        if found is None:  # kubectl said nothing (a future --quiet default?): find it by marker
            pods = _ours(launch)
            if len(pods) != 1:
                raise NodeUnavailable(self.node, "kubectl", f"{self.node}: kubectl debug did not say which pod it "
                                      f"created, and {len(pods)} pods carry this run's marker")
            return pods[0]
        name = found[1].decode("ascii", "replace")
        if not valid_node_name(name):  # pod names are DNS-1123 subdomains, as node names are
            raise NodeUnavailable(self.node, "kubectl", f"{self.node}: kubectl debug named an impossible pod "
                                  f"{one_line(repr(name))}")
        return name

    def _wait(self, launch: _Launch) -> int:
        """Poll the pod until its container ended; its exit status."""
        assert launch.name is not None
        deadline = time.monotonic() + self.source.debug.timeout
        delay, phase = 0.2, "unknown"
        while time.monotonic() < deadline:
            _check_open(launch)
            args = ["get", "pod", launch.name, *_ns(launch), "-o", "json"]
            pod = _decode(self._kubectl(args, "kubectl get pod", launch))
            if not pod:
                raise NodeUnavailable(self.node, "kubectl", f"{self.node}: kubectl get pod {launch.name} did not "
                                      "answer with a pod (JSON)")
            if _marker_of(pod) != launch.marker:  # not ours after all: never touch it, not even to delete
                name, launch.name = launch.name, None
                raise NodeUnavailable(self.node, "kubectl", f"{self.node}: pod {name} does not run the command "
                                      "podaudit gave it; stopped")
            phase, state = _phase(pod)
            if phase in ("Succeeded", "Failed"):
                return _exit_code(state, phase)
            self._check_waiting(_dict(state.get("waiting")))
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        raise NodeUnavailable(self.node, "timeout", (
            f"{self.node}: the debug pod did not finish within {self.source.debug.timeout:g}s (phase {phase}): "
            "check that the node is Ready and can start pods, or raise the timeout"))

    def _check_waiting(self, waiting: dict[str, Any]) -> None:
        reason = str(waiting.get("reason", ""))
        detail = one_line(f"{reason}: {waiting.get('message', '')}".rstrip(": "))
        if reason in IMAGE_REASONS:
            raise NodeUnavailable(self.node, "image", (
                f"{self.node}: the debug pod cannot pull {self.source.debug.image} ({detail}); use --debug-image "
                "with an image the node can pull (any image with sh, chroot and base64)"))
        if reason in START_REASONS:
            raise NodeUnavailable(self.node, "kubectl", f"{self.node}: the debug pod's container could not start "
                                  f"({detail})")

    def _logs(self, launch: _Launch) -> bytes:
        """The pod's log, read within the node output cap (base64 of MAX_NODE_STDOUT, plus
        its end line): an endless log costs this node only. --limit-bytes lets an honest
        kubelet stop early; a hostile one is cut here."""
        assert launch.name is not None
        limit = base64_size(MAX_NODE_STDOUT) + 4096
        argv = kubectl_argv(self.source.kubectl, ["logs", launch.name, *_ns(launch), "-c", CONTAINER,
                                                  f"--limit-bytes={limit + 1}"])
        try:
            got = run_capped(argv, time_limit(self.source.kubectl), limit)
        except OSError as exc:
            raise NodeUnavailable(self.node, "kubectl", f"{self.node}: kubectl could not be started "
                                  f"({exc.strerror or exc})") from None
        _check_open(launch)
        if got.full == "stdout":
            raise NodeUnavailable(self.node, "gather", too_much(self.node, "in its debug pod's log", MAX_NODE_STDOUT))
        if got.full == "stderr":
            raise NodeUnavailable(self.node, "gather", too_much(self.node, "on kubectl's stderr", MAX_NODE_STDERR))
        if got.status != 0:
            text = got.err.decode("utf-8", "replace")
            why = "no answer in time" if got.timed_out else last_detail(text, got.status or 0)
            hint = f": {RBAC}" if "forbidden" in text.lower() else ""
            raise NodeUnavailable(self.node, "timeout" if got.timed_out else "kubectl",
                                  f"{self.node}: kubectl logs {launch.name} failed ({why}){hint}")
        return got.out

    def _kubectl(self, args: list[str], what: str, launch: _Launch) -> bytes:
        problems: list[str] = []
        try:
            out = run_kubectl(self.source.kubectl, args, what, problems, RBAC)
        except KubectlFatal:
            out = None
        if out is None:
            _check_open(launch)
            why = problems[-1] if problems else f"{what} failed"
            raise NodeUnavailable(self.node, "kubectl", f"{self.node}: {why}")
        return out


def decode_log(node: str, log: bytes) -> bytes:
    """The gather output inside a debug pod's log: the base64 lines before the end line."""
    lines = log.split(b"\n")
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not ends:
        raise NodeUnavailable(node, "gather", f"{node}: the debug pod's log is not podaudit's output (no end line): "
                              f"{_first_lines(log) or 'empty log'}")
    body = b"".join(line.strip() for line in lines[:ends[-1]])
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise NodeUnavailable(node, "gather", f"{node}: the debug pod's log is not base64 before its end line: "
                              f"{_first_lines(log)}") from None


# -- kubectl debug itself -------------------------------------------------------------------
def _spawn(launch: _Launch, args: list[str]) -> tuple[int, bytes, bytes]:
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
        raise NodeUnavailable(launch.node, "kubectl", f"{launch.node}: kubectl ({opts.kubectl}) could not be "
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
        _check_open(launch)
        raise NodeUnavailable(launch.node, "timeout", (
            f"{launch.node}: kubectl debug got no answer within {limit:g}s: check that the cluster is "
            "reachable (--kubeconfig/--context), or raise the timeout")) from None
    _check_open(launch)
    return proc.returncode, out, err


def _debug_failed(node: str, launch: _Launch, code: int, err: bytes) -> NodeUnavailable:
    text = err.decode("utf-8", "replace")
    detail = last_detail(text, code)
    low = text.lower()
    where = f"namespace {launch.namespace}" if launch.namespace else "the context's namespace"
    if any(s in low for s in ADMISSION) or ("forbidden" in low and 'user "' not in low):
        return NodeUnavailable(node, "admission", (
            f"{node}: the cluster refused the debug pod in {where} ({detail}); use --debug-namespace with a "
            "namespace that allows privileged pods (PodSecurity level privileged)"))
    if "forbidden" in low:
        return NodeUnavailable(node, "rbac", f"{node}: kubectl debug: forbidden ({detail}): {RBAC}")
    if "notfound" in low.replace(" ", "") and "nodes" in low:
        return NodeUnavailable(node, "unknown-node", f"{node}: no such node in the cluster ({detail})")
    return NodeUnavailable(node, "kubectl", f"{node}: kubectl debug failed ({detail})")


# -- finding and deleting pods ----------------------------------------------------------------
def _delete(launch: _Launch) -> list[str]:
    """Delete the launch's pod: by name when kubectl debug created it, else every pod on the
    node that carries its marker (kubectl may have been killed after its create went out)."""
    try:
        names = [launch.name] if launch.name is not None else _ours(launch)
    except NodeUnavailable as exc:
        return [f"{exc.message}; a debug pod with {launch.marker} in its command may be left on {launch.node}"]
    problems: list[str] = []
    for name in names:
        what = f"kubectl delete pod {name}"
        try:
            out = run_kubectl(launch.kubectl, ["delete", "pod", name, *_ns(launch), "--wait=false",
                                               "--ignore-not-found"], what, problems, RBAC)
        except KubectlFatal:
            out = None
        if out is None:
            why = problems.pop() if problems else f"{what} failed"
            problems.append(f"{launch.node}: debug pod {name} may be left behind ({why}): "
                            f"delete it with kubectl delete pod {name}{_ns_text(launch)}")
    return problems


def _ours(launch: _Launch) -> list[str]:
    """Pods on the launch's node whose command carries its marker (never anyone else's)."""
    problems: list[str] = []
    what = f"kubectl get pods on {launch.node}"
    try:
        out = run_kubectl(launch.kubectl, ["get", "pods", *_ns(launch), "--field-selector",
                                                    f"spec.nodeName={launch.node}", "-o", "json"], what, problems, RBAC)
    except KubectlFatal:
        out = None
    if out is None:
        raise NodeUnavailable(launch.node, "kubectl", f"{launch.node}: {problems[-1] if problems else what}")
    items = _decode(out).get("items")
    pods = [p for p in items if isinstance(p, dict)] if isinstance(items, list) else []
    names = [_dict(p.get("metadata")).get("name") for p in pods if _marker_of(p) == launch.marker]
    return [n for n in names if isinstance(n, str) and valid_node_name(n)]  # pod names are DNS subdomains too


def _marker_of(pod: dict[str, Any]) -> str | None:
    """$0 of the pod's sh -c command: the marker podaudit put there, if it is ours."""
    try:
        command = pod["spec"]["containers"][0]["command"]
        return str(command[3]) if command[:3] == ["sh", "-c", WRAPPER] else None
    except (KeyError, IndexError, TypeError):
        return None


def _phase(pod: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The pod's phase and its one container's state ({"waiting": ...}, {"terminated": ...})."""
    status = _dict(pod.get("status"))
    statuses = status.get("containerStatuses")
    first = _dict(statuses[0]) if isinstance(statuses, list) and statuses else {}
    return one_line(str(status.get("phase", "unknown"))), _dict(first.get("state"))


def _exit_code(state: dict[str, Any], phase: str) -> int:
    code = _dict(state.get("terminated")).get("exitCode")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return 0 if phase == "Succeeded" else 1


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _decode(out: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(out)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _ns(launch: _Launch) -> list[str]:
    return [f"--namespace={launch.namespace}"] if launch.namespace else []


def _ns_text(launch: _Launch) -> str:
    return f" -n {launch.namespace}" if launch.namespace else ""


def _first_lines(data: bytes) -> str:
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()][:3]
    return one_line(" | ".join(lines))
