"""The snapshot side file, ``podaudit.meta.json``: what a plain directory tree cannot carry.

Modes, owners and mtimes per path (with defaults), the node's network interfaces, and what
its kubelet and runtime said (``witnesses``: the parsed words, never crictl's or the
kubelet's raw answers). Format in docs/snapshot-format.md. A bad side file is ignored, never
fatal; a bad witness entry is dropped.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

from podaudit.collect.rootfs import RootFS
from podaudit.kubelet.crictl import MAX_LOG_LINE, MAX_LOG_LINES, MAX_SANDBOXES
from podaudit.kubelet.untrusted import as_dict, as_list, as_text
from podaudit.model import (
    ContainerRun,
    FileRecord,
    Interface,
    KubeletWord,
    NodeWitnesses,
    RuntimeWord,
    Witness,
    WitnessedPod,
    WitnessSource,
    WitnessStatus,
)

META_FILE = "podaudit.meta.json"


@dataclass
class SnapshotMeta:
    default: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    interfaces: list[Interface] = field(default_factory=list)
    default_route: str | None = None
    # Paths the collection could not read (kind: denied, error, uncollected -> why), and its
    # problems: a bundle carries them, so an analysis is as incomplete as the live run was.
    unread: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    witnesses: NodeWitnesses | None = None  # None: the collection asked none (an old bundle)

    def apply(self, record: FileRecord) -> FileRecord:
        """The record with the side file's mode, owner and mtime for its (resolved) path."""
        unread = self.unread.get(record.path)
        if unread is not None:
            return FileRecord(record.path, unread[0], error=unread[1])  # type: ignore[arg-type]
        if record.kind not in {"file", "dir", "other"} or not (self.default or self.paths):
            return record
        overrides = {**self.default, **self.paths.get(record.target or record.path, {})}
        return replace(record, **overrides) if overrides else record


def load_meta(host: RootFS, live: bool) -> SnapshotMeta:
    """The side file at the root of a node snapshot; none on a live root (what the kernel
    says is the truth there)."""
    if live:
        return SnapshotMeta()
    record = host.read("/" + META_FILE, limit=64 << 20)
    try:
        doc = json.loads(record.data) if record.data else {}
    except (ValueError, RecursionError):
        doc = {}
    if not isinstance(doc, dict):
        return SnapshotMeta()
    paths = doc.get("paths")
    return SnapshotMeta(
        _clean(doc.get("default")),
        {str(p): _clean(e) for p, e in (paths.items() if isinstance(paths, dict) else ())},
        _interfaces(doc.get("interfaces")),
        doc["default_route"] if isinstance(doc.get("default_route"), str) else None,
        _unread(doc.get("unread")),
        [str(p) for p in doc["problems"]] if isinstance(doc.get("problems"), list) else [],
        witnesses_from_json(doc.get("witnesses")),
    )


UNREAD_KINDS = ("denied", "error", "uncollected")


def _unread(value: Any) -> dict[str, tuple[str, str]]:
    """``{"/etc/kubernetes/manifests/x.yaml": {"kind": "denied", "error": "..."}}``."""
    if not isinstance(value, dict):
        return {}
    return {str(path): (entry["kind"], str(entry.get("error") or entry["kind"]))
            for path, entry in value.items()
            if isinstance(entry, dict) and entry.get("kind") in UNREAD_KINDS}


def _interfaces(value: Any) -> list[Interface]:
    """``{"ens160": ["10.10.14.124/16"], ...}``."""
    if not isinstance(value, dict):
        return []
    return [Interface(str(name), tuple(str(a) for a in addrs if isinstance(a, str)))
            for name, addrs in value.items() if isinstance(addrs, list)]


def _clean(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        return {}
    clean: dict[str, Any] = {}
    mode = entry.get("mode")
    if isinstance(mode, str):
        with contextlib.suppress(ValueError):
            clean["mode"] = int(mode, 8)
    for key in ("uid", "gid"):
        if isinstance(entry.get(key), int) and not isinstance(entry.get(key), bool):
            clean[key] = entry[key]
    mtime = entry.get("mtime")
    if isinstance(mtime, (int, float)) and not isinstance(mtime, bool) and math.isfinite(mtime):
        clean["mtime"] = float(mtime)
    return clean


# --- witnesses -----------------------------------------------------------------------------

MAX_CONTAINERS_PER_POD = 100  # a pod with more containers is not one a kubelet runs


def witnesses_to_json(witnesses: NodeWitnesses) -> dict[str, Any]:
    """``{"kubelet": {...witness, "pods", "configz"}, "runtime": {...witness, "sandboxes"}}``."""
    kubelet, runtime = witnesses.kubelet, witnesses.runtime
    return {
        "kubelet": {**_witness_json(kubelet.witness), "configz": kubelet.configz,
                    "pods": None if kubelet.pods is None else [_pod_json(p) for p in kubelet.pods]},
        "runtime": {**_witness_json(runtime.witness),
                    "sandboxes": None if runtime.sandboxes is None else [_pod_json(p) for p in runtime.sandboxes]},
    }


def _witness_json(witness: Witness) -> dict[str, Any]:
    return {"status": witness.status.value, "via": witness.via, "detail": witness.detail}


def _pod_json(pod: WitnessedPod) -> dict[str, Any]:
    return {"namespace": pod.namespace, "name": pod.name, "uid": pod.uid, "source": pod.source, "ready": pod.ready,
            "containers": [{"name": c.name, "state": c.state, "reason": c.reason, "exit_code": c.exit_code,
                            "restarts": c.restarts, "log_tail": list(c.log_tail)} for c in pod.containers]}


def witnesses_from_json(value: Any) -> NodeWitnesses | None:
    """The witnesses a side file kept; None when it has none or they are not as written."""
    if not isinstance(value, dict):
        return None
    kubelet, runtime = as_dict(value.get("kubelet")), as_dict(value.get("runtime"))
    kubelet_witness = _witness_of(kubelet, WitnessSource.KUBELET)
    runtime_witness = _witness_of(runtime, WitnessSource.RUNTIME)
    if kubelet_witness is None or runtime_witness is None:
        return None
    configz = kubelet.get("configz")
    return NodeWitnesses(
        KubeletWord(kubelet_witness, _pods_of(kubelet.get("pods")), configz if isinstance(configz, dict) else None),
        RuntimeWord(runtime_witness, _pods_of(runtime.get("sandboxes"))),
    )


def _witness_of(entry: dict[str, Any], source: WitnessSource) -> Witness | None:
    try:
        status = WitnessStatus(entry.get("status"))
    except ValueError:
        return None
    return Witness(source, status, as_text(entry.get("via")), as_text(entry.get("detail"), 600))


def _pods_of(value: Any) -> tuple[WitnessedPod, ...] | None:
    if not isinstance(value, list):
        return None
    pods = []
    for item in value[:MAX_SANDBOXES]:
        entry = as_dict(item)
        name, ready = as_text(entry.get("name")), entry.get("ready")
        if name:
            pods.append(WitnessedPod(as_text(entry.get("namespace")) or "default", name, as_text(entry.get("uid")),
                                     as_text(entry.get("source")), ready if isinstance(ready, bool) else None,
                                     _containers_of(entry.get("containers"))))
    return tuple(pods)


def _containers_of(value: Any) -> tuple[ContainerRun, ...]:
    runs = []
    for item in as_list(value)[:MAX_CONTAINERS_PER_POD]:
        entry = as_dict(item)
        name = as_text(entry.get("name"))
        lines = as_list(entry.get("log_tail"))
        if name:
            runs.append(ContainerRun(name, as_text(entry.get("state")) or "unknown", as_text(entry.get("reason")),
                                     _int(entry.get("exit_code"), -(1 << 31), 1 << 31),
                                     _int(entry.get("restarts"), 0, 1 << 32) or 0,
                                     tuple(as_text(line, MAX_LOG_LINE) for line in lines[-MAX_LOG_LINES:]
                                           if isinstance(line, str))))
    return tuple(runs)


def _int(value: Any, low: int, high: int) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value < high else None
