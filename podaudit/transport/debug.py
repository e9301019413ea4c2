"""Root on a node through ``kubectl debug node/NODE --profile=sysadmin``: no SSH needed.

Each script (a gather pass, a change script) runs in a debug pod of its own on the node
(privileged, host namespaces, the node's ``/`` at ``/host``, tolerating every taint: what
kubectl's sysadmin profile and node debugging set), whose container runs the script,
chrooted into ``/host``. The script travels as one argv word of the container's command,
so no shell on our side ever parses it. The output comes back through ``kubectl logs``,
which is line-based text merged with stderr, so the container prints it base64-encoded,
followed by an end line: a log without that line is not podaudit's output.

Every pod is labelled and always deleted, on success, failure and interrupt alike
(debug_pods.py).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass
from typing import Any

from podaudit.errors import NodeUnavailable
from podaudit.kubelet.untrusted import as_dict
from podaudit.model import FailureKind
from podaudit.names import valid_node_name
from podaudit.transport import MARKER
from podaudit.transport.debug_pods import (
    NO_CHROOT,
    RBAC,
    WRAPPER,
    Launch,
    check_open,
    json_object,
    marker_of,
    ns_args,
    open_run,
    ours,
    register,
    release,
    spawn,
)
from podaudit.transport.kubectl import (
    KubectlFatal,
    KubectlOptions,
    kubectl_argv,
    last_detail,
    one_line,
    run_kubectl,
    time_limit,
)
from podaudit.transport.limits import MAX_NODE_STDERR, MAX_NODE_STDOUT, base64_size, run_capped, too_much

END = b"PODAUDIT-END"
CONTAINER = "debugger"  # the container name kubectl debug node gives its pod
MAX_SCRIPT = 120_000  # Linux caps one argv word at 128 KiB; the first pass is about 24 KB
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


class DebugShell:
    """A Shell through kubectl debug: each script runs in a debug pod of its own."""

    def __init__(self, node: str, kubectl: KubectlOptions, debug: DebugOptions, run_id: str) -> None:
        self.node, self.kubectl, self.debug, self.run_id = node, kubectl, debug, run_id

    def __enter__(self) -> DebugShell:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, script: bytes) -> bytes:
        """One POSIX sh script run as root on the node through one debug pod: its stdout,
        which must start with ``PODAUDIT-GATHER ``; raises NodeUnavailable."""
        session = DebugSession(self.node, self.kubectl, self.debug, self.run_id)
        out = session.run(script)
        if session.leftovers:
            raise NodeUnavailable(self.node, FailureKind.KUBECTL, session.leftovers[0])
        return out


def container_command(marker: str, script: bytes) -> list[str]:
    """The debug container's argv: ``sh -c WRAPPER MARKER SCRIPT``. The script is one argv
    word (its exact bytes, by surrogateescape) that WRAPPER only ever expands as "$1", so no
    shell parses it as part of a command line; WRAPPER is a constant."""
    if b"\0" in script:  # an argv word ends at a NUL: the script would arrive cut
        raise ValueError("a script with a NUL byte cannot travel as one argument")
    return ["sh", "-c", WRAPPER, marker, script.decode("utf-8", "surrogateescape")]


# -- one pass: one pod ------------------------------------------------------------------------
class DebugSession:
    """The passes of one node's collection (or one change script), each through its own debug pod."""

    def __init__(self, node: str, kubectl: KubectlOptions, debug: DebugOptions, run_id: str) -> None:
        if not valid_node_name(node):  # it reaches kubectl's argv and a field selector
            raise NodeUnavailable(node, FailureKind.CONFIG, f"{one_line(repr(node))}: not a node name")
        if not _RUN_ID.fullmatch(run_id):  # it becomes a label value and the pod's $0
            raise NodeUnavailable(node, FailureKind.CONFIG, f"{node}: run id {one_line(repr(run_id))} "
                                  "is not 1-32 lowercase letters, digits and dashes")
        open_run(run_id)
        self.node, self.kubectl, self.debug, self.run_id = node, kubectl, debug, run_id
        self.pods = 0
        self.leftovers: list[str] = []  # pods whose delete failed: the user must know

    def run(self, script: bytes) -> bytes:
        if len(script) > MAX_SCRIPT:
            raise NodeUnavailable(self.node, FailureKind.GATHER,
                                  f"{self.node}: the gather script ({len(script)} bytes) is "
                                  "too long for one command argument; use --via ssh for this node")
        self.pods += 1
        marker = f"podaudit-{self.run_id}-{self.pods}"
        launch = Launch(self.node, self.debug.namespace, marker, self.run_id, self.kubectl)
        register(launch)
        try:
            return self._pass(launch, script)
        finally:
            self.leftovers.extend(release(launch))

    def _pass(self, launch: Launch, script: bytes) -> bytes:
        launch.name = self._create(launch, script)
        self._kubectl(["label", "pod", launch.name, *ns_args(launch), f"podaudit/run={launch.run_id}",
                       "app.kubernetes.io/created-by=podaudit", "--overwrite"], "kubectl label pod", launch)
        code = self._wait(launch)
        if code == NO_CHROOT:
            # An admission policy that silently made the pod unprivileged.
            raise NodeUnavailable(self.node, FailureKind.ADMISSION, (
                f"{self.node}: the debug pod could not chroot /host (it is not privileged: an admission policy "
                "may have changed it); use --debug-namespace with a namespace that allows privileged pods, "
                "or --via ssh"))
        log = self._logs(launch)
        out = decode_log(self.node, log)
        if not out.startswith(MARKER):
            raise NodeUnavailable(self.node, FailureKind.GATHER,
                                  f"{self.node}: the gather script did not run in the debug pod "
                                  f"(exit {code}): {_first_lines(out) or 'no output'}")
        return out

    def _create(self, launch: Launch, script: bytes) -> str:
        """kubectl debug node/NODE; the created pod's name, as kubectl printed it."""
        debug = self.debug
        args = ["debug", f"node/{self.node}", "--profile=sysadmin", f"--image={debug.image}", "--attach=false",
                *ns_args(launch), "--", *container_command(launch.marker, script)]
        code, out, err = spawn(launch, args)
        if code != 0:
            raise _debug_failed(self.node, launch, code, err)
        found = _CREATED.search(out)
        if found is None:  # kubectl said nothing (a future --quiet default?): find it by marker
            pods = ours(launch)
            if len(pods) != 1:
                raise NodeUnavailable(self.node, FailureKind.KUBECTL,
                                      f"{self.node}: kubectl debug did not say which pod it "
                                      f"created, and {len(pods)} pods carry this run's marker")
            return pods[0]
        name = found[1].decode("ascii", "replace")
        if not valid_node_name(name):  # pod names are DNS-1123 subdomains, as node names are
            raise NodeUnavailable(self.node, FailureKind.KUBECTL, f"{self.node}: kubectl debug named an impossible pod "
                                  f"{one_line(repr(name))}")
        return name

    def _wait(self, launch: Launch) -> int:
        """Poll the pod until its container ended; its exit status."""
        assert launch.name is not None
        deadline = time.monotonic() + self.debug.timeout
        delay, phase = 0.2, "unknown"
        while time.monotonic() < deadline:
            check_open(launch)
            args = ["get", "pod", launch.name, *ns_args(launch), "-o", "json"]
            pod = json_object(self._kubectl(args, "kubectl get pod", launch))
            if not pod:
                raise NodeUnavailable(self.node, FailureKind.KUBECTL,
                                      f"{self.node}: kubectl get pod {launch.name} did not "
                                      "answer with a pod (JSON)")
            if marker_of(pod) != launch.marker:  # not ours after all: never touch it, not even to delete
                name, launch.name = launch.name, None
                raise NodeUnavailable(self.node, FailureKind.KUBECTL,
                                      f"{self.node}: pod {name} does not run the command "
                                      "podaudit gave it; stopped")
            phase, state = _phase(pod)
            if phase in ("Succeeded", "Failed"):
                return _exit_code(state, phase)
            self._check_waiting(as_dict(state.get("waiting")))
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        raise NodeUnavailable(self.node, FailureKind.TIMEOUT, (
            f"{self.node}: the debug pod did not finish within {self.debug.timeout:g}s (phase {phase}): "
            "check that the node is Ready and can start pods, or raise the timeout"))

    def _check_waiting(self, waiting: dict[str, Any]) -> None:
        reason = str(waiting.get("reason", ""))
        detail = one_line(f"{reason}: {waiting.get('message', '')}".rstrip(": "))
        if reason in IMAGE_REASONS:
            raise NodeUnavailable(self.node, FailureKind.IMAGE, (
                f"{self.node}: the debug pod cannot pull {self.debug.image} ({detail}); use --debug-image "
                "with an image the node can pull (any image with sh, chroot and base64)"))
        if reason in START_REASONS:
            # Most often an image without sh, chroot or base64 (RunContainerError, CrashLoopBackOff).
            raise NodeUnavailable(self.node, FailureKind.IMAGE,
                                  f"{self.node}: the debug pod's container could not start "
                                  f"({detail})")

    def _logs(self, launch: Launch) -> bytes:
        """The pod's log, read within the node output cap (base64 of MAX_NODE_STDOUT, plus
        its end line): an endless log costs this node only. --limit-bytes lets an honest
        kubelet stop early; a hostile one is cut here."""
        assert launch.name is not None
        limit = base64_size(MAX_NODE_STDOUT) + 4096
        argv = kubectl_argv(self.kubectl, ["logs", launch.name, *ns_args(launch), "-c", CONTAINER,
                                                  f"--limit-bytes={limit + 1}"])
        try:
            got = run_capped(argv, time_limit(self.kubectl), limit)
        except OSError as exc:
            raise NodeUnavailable(self.node, FailureKind.KUBECTL_MISSING, f"{self.node}: kubectl could not be started "
                                  f"({exc.strerror or exc})") from None
        check_open(launch)
        if got.full == "stdout":
            raise NodeUnavailable(self.node, FailureKind.GATHER,
                                  too_much(self.node, "in its debug pod's log", MAX_NODE_STDOUT))
        if got.full == "stderr":
            raise NodeUnavailable(self.node, FailureKind.GATHER,
                                  too_much(self.node, "on kubectl's stderr", MAX_NODE_STDERR))
        if got.status != 0:
            text = got.err.decode("utf-8", "replace")
            why = "no answer in time" if got.timed_out else last_detail(text, got.status or 0)
            forbidden = "forbidden" in text.lower()
            kind = FailureKind.TIMEOUT if got.timed_out else FailureKind.RBAC if forbidden else FailureKind.KUBECTL
            hint = f": {RBAC}" if forbidden else ""
            raise NodeUnavailable(self.node, kind, f"{self.node}: kubectl logs {launch.name} failed ({why}){hint}")
        return got.out

    def _kubectl(self, args: list[str], what: str, launch: Launch) -> bytes:
        problems: list[str] = []
        try:
            out = run_kubectl(self.kubectl, args, what, problems, RBAC)
        except KubectlFatal:
            out = None
        if out is None:
            check_open(launch)
            why = problems[-1] if problems else f"{what} failed"
            raise NodeUnavailable(self.node, FailureKind.KUBECTL, f"{self.node}: {why}")
        return out


def decode_log(node: str, log: bytes) -> bytes:
    """The gather output inside a debug pod's log: the base64 lines before the end line."""
    lines = log.split(b"\n")
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not ends:
        raise NodeUnavailable(node, FailureKind.GATHER,
                              f"{node}: the debug pod's log is not podaudit's output (no end line): "
                              f"{_first_lines(log) or 'empty log'}")
    body = b"".join(line.strip() for line in lines[:ends[-1]])
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise NodeUnavailable(node, FailureKind.GATHER,
                              f"{node}: the debug pod's log is not base64 before its end line: "
                              f"{_first_lines(log)}") from None


def _debug_failed(node: str, launch: Launch, code: int, err: bytes) -> NodeUnavailable:
    text = err.decode("utf-8", "replace")
    detail = last_detail(text, code)
    low = text.lower()
    where = f"namespace {launch.namespace}" if launch.namespace else "the context's namespace"
    if any(s in low for s in ADMISSION) or ("forbidden" in low and 'user "' not in low):
        return NodeUnavailable(node, FailureKind.ADMISSION, (
            f"{node}: the cluster refused the debug pod in {where} ({detail}); use --debug-namespace with a "
            "namespace that allows privileged pods (PodSecurity level privileged)"))
    if "forbidden" in low:
        return NodeUnavailable(node, FailureKind.RBAC, f"{node}: kubectl debug: forbidden ({detail}): {RBAC}")
    if "notfound" in low.replace(" ", "") and "nodes" in low:
        return NodeUnavailable(node, FailureKind.CONFIG, f"{node}: no such node in the cluster ({detail})")
    return NodeUnavailable(node, FailureKind.KUBECTL, f"{node}: kubectl debug failed ({detail})")


def _phase(pod: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The pod's phase and its one container's state ({"waiting": ...}, {"terminated": ...})."""
    status = as_dict(pod.get("status"))
    statuses = status.get("containerStatuses")
    first = as_dict(statuses[0]) if isinstance(statuses, list) and statuses else {}
    return one_line(str(status.get("phase", "unknown"))), as_dict(first.get("state"))


def _exit_code(state: dict[str, Any], phase: str) -> int:
    code = as_dict(state.get("terminated")).get("exitCode")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return 0 if phase == "Succeeded" else 1


def _first_lines(data: bytes) -> str:
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()][:3]
    return one_line(" | ".join(lines))
