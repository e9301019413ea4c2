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

from podaudit.collect.source import SweepResult
from podaudit.watch.paths import WatchKind, watch_paths

__all__ = ["WatchKind", "escape_field", "render_watch_paths", "watch_paths"]


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


def render_watch_paths(sweep: SweepResult) -> str:
    """All audited nodes' watch paths as sorted ``node<TAB>kind<TAB>path`` lines."""
    lines = {
        "\t".join((escape_field(node), kind, escape_field(path)))
        for node, view in sweep.audited
        for kind, path in watch_paths(view)
    }
    return "".join(f"{line}\n" for line in sorted(lines))
