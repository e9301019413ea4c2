"""Every path of one node whose change changes the static pods its kubelet runs.

``watch_paths`` is what ``--output watch-paths`` prints (report/watch.py renders it) and what
``podaudit watch`` watches (``feed_paths`` adds the directories whose new entries matter:
systemd drop-in directories, parents of missing files).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Literal

from podaudit.kubelet.resolve import NodeView
from podaudit.kubelet.unitfiles import UNIT_DIRS, dropin_names, split_name

WatchKind = Literal["static-pod-dir", "manifest", "kubelet-config", "kubelet-config-dir", "systemd-unit", "env-file"]
# A config-dir drop-in is any *.conf file below --config-dir (filepath.WalkDir in the kubelet).
_UNREAD_KINDS = {"dir", "missing", "uncollected"}


def _with_target(view: NodeView, kind: WatchKind, path: str) -> Iterator[tuple[WatchKind, str]]:
    yield kind, path
    record = view.records.get(path)
    if record is not None and record.target and record.target != path:
        yield kind, record.target


def _config_dropins(view: NodeView) -> list[str]:
    if view.config_dir is None:
        return []
    prefix = view.config_dir.rstrip("/") + "/"
    return [path for path, record in view.records.items()
            if path.startswith(prefix) and posixpath.basename(path).endswith(".conf")
            and record.kind not in _UNREAD_KINDS]


def watch_paths(view: NodeView) -> Iterator[tuple[WatchKind, str]]:
    """Every path of one node whose change changes the static pods its kubelet runs."""
    if view.static_pod_path.value is not None:
        yield from _with_target(view, "static-pod-dir", view.static_pod_path.value)
    for entry in view.entries:
        if entry.fate != "ignored":
            yield "manifest", entry.path
            if entry.record.target and entry.record.target != entry.path:
                yield "manifest", entry.record.target
    if view.config_file is not None:
        yield from _with_target(view, "kubelet-config", view.config_file)
    if view.config_dir is not None:
        yield from _with_target(view, "kubelet-config-dir", view.config_dir)
    for path in _config_dropins(view):
        yield from _with_target(view, "kubelet-config", path)
    unit = view.invocation.unit
    if unit is not None:
        for path in (*([unit.unit_path] if unit.unit_path else []), *unit.dropins):
            yield from _with_target(view, "systemd-unit", path)
        for env in unit.env_files:
            yield from _with_target(view, "env-file", env.path)


def feed_paths(view: NodeView) -> list[str]:
    """What a change feed watches for one node: ``watch_paths``, the systemd drop-in
    directories of the unit (a new drop-in changes the next start: unit_file_find_dirs() in
    systemd), and the parent of every missing path (so its creation is seen)."""
    paths = dict.fromkeys(path for _, path in watch_paths(view))
    unit = view.invocation.unit
    if unit is not None:
        names = dict.fromkeys((*dropin_names(unit.unit), split_name(unit.unit)[2]))
        paths.update(dict.fromkeys(f"{d}/{n}.d" for d in UNIT_DIRS for n in names))
    for path in list(paths):
        record = view.records.get(path)
        if record is None or record.kind == "missing":
            paths[posixpath.dirname(path) or "/"] = None
    return list(paths)
