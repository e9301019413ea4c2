"""The container runtime's word (crictl's JSON), decoded into ``WitnessedPod`` sandboxes.

The gather script (podaudit/collect/gather/witnesses.sh) runs, against the kubelet's own
runtime endpoint, ``crictl pods -o json`` (``OutputPodSandboxes``: ``{"items": [...]}``),
``crictl ps -a -o json`` (``OutputContainers``: ``{"containers": [...]}``; without ``-a``
exited containers are invisible), and for the newest container of each static pod sandbox
that is not running ``crictl inspect ID`` (``marshalContainerStatus``: ``{"info", "status"}``,
the only place with the exit code and reason) and ``crictl logs --tail 5 ID`` (its stderr
stream goes to crictl's stderr: captured with 2>&1). All of cri-tools cmd/crictl.

The JSON is protojson's (``protobufObjectToJSON``, util.go): int64 fields such as
``createdAt`` are strings, uint32 ``attempt`` a number, enums their names; older crictl
(jsonpb) may print ``null`` for an unset message. A container carries no
``kubernetes.io/config.*`` annotation: only its sandbox does (``newPodAnnotations``,
pkg/kubelet/kuberuntime/labels.go), so containers join their sandbox by ``podSandboxId``
(or the ``io.kubernetes.pod.uid`` label, which is the sandbox's ``metadata.uid``).

Everything here is hostile input: any shape is accepted, what is not as documented is
skipped, and everything kept is bounded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podaudit.kubelet.untrusted import MAX_TEXT, as_dict, as_text
from podaudit.model import ContainerRun, RuntimeWord, Witness, WitnessedPod, WitnessSource, WitnessStatus

MAX_SANDBOXES = 2000  # a node runs maxPods (110 by default): more is not a runtime's answer
MAX_CONTAINERS = 10000  # ps -a: a few per pod (container GC keeps about one dead attempt each)
MAX_LOG_LINES = 5  # crictl logs --tail 5
MAX_LOG_LINE = 500  # characters kept of one log line
SOURCE = "kubernetes.io/config.source"
POD_UID = "io.kubernetes.pod.uid"
RESTART_COUNT = "io.kubernetes.container.restartCount"
# timeout(1) exits 124 (coreutils) or with the signal's status (busybox: 143, or 137 for KILL).
TIMED_OUT = frozenset({124, 137, 143})
_STATES = {"CONTAINER_RUNNING": "running", "CONTAINER_EXITED": "exited", "CONTAINER_CREATED": "created"}
_CONTAINER_ID = re.compile(r"[0-9a-f]{1,64}")


class CrictlError(ValueError):
    """crictl's answer is not what it prints (one line for people)."""


@dataclass(frozen=True)
class CriAnswer:
    """One crictl run as the gather script recorded it (a ``W cri`` record)."""

    what: str  # pods, ps, inspect, logs
    rc: int  # crictl's exit status (TIMED_OUT: killed by timeout)
    arg: str  # the endpoint (pods, ps) or the container ID (inspect, logs)
    out: bytes  # stdout (logs: stdout and stderr), capped by the script
    err: bytes = b""  # stderr, its first KiB


@dataclass(frozen=True)
class _Sandbox:
    id: str
    pod: WitnessedPod
    created: int


@dataclass(frozen=True)
class _Container:
    id: str
    sandbox: str
    pod_uid: str
    name: str
    state: str
    attempt: int
    created: int


@dataclass(frozen=True)
class Status:
    """What ``crictl inspect`` adds: the last exit code and the runtime's reason."""

    exit_code: int | None
    reason: str


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CrictlError(f"crictl {what} printed no JSON ({type(exc).__name__})") from None


def decode(data: bytes, key: str, what: str) -> list[Any]:
    """The list under ``key`` of a crictl JSON answer; CrictlError when there is none."""
    doc = _json(data, what)
    items = doc.get(key) if isinstance(doc, dict) else None
    if items is None and isinstance(doc, dict) and key in doc:
        return []  # jsonpb's null for an empty list
    if not isinstance(items, list):
        raise CrictlError(f"crictl {what} printed JSON without a {key!r} list")
    return items


def parse_sandboxes(data: bytes) -> list[_Sandbox]:
    """``crictl pods -o json``: every sandbox (``PodSandbox``: id, metadata, state, createdAt,
    labels, annotations)."""
    found = []
    for entry in decode(data, "items", "pods")[:MAX_SANDBOXES]:
        item = as_dict(entry)
        meta, labels = as_dict(item.get("metadata")), as_dict(item.get("labels"))
        sandbox_id = as_text(item.get("id"))
        name = as_text(meta.get("name")) or as_text(labels.get("io.kubernetes.pod.name"))
        if not sandbox_id or not name:
            continue
        state = item.get("state")
        pod = WitnessedPod(
            namespace=as_text(meta.get("namespace")) or as_text(labels.get("io.kubernetes.pod.namespace")) or "default",
            name=name,
            uid=as_text(meta.get("uid")) or as_text(labels.get(POD_UID)),
            source=as_text(as_dict(item.get("annotations")).get(SOURCE)),
            ready=state == "SANDBOX_READY" if state in ("SANDBOX_READY", "SANDBOX_NOTREADY") else None,
        )
        found.append(_Sandbox(sandbox_id, pod, _number(item.get("createdAt"))))
    return found


def parse_containers(data: bytes) -> list[_Container]:
    """``crictl ps -a -o json``: every container (``Container``: id, podSandboxId,
    metadata{name, attempt}, state, createdAt, labels, annotations)."""
    found = []
    for entry in decode(data, "containers", "ps")[:MAX_CONTAINERS]:
        item = as_dict(entry)
        meta, labels = as_dict(item.get("metadata")), as_dict(item.get("labels"))
        name = as_text(meta.get("name")) or as_text(labels.get("io.kubernetes.container.name"))
        container_id = as_text(item.get("id"))
        if not name or not container_id:
            continue
        # metadata.attempt is the kubelet's restartCount (generateContainerConfig); the
        # annotation carries the same number, for a runtime that dropped the metadata.
        attempt = _number(meta.get("attempt"), default=-1)
        if attempt < 0:
            attempt = _number(as_dict(item.get("annotations")).get(RESTART_COUNT))
        found.append(_Container(container_id, as_text(item.get("podSandboxId")), as_text(labels.get(POD_UID)), name,
                                _STATES.get(as_text(item.get("state")), "unknown"), attempt,
                                _number(item.get("createdAt"))))
    return found


def parse_inspect(data: bytes) -> dict[str, Status]:
    """``crictl inspect ID...``: exit code and reason by container ID (one object, or an
    array for several IDs)."""
    doc = _json(data, "inspect")
    found = {}
    for item in (doc if isinstance(doc, list) else [doc])[:MAX_CONTAINERS]:
        status = as_dict(as_dict(item).get("status"))
        container_id = as_text(status.get("id"))
        code = status.get("exitCode")
        if container_id:
            found[container_id] = Status(code if isinstance(code, int) and not isinstance(code, bool)
                                         and -(1 << 31) <= code < 1 << 31 else None, as_text(status.get("reason")))
    return found


def log_tail(data: bytes) -> tuple[str, ...]:
    """The last MAX_LOG_LINES non-blank lines of ``crictl logs --tail`` (each cut to MAX_LOG_LINE)."""
    lines = [line.strip() for line in data.decode("utf-8", "replace").replace("\r", "\n").split("\n")]
    return tuple(line[:MAX_LOG_LINE] for line in lines if line)[-MAX_LOG_LINES:]


def newest(containers: Sequence[_Container]) -> dict[tuple[str, str], _Container]:
    """The newest attempt of each container name in each sandbox (highest createdAt, then
    attempt): what ``ps -a`` lists first, since crictl sorts by createdAt descending."""
    best: dict[tuple[str, str], _Container] = {}
    for container in containers:
        key = (container.sandbox, container.name)
        held = best.get(key)
        if held is None or (container.created, container.attempt) > (held.created, held.attempt):
            best[key] = container
    return best


def to_inspect(sandboxes: Sequence[_Sandbox], containers: Sequence[_Container], limit: int) -> list[str]:
    """IDs the script should inspect (and read the logs of): the newest container of each
    static pod sandbox that is not running; the same choice witnesses.sh makes in sh."""
    static = {s.id for s in sandboxes if s.pod.source == "file"}
    chosen = [c for c in newest(containers).values()
              if c.sandbox in static and c.state != "running" and _CONTAINER_ID.fullmatch(c.id)]
    return [c.id for c in sorted(chosen, key=lambda c: -c.created)][:limit]


def join(sandboxes: Sequence[_Sandbox], containers: Sequence[_Container], statuses: Mapping[str, Status],
         logs: Mapping[str, tuple[str, ...]]) -> tuple[WitnessedPod, ...]:
    """Each sandbox with the newest attempt of each of its containers, sorted by namespace,
    name and readiness (a pod's ready sandbox before its older ones)."""
    by_id = {s.id: s for s in sandboxes}
    by_uid: dict[str, _Sandbox] = {}
    for sandbox in sorted(sandboxes, key=lambda s: s.created):
        by_uid[sandbox.pod.uid] = sandbox  # the newest sandbox of a pod takes containers joined by uid
    runs: dict[str, list[ContainerRun]] = {}
    for container in newest([_joined(c, by_id, by_uid) for c in containers]).values():
        if container.sandbox not in by_id:
            continue
        status = statuses.get(container.id)
        runs.setdefault(container.sandbox, []).append(ContainerRun(
            container.name, container.state, status.reason if status else "",
            status.exit_code if status and container.state == "exited" else None,
            container.attempt, logs.get(container.id, ())))
    pods = [_with(s.pod, runs.get(s.id, [])) for s in sandboxes]
    return tuple(sorted(pods, key=lambda p: (p.namespace, p.name, p.ready is not True, p.uid)))


def _joined(container: _Container, by_id: Mapping[str, _Sandbox], by_uid: Mapping[str, _Sandbox]) -> _Container:
    if container.sandbox in by_id or container.pod_uid not in by_uid:
        return container
    sandbox = by_uid[container.pod_uid]
    return _Container(container.id, sandbox.id, container.pod_uid, container.name, container.state,
                      container.attempt, container.created)


def _with(pod: WitnessedPod, runs: list[ContainerRun]) -> WitnessedPod:
    return WitnessedPod(pod.namespace, pod.name, pod.uid, pod.source, pod.ready,
                        tuple(sorted(runs, key=lambda r: r.name)))


# --- the witness ---------------------------------------------------------------------------


def runtime_word(answers: Sequence[CriAnswer], absent: str | None = None, cap: int | None = None) -> RuntimeWord:
    """The runtime witness from the script's crictl runs: heard when ``pods`` answered with
    JSON; ``absent`` (the script's reason) when crictl was not asked; failed otherwise.
    ``cap``: the bytes the script kept of each answer (an answer that long was cut)."""
    pods = next((a for a in answers if a.what == "pods"), None)
    if pods is None:
        return RuntimeWord(Witness(WitnessSource.RUNTIME, WitnessStatus.ABSENT, "crictl",
                                   absent or "crictl was not asked"))
    via = f"crictl {pods.arg}"[:MAX_TEXT]
    failure = _failure(pods, cap)
    if failure is not None:
        return RuntimeWord(Witness(WitnessSource.RUNTIME, failure[0], via, failure[1]))
    try:
        sandboxes = parse_sandboxes(pods.out)
    except CrictlError as exc:
        return RuntimeWord(Witness(WitnessSource.RUNTIME, WitnessStatus.FAILED, via, str(exc)))
    notes: list[str] = []
    containers = _containers(next((a for a in answers if a.what == "ps"), None), cap, notes)
    statuses, logs = _details(answers, notes)
    unasked = [c for c in to_inspect(sandboxes, containers, MAX_CONTAINERS) if c not in statuses]
    if unasked:  # crictl printed a layout witnesses.sh did not read, or inspect failed
        notes.append(f"{len(unasked)} stopped static pod container(s) not inspected: exit code unknown")
    word = join(sandboxes, containers, statuses, logs)
    return RuntimeWord(Witness(WitnessSource.RUNTIME, WitnessStatus.HEARD, via, "; ".join(notes)), word)


def _containers(ps: CriAnswer | None, cap: int | None, notes: list[str]) -> list[_Container]:
    """The containers of ``crictl ps -a``; none, with a note, when it failed."""
    failure = _failure(ps, cap) if ps is not None else (WitnessStatus.FAILED, "crictl ps was not run")
    if failure is not None:
        notes.append(f"no containers: {failure[1]}")
        return []
    try:
        return parse_containers(ps.out if ps is not None else b"")
    except CrictlError as exc:
        notes.append(f"no containers: {exc}")
        return []


def _details(answers: Sequence[CriAnswer], notes: list[str]) -> tuple[dict[str, Status], dict[str, tuple[str, ...]]]:
    """Exit codes and reasons (inspect) and log tails (logs) by container ID."""
    statuses: dict[str, Status] = {}
    logs: dict[str, tuple[str, ...]] = {}
    for answer in answers:
        if answer.what == "inspect" and answer.rc == 0:
            try:
                statuses.update(parse_inspect(answer.out))
            except CrictlError:
                notes.append(f"crictl inspect {answer.arg[:16]} printed no JSON")
        elif answer.what == "logs" and answer.rc == 0:
            logs[answer.arg] = log_tail(answer.out)
    return statuses, logs


def _failure(answer: CriAnswer, cap: int | None) -> tuple[WitnessStatus, str] | None:
    """Why a crictl run is no answer (status and one line), or None."""
    if answer.rc in TIMED_OUT:
        return WitnessStatus.FAILED, f"crictl {answer.what} did not answer in time (the runtime hangs?)"
    err = _first_error(answer.err)
    if answer.rc != 0:
        if "validate service connection" in err or "connect: " in err or "connection error" in err:
            # crictl's message names the socket as the script reached it (through the kubelet's
            # root): say only why the dial failed.
            why = re.search(r"connect: [a-z ]+|connection refused|context deadline exceeded",
                            _first_error(answer.err, 2000))
            return WitnessStatus.FAILED, (f"the runtime does not answer at {answer.arg[:120]}"
                                          f"{f' ({why.group(0).strip()})' if why else ''}: it is down")
        if "permission denied" in err.lower():
            return WitnessStatus.REFUSED, f"crictl may not use {answer.arg[:120]} (crictl: {err}): run as root"
        return WitnessStatus.FAILED, f"crictl {answer.what} exited {answer.rc}" + (f" ({err})" if err else "")
    if cap is not None and len(answer.out) >= cap:
        return WitnessStatus.FAILED, f"crictl {answer.what} printed {cap} bytes or more; not read"
    return None


def _first_error(err: bytes, limit: int = 300) -> str:
    """crictl's error line (logrus: ``time=... level=error msg="..."``), as its message."""
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    line = next((x for x in lines if "level=error" in x or "level=fatal" in x), lines[-1] if lines else "")
    message = re.search(r'msg="((?:[^"\\]|\\.)*)"', line)
    text = message.group(1).replace('\\"', '"') if message else line
    return " ".join(text.split())[:limit]




def _number(value: Any, default: int = 0) -> int:
    """An int64 (protojson: a string of digits) or a uint32 (a number); ``default`` otherwise."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value if 0 <= value < 1 << 63 else default
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    return default
