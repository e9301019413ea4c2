"""The snapshot side file, ``podaudit.meta.json``: what a plain directory tree cannot carry.

Modes, owners and mtimes per path (with defaults), and the node's network interfaces.
Format in docs/snapshot-format.md. A bad side file is ignored, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

from podaudit.collect.rootfs import RootFS
from podaudit.model import FileRecord, Interface

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
