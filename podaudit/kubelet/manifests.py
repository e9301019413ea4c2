"""The kubelet's file source: which entries of the static pod path run, and as what.

Mirrors pkg/kubelet/config/file.go (``extractFromDir``, ``extractFromFile``) and common.go
(``tryDecodeSinglePod``, ``applyDefaults``, ``generatePodName``): every name not starting
with a dot, any extension, symlinks followed, no recursion, sorted bytewise; the first YAML
document only; the lexically last path wins when two files define the same pod.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from typing import Any, Literal

from podaudit.kubelet.podfields import slim
from podaudit.kubelet.validation import api_references, integer_errors, validate_pod
from podaudit.kubelet.yamlload import DecodeError, decode_document
from podaudit.model import DENIED, FileRecord, NodeReader, Problem, ProblemKind, go_sorted

# A static pod folder holds a handful of manifests (kubeadm: 4); past this many entries, the
# node's problems say the folder is not what it should be (podaudit still judges every entry).
MANY_ENTRIES = 1000
# "unknown": podaudit may not read the entry; the kubelet (root) can, so its fate is unknown.
Fate = Literal["loaded", "shadowed", "ignored", "rejected", "unknown"]


@dataclass(frozen=True)
class PodIdentity:
    """The static pod a manifest defines, as the kubelet names it."""

    namespace: str
    name: str
    mirror_name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.mirror_name}"


@dataclass(frozen=True)
class ManifestEntry:
    """One entry of the static pod path and what the kubelet does with it."""

    path: str
    fate: Fate
    reason: str
    record: FileRecord
    pod: PodIdentity | None = None
    # The manifest, only the fields podaudit reads (podfields.slim), for a loaded or shadowed entry.
    spec: dict[str, Any] | None = None
    # For a shadowed entry, the path that wins; for a loaded one, the paths it beats.
    related: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Why a rejected entry was rejected: unreadable, decode, not-a-pod, invalid.
    code: str = ""


def mirror_name(name: str, node_name: str) -> str:
    """generatePodName: '<name>-<lowercased node name>'."""
    return f"{name}-{node_name.lower()}"


def read_static_pod_path(reader: NodeReader, path: str, node_name: str) -> tuple[list[ManifestEntry], Problem | None]:
    """All entries of a static pod path with their fates, and a problem with the path itself."""
    record = reader.file(path)
    if record.kind == "file":
        # listConfig: a regular file is the one and only manifest.
        return _dedupe([judge(path, record, node_name)]), None
    if record.kind == "missing":
        return [], _about(path, "does not exist: the kubelet logs 'path does not exist, ignoring' every second "
                                "and runs no file pods")
    if record.kind != "dir":
        kind = ProblemKind.UNREADABLE if record.kind in {"denied", "uncollected"} else ProblemKind.STATIC_POD_PATH
        return [], Problem(kind, path, record.error or "is not a directory or a regular file")
    if any(c in path for c in "*?[\\"):
        # extractFromDir globs filepath.Join(path, "[^.]*"): these characters change what it lists.
        return [], _about(path, "holds glob characters (* ? [ \\): the kubelet's glob may not list it as podaudit does")
    listing = reader.listdir(path)
    if listing.names is None:
        kind = ProblemKind.UNREADABLE if listing.error == DENIED else ProblemKind.STATIC_POD_PATH
        return [], Problem(kind, path, f"{listing.error}", form="cannot list {path}: {detail}")
    entries = [
        _entry(reader, posixpath.join(path, name), name, node_name)
        for name in go_sorted(listing.names)
    ]
    return _dedupe(entries), _crowded(path, len(listing.names))


def _about(path: str, detail: str) -> Problem:
    """A problem with the static pod path, worded "<path> <detail>"."""
    return Problem(ProblemKind.STATIC_POD_PATH, path, detail, form="{path} {detail}")


def _crowded(path: str, count: int) -> Problem | None:
    """A note for a folder no one keeps static pods in: every entry is still judged, as the
    kubelet reads every one (each fileCheckFrequency, 20 s by default)."""
    if count <= MANY_ENTRIES:
        return None
    return _about(path, f"holds {count} entries (more than {MANY_ENTRIES}): the kubelet reads every one of them "
                        "every fileCheckFrequency; a static pod folder holds a few manifests. Is staticPodPath the "
                        "right folder?")


def _entry(reader: NodeReader, path: str, name: str, node_name: str) -> ManifestEntry:
    if name.startswith("."):
        # filepath.Glob(dir, "[^.]*") never returns dot-files.
        return ManifestEntry(path, "ignored", "name starts with a dot", FileRecord(path, "uncollected"))
    record = reader.file(path)
    if record.kind == "dir":
        return ManifestEntry(path, "ignored", "a directory: the kubelet does not recurse", record)
    if record.kind == "other":
        return ManifestEntry(path, "ignored", "not a regular file or directory", record)
    return judge(path, record, node_name)


def judge(path: str, record: FileRecord, node_name: str) -> ManifestEntry:
    """What the kubelet does with one file: decode, check it is a Pod, validate."""
    if record.kind in {"denied", "uncollected"}:
        return ManifestEntry(path, "unknown", f"{record.error}: the kubelet can read it, podaudit could not", record)
    if record.kind != "file" or record.data is None:
        reason = record.error or f"cannot read ({record.kind})"
        return ManifestEntry(path, "rejected", reason, record, code="unreadable")
    try:
        decoded = decode_document(record.data)
    except DecodeError as exc:
        return ManifestEntry(path, "rejected", str(exc), record, code="decode")
    pod = decoded.value
    warnings: tuple[str, ...] = ("several YAML documents: only the first runs",) if decoded.documents > 1 else ()
    problem = not_a_pod(pod)
    if problem:
        return ManifestEntry(path, "rejected", problem, record, warnings=warnings, code="not-a-pod")
    assert isinstance(pod, dict)
    numbers = integer_errors(pod)
    if numbers:  # the typed decoding fails before validation: couldn't parse as pod
        reason = "; ".join(numbers[:3]) + (f" (and {len(numbers) - 3} more)" if len(numbers) > 3 else "")
        return ManifestEntry(path, "rejected", reason, record, warnings=warnings, code="decode")
    meta = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    name = meta.get("name")
    namespace = meta.get("namespace") or "default"
    if not isinstance(name, str) or not name:
        reason = "invalid pod: name is needed for the pod"
        return ManifestEntry(path, "rejected", reason, record, warnings=warnings, code="invalid")
    identity = PodIdentity(str(namespace), name, mirror_name(name, node_name))
    errors = validate_pod(pod, identity.mirror_name, identity.namespace)
    if errors:
        reason = "invalid pod: " + "; ".join(errors)
        return ManifestEntry(path, "rejected", reason, record, identity, warnings=warnings, code="invalid")
    references = api_references(pod)
    if references:
        warnings += ("kubelets since v1.34 reject it (static pods may not reference API objects): "
                     + ", ".join(references),)
    # Only the fields podaudit reads stay (podfields.POD): the parsed document is most of an
    # entry's memory (about 7 of 10 KB for a 1 KB manifest).
    return ManifestEntry(path, "loaded", f"runs as {identity.key}", record, identity, slim(pod), warnings=warnings)


def not_a_pod(value: Any) -> str | None:
    """tryDecodeSinglePod: the universal decoder must produce a v1 Pod."""
    if not isinstance(value, dict):
        return "not a Kubernetes object (couldn't parse as pod)"
    kind, api = value.get("kind"), value.get("apiVersion")
    if not kind:
        return "Object 'Kind' is missing: couldn't parse as pod"
    if kind != "Pod" or api != "v1":
        return f"{api} {kind}, not a v1 Pod: couldn't parse as pod"
    return None


def _dedupe(entries: list[ManifestEntry]) -> list[ManifestEntry]:
    """The file source's store is keyed by namespace/name: the last sorted path wins."""
    winners: dict[str, str] = {}
    for entry in entries:
        if entry.fate == "loaded" and entry.pod:
            winners[entry.pod.key] = entry.path
    losers: dict[str, list[str]] = {}
    result: list[ManifestEntry] = []
    for entry in entries:
        if entry.fate != "loaded" or not entry.pod or winners[entry.pod.key] == entry.path:
            result.append(entry)
            continue
        winner = winners[entry.pod.key]
        losers.setdefault(winner, []).append(entry.path)
        reason = f"{entry.pod.key} is also defined by {winner}, which sorts later and wins"
        result.append(replace(entry, fate="shadowed", reason=reason, related=(winner,)))
    return [
        replace(e, related=tuple(losers[e.path]))
        if e.path in losers else e
        for e in result
    ]
