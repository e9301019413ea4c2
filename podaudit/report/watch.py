"""Paths to watch for static pod changes, per node (``--output watch-paths``).

File-integrity and audit tools (auditd, Falco, AIDE, osquery FIM) usually hard-code
``/etc/kubernetes/manifests``; this prints what each node's kubelet really reads, as resolved
by podaudit, so their rules can be generated from it.

Format: one line per path, ``node<TAB>kind<TAB>path``, sorted, no header, no duplicates.
Paths are the node's own absolute paths. ``kind`` is one of:

- ``static-pod-dir``: the effective static pod path (usually a directory; a file when the
  kubelet is given one file). Watch it for writes and new files.
- ``manifest``: every file the kubelet reads there (the loaded, shadowed, rejected and
  unreadable entries; dot-files, subdirectories and special files are never read).
- ``kubelet-config``: the ``--config`` file and each ``*.conf`` drop-in under ``--config-dir``.
- ``kubelet-config-dir``: the ``--config-dir`` directory (a new drop-in changes the kubelet).
- ``systemd-unit``: the kubelet's unit file and its drop-ins.
- ``env-file``: every ``EnvironmentFile=`` of the unit, also those that do not exist yet (an
  optional one that appears changes the next start).

When a path goes through symbolic links, the path they lead to is listed too, with the same
kind. Nodes that could not be audited have no lines (podaudit exits 3).

Escaping: a backslash, and every character that is not printable (tab, newline, other control
characters, Unicode format characters such as bidi overrides), is written as ``\\xNN``, one per
UTF-8 byte; an undecodable byte of a file name is ``\\xNN`` of that byte. Replacing every
``\\xNN`` with the byte ``NN`` gives the exact path back; a line without a backslash needs no
decoding.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Literal

from podaudit.collect.source import SweepResult
from podaudit.kubelet.resolve import NodeView

WatchKind = Literal["static-pod-dir", "manifest", "kubelet-config", "kubelet-config-dir", "systemd-unit", "env-file"]
# A config-dir drop-in is any *.conf file below --config-dir (filepath.WalkDir in the kubelet).
_UNREAD_KINDS = {"dir", "missing", "uncollected"}


def escape_field(text: str) -> str:
    """One field of a line: backslash and non-printable characters as ``\\xNN`` per byte."""
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char == "\\" or not char.isprintable():
            out.append("".join(f"\\x{b:02x}" for b in char.encode("utf-8", "surrogatepass")))
        else:
            out.append(char)
    return "".join(out)


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


def render_watch_paths(sweep: SweepResult) -> str:
    """All audited nodes' watch paths as sorted ``node<TAB>kind<TAB>path`` lines."""
    lines = {
        "\t".join((escape_field(node), kind, escape_field(path)))
        for node, view in sweep.audited
        for kind, path in watch_paths(view)
    }
    return "".join(f"{line}\n" for line in sorted(lines))
