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
from podaudit.kubelet.podglob import GlobResult, go_clean, go_glob, has_meta
from podaudit.kubelet.podtypes import kind_error, type_error
from podaudit.kubelet.validation import api_references, validate_pod
from podaudit.kubelet.yamlload import DecodeError, decode_document, is_json_buffer
from podaudit.model import DENIED, Compact, FileRecord, NodeReader, Problem, ProblemKind, go_sorted

# A static pod folder holds a handful of manifests (kubeadm: 4); past this many entries, the
# node's problems say the folder is not what it should be (podaudit still judges every entry).
MANY_ENTRIES = 1000
# "unknown": podaudit may not read the entry; the kubelet (root) can, so its fate is unknown.
Fate = Literal["loaded", "shadowed", "ignored", "rejected", "unknown"]


@dataclass(frozen=True, slots=True)
class PodIdentity(Compact):
    """The static pod a manifest defines, as the kubelet names it."""

    namespace: str
    name: str
    mirror_name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.mirror_name}"


@dataclass(frozen=True, slots=True)
class ManifestEntry(Compact):
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


def read_static_pod_path(reader: NodeReader, path: str, node_name: str, kubelet_minor: int | None = None
                         ) -> tuple[list[ManifestEntry], Problem | None]:
    """All entries of a static pod path with their fates, and a problem with the path itself.

    file.go: NewSourceFile trims trailing "/" (so "/" is "", which os.Stat finds missing);
    listConfig os.Stat()s the path (the kernel follows links, then ".."); extractFromDir lists
    filepath.Glob(filepath.Join(path, "[^.]*")), which cleans ".." lexically and globs."""
    trimmed = path.rstrip("/")
    record = reader.file(trimmed) if trimmed else FileRecord(path, "missing")
    if record.kind == "file":
        # listConfig: a regular file is the one and only manifest, whatever its name.
        return _dedupe([judge(trimmed, record, node_name, kubelet_minor)]), None
    if record.kind == "missing":
        return [], _about(path, "does not exist: the kubelet logs 'path does not exist, ignoring' every second "
                                "and runs no file pods")
    if record.kind != "dir":
        kind = ProblemKind.UNREADABLE if record.kind in {"denied", "uncollected"} else ProblemKind.STATIC_POD_PATH
        return [], Problem(kind, path, record.error or "is not a directory or a regular file")
    folder = go_clean(trimmed)
    if not has_meta(folder):
        listing = reader.listdir(folder)
        if listing.names is None and reader.file(folder).kind == "dir":
            kind = ProblemKind.UNREADABLE if listing.error == DENIED else ProblemKind.STATIC_POD_PATH
            return [], Problem(kind, path, f"{listing.error}", form="cannot list {path}: {detail}")
    found = go_glob(reader, f"{folder}/[^.]*")
    if found.error is not None:
        return [], _about(path, f"is a glob pattern Go cannot parse (glob failed: {found.error}): the kubelet lists "
                                "nothing and never reports its file source as seen")
    entries = [_entry(reader, p, posixpath.basename(p), node_name, kubelet_minor) for p in go_sorted(found.paths)]
    if not has_meta(folder):  # the dot-names the pattern skips, shown as ignored
        names = reader.listdir(folder).names or ()
        entries += [_entry(reader, posixpath.join(folder, n), n, node_name) for n in go_sorted(names) if n[:1] == "."]
    return _dedupe(entries), _lexical(path, record, folder, found) or _crowded(path, len(entries))


def _lexical(path: str, record: FileRecord, folder: str, found: GlobResult) -> Problem | None:
    """Where the folder the kubelet lists is not the one it checked: a ".." after a symbolic
    link (Join cleans it away before any link is followed), or pattern characters."""
    if has_meta(folder):
        listed = ", ".join(found.folders) or "no folder"
        return _about(path, f"holds glob characters (* ? [ \\): the kubelet lists the folders the pattern matches: "
                            f"{listed}")
    if ".." in path.split("/") and record.target is not None and record.target != folder:
        return _about(path, f"leads to {record.target} through a symbolic link, but the kubelet lists {folder}: "
                            "filepath.Join removes '..' before any link is followed")
    return None


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


def _entry(reader: NodeReader, path: str, name: str, node_name: str, kubelet_minor: int | None = None) -> ManifestEntry:
    if name.startswith("."):
        # filepath.Glob(dir, "[^.]*") never returns dot-files.
        return ManifestEntry(path, "ignored", "name starts with a dot", FileRecord(path, "uncollected"))
    record = reader.file(path)
    if record.kind == "dir":
        return ManifestEntry(path, "ignored", "a directory: the kubelet does not recurse", record)
    if record.kind == "other":
        return ManifestEntry(path, "ignored", "not a regular file or directory", record)
    return judge(path, record, node_name, kubelet_minor)


def judge(path: str, record: FileRecord, node_name: str, kubelet_minor: int | None = None) -> ManifestEntry:
    """What the kubelet does with one file: decode, check it is a Pod, validate."""
    if record.kind in {"denied", "uncollected"}:
        return ManifestEntry(path, "unknown", f"{record.error}: the kubelet can read it, podaudit could not", record)
    if record.kind != "file" or record.data is None:
        reason = record.error or f"cannot read ({record.kind})"
        return ManifestEntry(path, "rejected", reason, record, code="unreadable")
    try:
        decoded = decode_document(record.data)
    except DecodeError as exc:
        return ManifestEntry(path, "rejected", couldnt_parse(str(exc)), record, code="decode")
    pod = decoded.value
    warnings: tuple[str, ...] = ("several YAML documents: only the first runs",) if decoded.documents > 1 else ()
    from_json = is_json_buffer(record.data)
    problem = not_a_pod(pod, record.data.decode("utf-8", "replace") if from_json else None)
    if problem:
        return ManifestEntry(path, "rejected", couldnt_parse(problem), record, warnings=warnings, code="not-a-pod")
    assert isinstance(pod, dict)
    identity = _claimed(pod, node_name)
    wrong_type = type_error(pod, from_json)
    if wrong_type:
        # Never a pod to the kubelet; the name it claims still lets `find` name the file.
        return ManifestEntry(path, "rejected", couldnt_parse(wrong_type), record, identity, warnings=warnings,
                             code="decode")
    if identity is None:
        reason = "invalid pod: name is needed for the pod"
        return ManifestEntry(path, "rejected", reason, record, warnings=warnings, code="invalid")
    errors = validate_pod(pod, identity.mirror_name, identity.namespace, kubelet_minor=kubelet_minor)
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


def _claimed(pod: dict[str, Any], node_name: str) -> PodIdentity | None:
    """The pod a document names (metadata.name, namespace or "default": applyDefaults), if any."""
    meta = pod.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    namespace = (meta.get("namespace") if isinstance(meta, dict) else None) or "default"
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        return None
    return PodIdentity(namespace, name, mirror_name(name, node_name))


ONE_LINE = {c: f"\\x{c:02x}" for c in range(32)} | {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r"}


def couldnt_parse(error: str) -> str:
    """file.go extractFromFile: how the kubelet logs a file tryDecodeSinglePod could not parse
    (parsed=false), without the leading "<path>: ", on one line as klog quotes it."""
    return f"couldn't parse as pod({error}), please check config file".translate(ONE_LINE)


def not_a_pod(value: Any, text: str | None = None) -> str | None:
    """tryDecodeSinglePod: why the universal decoder does not produce a v1 Pod (the kubelet's
    error, podtypes.kind_error), or None. ``text``: a JSON file's text."""
    return kind_error(value, text)


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
