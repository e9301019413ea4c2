"""What runs now, from three witnesses: the node's files, its kubelet, its container runtime.

The files say what the kubelet *would* load with its current settings (manifests.py). The
kubelet's own word (``/configz`` and ``/pods``, through the API's node proxy or on the node)
and the runtime's sandboxes (crictl) say what it *does* run. Here they are joined into one
state per static pod, computed once by ``analyze_node``; rules and reports read it.

Joins, every link upstream's: a file defines ``<metadata.name>-<lower(node)>`` in its
namespace (``generatePodName``, pkg/kubelet/config/common.go), which is the name the kubelet
lists in ``/pods`` and the runtime's sandbox ``metadata.name``; between the kubelet and the
runtime, the pod UID, which for a static pod is ``kubernetes.io/config.hash``
(``applyDefaults``) and the sandbox's ``metadata.uid`` (``newPodLabels``,
pkg/kubelet/kuberuntime/labels.go). The file's path is in no upstream field: it is matched
by name against the folder the running kubelet reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from podaudit.kubelet.manifests import ManifestEntry
from podaudit.kubelet.running import RunningPath, path_differs
from podaudit.model import (
    Compact,
    ContainerRun,
    KubeletWord,
    RuntimeWord,
    Witness,
    WitnessedPod,
    WitnessSource,
    WitnessStatus,
)

PodState = Literal["running", "after-restart", "kubelet-not-running", "kubelet-cannot-start", "rejected", "unknown"]
# The kubelet re-lists its folder every fileCheckFrequency (20 s by default, sourceFile.run in
# pkg/kubelet/config/file.go): a file younger than this may simply not be picked up yet.
RECENT = 60.0
# kubernetes.io/config.source of a static pod: its file source, or its staticPodURL.
STATIC_SOURCES = frozenset({"file", "http"})
REFUSED_GREP = 'journalctl -u kubelet | grep "Could not process manifest file"'
FILES, KUBELET, RUNTIME = WitnessSource.FILES, WitnessSource.KUBELET, WitnessSource.RUNTIME
HEARD = WitnessStatus.HEARD


@dataclass(frozen=True, slots=True)
class PodRun(Compact):
    """One static pod a file defines, and what the witnesses say of it."""

    namespace: str
    name: str  # the manifest's metadata.name
    pod_name: str  # <name>-<lower(node)>: the kubelet's pod name, the mirror pod's name
    manifest_path: str
    state: PodState
    why: str  # one line for people
    witnessed_by: tuple[WitnessSource, ...]
    containers: tuple[ContainerRun, ...] = ()
    uid: str = ""  # the kubelet's (or the runtime's) pod UID, == config.hash; "" when no witness showed it
    # Whether the runtime has a ready sandbox for it (None: the runtime was not heard).
    sandbox: bool | None = None
    in_running_path: bool = False  # read from the running kubelet's folder, which is not the files' path


@dataclass(frozen=True)
class UnfiledPod:
    """A static pod a witness shows running that no loaded file defines."""

    namespace: str
    name: str  # the kubelet's pod name
    uid: str
    source: str  # kubernetes.io/config.source: file or http
    witnessed_by: tuple[WitnessSource, ...]
    why: str
    containers: tuple[ContainerRun, ...] = ()
    # A file that defines it all the same: of the files' folder while the running kubelet reads
    # another, or one podaudit judged not loaded (the kubelet disagrees).
    manifest_path: str | None = None


@dataclass(frozen=True, slots=True)
class Reconciliation(Compact):
    """The three witnesses of one node, and per static pod its state."""

    witnesses: tuple[Witness, ...] = ()
    running: RunningPath = field(default_factory=RunningPath)
    pods: tuple[PodRun, ...] = ()
    unfiled: tuple[UnfiledPod, ...] = ()
    # Ready static pod sandboxes of the runtime whose UID the kubelet's /pods does not list.
    unlisted_sandboxes: tuple[WitnessedPod, ...] = ()
    next_restart: str = ""  # what the next kubelet restart changes, when known ("" otherwise)
    # Whether the folder the kubelet reads was read in full (else "no file defines it" is not trusted).
    complete: bool = True
    differs: bool = False  # the running kubelet reads another folder than its files say

    def state_of(self, manifest_path: str) -> PodRun | None:
        return next((p for p in self.pods if p.manifest_path == manifest_path), None)

    def witness(self, source: WitnessSource) -> Witness | None:
        return next((w for w in self.witnesses if w.source is source), None)


@dataclass(frozen=True)
class Inputs:
    node_name: str
    kubelet_runs: bool  # a kubelet process was found on the node
    files_path: str | None
    files: tuple[ManifestEntry, ...]
    running: RunningPath
    running_entries: tuple[ManifestEntry, ...]  # of running.path, when it differs from files_path
    restart_pending: bool
    kubelet: KubeletWord | None
    runtime: RuntimeWord | None
    complete: bool
    now: float
    # Why the kubelet cannot start with these settings (kubelet/startup.py); "" when it can.
    cannot_start: str = ""


def reconcile(i: Inputs) -> Reconciliation:
    """Each static pod's state, the pods only a witness shows, and the three witnesses."""
    seen = _Seen.of(i.kubelet, i.runtime)
    differs = path_differs(i.running, i.files_path)
    live = i.running_entries if differs else i.files
    pods = [_after_restart(e, i) for e in _loaded(i.files)] if differs else []
    pods += [_judge(e, i, seen, differs) for e in _loaded(live)]
    return Reconciliation(
        witnesses=_witnesses(i), running=i.running, pods=tuple(pods),
        unfiled=tuple(_unfiled(i, seen, differs)), unlisted_sandboxes=seen.unlisted(),
        next_restart=_next_restart(i) if differs else "", complete=i.complete, differs=differs)


def _loaded(entries: Iterable[ManifestEntry]) -> list[ManifestEntry]:
    return [e for e in entries if e.fate == "loaded" and e.pod is not None]


@dataclass(frozen=True)
class _Seen:
    """The witnesses' pods, indexed: the kubelet's (None unless /pods was heard) and the
    runtime's ready static sandboxes (None unless the runtime was heard)."""

    kubelet: dict[tuple[str, str], WitnessedPod] | None
    kubelet_via: str
    sandboxes: dict[tuple[str, str], list[WitnessedPod]] | None
    kubelet_uids: frozenset[str]

    @staticmethod
    def of(kubelet: KubeletWord | None, runtime: RuntimeWord | None) -> _Seen:
        pods = kubelet.pods if kubelet is not None and kubelet.witness.status is HEARD else None
        boxes = runtime.sandboxes if runtime is not None and runtime.witness.status is HEARD else None
        by_key: dict[tuple[str, str], list[WitnessedPod]] | None = None
        if boxes is not None:
            by_key = {}
            # Ready sandboxes first: a not-ready one (its pod completed, or being torn down)
            # still says the kubelet knows the pod, and holds its containers' last exit.
            for box in sorted(boxes, key=lambda b: b.ready is False):
                if box.source in STATIC_SOURCES:
                    by_key.setdefault((box.namespace, box.name), []).append(box)
        return _Seen(None if pods is None else {(p.namespace, p.name): p for p in pods},
                     kubelet.witness.via if kubelet is not None else "", by_key,
                     frozenset(p.uid for p in pods or () if p.uid))

    def pod(self, key: tuple[str, str]) -> WitnessedPod | None:
        """The kubelet's static pod of that name (an ordinary pod of the name is not the file's)."""
        pod = self.kubelet.get(key) if self.kubelet is not None else None
        return pod if pod is not None and pod.source in STATIC_SOURCES else None

    def sandbox(self, key: tuple[str, str], uid: str) -> WitnessedPod | None:
        """The runtime's ready sandbox of that pod: the one with the kubelet's UID when known."""
        boxes = (self.sandboxes or {}).get(key, [])
        return next((b for b in boxes if b.uid == uid), None) if uid else next(iter(boxes), None)

    def unlisted(self) -> tuple[WitnessedPod, ...]:
        if self.kubelet is None or self.sandboxes is None:
            return ()
        # Without a UID (an odd runtime), by name.
        return tuple(b for boxes in self.sandboxes.values() for b in boxes if b.ready is not False
                     and ((b.uid not in self.kubelet_uids) if b.uid else self.pod((b.namespace, b.name)) is None))


def containers(sandbox: WitnessedPod | None, pod: WitnessedPod | None) -> tuple[ContainerRun, ...]:
    """The runtime's containers first (exit code, log tail), then any only the kubelet names."""
    first = list(sandbox.containers if sandbox else ())
    names = {c.name for c in first}
    return (*first, *(c for c in (pod.containers if pod else ()) if c.name not in names))


def _judge(entry: ManifestEntry, i: Inputs, seen: _Seen, differs: bool) -> PodRun:
    """A pod of the folder the kubelet reads now (or is taken to read)."""
    assert entry.pod is not None
    key = (entry.pod.namespace, entry.pod.mirror_name)
    pod = seen.pod(key)
    box = seen.sandbox(key, pod.uid if pod else "")
    by = (FILES, *((KUBELET,) if pod else ()), *((RUNTIME,) if box else ()))
    state, why = _state(entry, i, seen, pod, box)
    if differs:
        why += _stops(entry, i)
    return PodRun(entry.pod.namespace, entry.pod.name, entry.pod.mirror_name, entry.path, state, why, by,
                  containers(box, pod), (pod.uid if pod else "") or (box.uid if box else ""),
                  None if seen.sandboxes is None else box is not None, differs)


def _state(entry: ManifestEntry, i: Inputs, seen: _Seen, pod: WitnessedPod | None,
           box: WitnessedPod | None) -> tuple[PodState, str]:
    if not i.kubelet_runs and (i.kubelet is None or i.kubelet.witness.status is not HEARD):
        still = "; the runtime still runs its containers, unmanaged" if box else ""
        if i.cannot_start:
            return "kubelet-cannot-start", f"the kubelet cannot start with these settings: {i.cannot_start}{still}"
        return "kubelet-not-running", f"no kubelet process runs on the node: nothing starts it{still}"
    pending = i.running.path is None and i.restart_pending
    if pending and (pod is not None or (box is not None and seen.kubelet is None)):
        # The name is no proof of the folder: the old folder may define a pod of that name.
        who = "the kubelet lists a pod of that name" if pod else "the runtime has a sandbox of that name"
        return "unknown", (f"{who}, but its settings changed after it started: whether it runs this file or one "
                           "of an older folder, its /configz would say")
    if pod is not None and pod.phase == "Failed":
        return "rejected", (f"the kubelet lists it as Failed ({pod.reason or 'no reason given'}; {seen.kubelet_via}): "
                            "it refused to run it (admission: resources, node affinity, ...)")
    if pod is not None:
        done = " (completed: phase Succeeded)" if pod.phase == "Succeeded" else ""
        return "running", f"the kubelet lists it in /pods ({seen.kubelet_via}){done}" + _sandbox_words(seen, box)
    if box is not None and seen.kubelet is None:
        ready = "" if box.ready is not False else " (not ready: its pod completed or is being torn down)"
        return "running", f"the container runtime has its sandbox (crictl pods){ready}"
    if seen.kubelet is None and seen.sandboxes is None:
        if pending:
            return "unknown", _unknown_why(i)
        return "running", _unwitnessed_why(i)
    # A witness that lists pods was heard, and it does not show this one.
    who = f"the kubelet does not list it in /pods ({seen.kubelet_via})" if seen.kubelet is not None \
        else "the container runtime has no sandbox for it (crictl pods)"
    if pending:
        return "after-restart", (f"{who}, and the kubelet's settings changed after it started: it likely reads "
                                 "another folder (its /configz would say), so this file counts at the next "
                                 f"restart; or the kubelet refused it ({REFUSED_GREP})")
    mtime = entry.record.mtime
    # i.now is when the witness was heard: a file written after (a long sweep) is too new too.
    if mtime is not None and mtime > i.now - RECENT:
        return "running", f"written less than a minute ago: {who} yet (it re-reads its folder every 20 s)"
    cause = "the kubelet refused the file" if seen.kubelet is not None \
        else "the kubelet refused the file or cannot start its sandbox"
    return "rejected", f"{who} although the file is older than a minute: {cause} ({REFUSED_GREP})"


def _sandbox_words(seen: _Seen, box: WitnessedPod | None) -> str:
    if seen.sandboxes is None:
        return ""
    return "; the runtime has its sandbox" if box else "; the runtime has no ready sandbox for it"


def _unwitnessed_why(i: Inputs) -> str:
    if i.running.source:
        return f"the running kubelet reads this folder ({i.running.via}); no witness lists its pods"
    return "no witness was heard, and none contradicts the files (no restart pending)"


def _unknown_why(i: Inputs) -> str:
    """Say plainly that it is not known, and which witness would settle it."""
    node = i.node_name or "NODE"
    return ("the kubelet's settings changed after it started (restart pending) and no witness was heard, so "
            f"whether the running kubelet reads {i.files_path} is not known; any of these would settle it: "
            f"its /configz through the API (kubectl get --raw /api/v1/nodes/{node}/proxy/configz: needs get on "
            "nodes/proxy), /configz on the node (https://127.0.0.1:10250/configz with a client certificate), "
            "or the container runtime on the node (crictl pods)")


def _after_restart(entry: ManifestEntry, i: Inputs) -> PodRun:
    """A pod of the files' folder, which the running kubelet does not read (kubelet.go
    makePodSourceConfig reads staticPodPath once, at start)."""
    assert entry.pod is not None
    running = i.running.path or "no static pod folder"
    twin = next((e.path for e in _loaded(i.running_entries) if e.pod and e.pod.key == entry.pod.key), None)
    change = (f"at the next restart it replaces the copy that runs now from {twin} (a new UID: the path is part "
              "of config.hash)" if twin else "it starts at the next kubelet restart")
    why = f"the running kubelet reads {running} ({i.running.via}), not {i.files_path}: {change}"
    return PodRun(entry.pod.namespace, entry.pod.name, entry.pod.mirror_name, entry.path, "after-restart", why,
                  (FILES, *((KUBELET,) if i.running.source == "configz" else ())))


def _stops(entry: ManifestEntry, i: Inputs) -> str:
    """What the next restart does to a pod of the running folder."""
    assert entry.pod is not None
    twin = next((e.path for e in _loaded(i.files) if e.pod and e.pod.key == entry.pod.key), None)
    if twin is not None:
        return f"; the next restart recreates it from {twin}"
    return f"; it stops at the next restart ({i.files_path or 'the files'} define no such pod)"


def _next_restart(i: Inputs) -> str:
    """One line: which pods the next restart starts, recreates (new UID) and stops."""
    new = {e.pod.key for e in _loaded(i.files) if e.pod}
    old = {e.pod.key for e in _loaded(i.running_entries) if e.pod}
    parts = [f"{verb} {', '.join(sorted(keys))}" for verb, keys in
             (("starts", new - old), ("recreates", new & old), ("stops", old - new)) if keys]
    return (f"at the next restart the kubelet reads {i.files_path or 'no static pod folder'} instead of "
            f"{i.running.path or 'none'}: " + ("; ".join(parts) or "no static pod changes"))


def _unfiled(i: Inputs, seen: _Seen, differs: bool) -> list[UnfiledPod]:
    """Static pods a witness shows running that no loaded file of the kubelet's folder defines:
    the kubelet's /pods when heard, else the runtime's ready sandboxes."""
    live = i.running_entries if differs else i.files
    loaded = {(e.pod.namespace, e.pod.mirror_name) for e in _loaded(live) if e.pod}
    if seen.kubelet is not None:
        shown = [p for key, p in sorted(seen.kubelet.items()) if p.source in STATIC_SOURCES and key not in loaded]
    else:
        # A not-ready sandbox of a pod whose file is gone is one the kubelet stopped (GC removes it later).
        shown = [boxes[0] for key, boxes in sorted((seen.sandboxes or {}).items())
                 if key not in loaded and boxes[0].ready is not False]
    found = []
    for pod in shown:
        key = (pod.namespace, pod.name)
        box = seen.sandbox(key, pod.uid) if seen.kubelet is not None else pod
        by = (*((KUBELET,) if seen.kubelet is not None else ()), *((RUNTIME,) if box else ()))
        other, why = _defined_aside(i, key, differs) or (None, _unfiled_why(i, pod, differs))
        found.append(UnfiledPod(pod.namespace, pod.name, pod.uid, pod.source, by, why,
                                containers(box, pod if seen.kubelet is not None else None), other))
    return found


def _defined_aside(i: Inputs, key: tuple[str, str], differs: bool) -> tuple[str, str] | None:
    """A file that defines the pod all the same, and what that means: one of the files' folder
    when the running kubelet reads another (its /configz and its /pods disagree), or one
    podaudit judged not loaded (the kubelet disagrees with podaudit)."""
    if differs:
        for entry in _loaded(i.files):
            if entry.pod is not None and (entry.pod.namespace, entry.pod.mirror_name) == key:
                return entry.path, (f"{entry.path} defines it, but the running kubelet reads "
                                    f"{i.running.path or 'no folder'} ({i.running.via}), not {i.files_path}: its "
                                    "/configz and its /pods disagree")
    for entry in i.running_entries if differs else i.files:
        if entry.pod is not None and entry.fate != "loaded" and (entry.pod.namespace, entry.pod.mirror_name) == key:
            return entry.path, (f"{entry.path} defines it and podaudit judged it {entry.fate} ({entry.reason}); the "
                                "kubelet runs it all the same")
    return None


def _unfiled_why(i: Inputs, pod: WitnessedPod, differs: bool) -> str:
    if pod.source == "http":
        return "it comes from the kubelet's staticPodURL, which podaudit does not read"
    folder = i.running.path if differs else i.files_path
    why = f"no file in {folder or 'any static pod folder'} defines it"
    if i.restart_pending and i.running.path is None:
        why += "; the kubelet's settings changed after it started, so it may still read an old folder"
    return why + "; a file removed in the last seconds, an old folder, or a kubelet started by hand"


def _witnesses(i: Inputs) -> tuple[Witness, ...]:
    """Files (always heard), the kubelet and the runtime: each heard, refused, absent or failed."""
    files = Witness(FILES, HEARD, " and ".join(dict.fromkeys(
        p for p in (i.files_path, i.running.path) if p)) or "no static pod folder")
    kubelet = i.kubelet.witness if i.kubelet is not None else Witness(
        KUBELET, WitnessStatus.ABSENT, "", "not asked: no API node proxy and not asked on the node")
    runtime = i.runtime.witness if i.runtime is not None else Witness(
        RUNTIME, WitnessStatus.ABSENT, "", "not asked: the node was read from files only (a tree or a bundle)")
    return files, kubelet, runtime
