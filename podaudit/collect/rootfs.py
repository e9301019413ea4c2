"""Reading files under a root directory exactly as ``chroot`` would.

With ``--root DIR`` every absolute path and every symbolic link is resolved inside DIR: a link
to ``/opt/manifests`` means ``DIR/opt/manifests``, never this machine's ``/opt``. Only the root
``/`` itself is left to the kernel. Every other root (a copied tree, a host mounted at
``/host``, a kubelet's ``/proc/<pid>/root``) is resolved here: the kernel resolves an absolute
link met below ``/proc/<pid>/root`` against the READER's root, not the process's (which is why
openat2 has RESOLVE_IN_ROOT), and a tree's links are whatever its author wrote.

A root is *live* (this machine's processes, network) only when it is ``/`` or when its
``proc`` is really a procfs mount, as this process's mountinfo says (:func:`live_procfs`):
files in a tree cannot fake a mount, so a tree is never taken for a live host.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from podaudit.model import DENIED, INVALID_PATH, MAX_FILE_BYTES, DirListing, FileRecord

MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS: one more is ELOOP.


@dataclass(frozen=True)
class Resolved:
    host_path: str  # where to read it on this machine
    node_path: str  # the same path as the node sees it, symlinks resolved


def normalize(path: str) -> str:
    """An absolute, normalised node path ('//x' is '/x' here, unlike os.path.normpath)."""
    return os.path.normpath("/" + path.lstrip("/"))


def describe_oserror(exc: OSError | ValueError) -> str:
    """A short, actionable reason for a failed read."""
    if isinstance(exc, ValueError):
        return INVALID_PATH
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DENIED
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "missing"
    if exc.errno == errno.ENAMETOOLONG:
        return "name too long"
    return exc.strerror or str(exc)


# What a name is, for walk_links: a link's target, True for a folder, False for anything else,
# None when there is no such name.
Entry = str | bool | None


def walk_links(path: str, entry: Callable[[str], Entry], *, beneath: bool = False) -> str:
    """The node path ``path`` leads to, each link resolved inside the root as chroot (openat2
    RESOLVE_IN_ROOT) would: an absolute target starts again at the root, '..' at the root stays
    there. With ``beneath``, '..' at the root is OSError(EXDEV) instead (RESOLVE_BENEATH's
    answer). ``entry`` says what a node path is; ELOOP after MAX_SYMLINKS links, ENOTDIR for a
    name below a non-folder, ENOENT for '..' below a missing name (the kernel stops there)."""
    pending = [p for p in path.split("/") if p]
    current: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if current:
                current.pop()
            elif beneath:
                raise OSError(errno.EXDEV, "leads out of the root", path)
            continue
        found = entry("/" + "/".join([*current, part]))
        if found is None:
            if ".." in pending:
                raise OSError(errno.ENOENT, "No such file or directory", path)
            # Nothing below a missing name can be a link: the rest of the path is literal.
            current.extend([part, *pending])
            break
        if isinstance(found, str):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, "Too many levels of symbolic links", path)
            if found.startswith("/"):
                current = []
            pending = [p for p in found.split("/") if p] + pending
            continue
        if pending and not found:
            raise OSError(errno.ENOTDIR, "Not a directory", path)
        current.append(part)
    return normalize("/".join(current))


def live_procfs(root: str) -> bool:
    """Whether ``root/proc`` is a procfs mount (the DaemonSet's ``/host``, mounted with its
    submounts), as this process's ``/proc/self/mountinfo`` says and the folder's device
    confirms: files in a tree cannot fake either."""
    mount_point = os.path.join(os.path.realpath(root), "proc")
    try:
        with open("/proc/self/mountinfo", "rb") as handle:
            lines = handle.read().splitlines()
        here = os.lstat(mount_point).st_dev
    except OSError:
        return False
    top: tuple[bytes, bytes] | None = None
    for line in lines:
        # proc(5): ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...
        fields = line.split(b" ")
        if len(fields) > 8 and b"-" in fields[6:] and _unescape(fields[4]) == os.fsencode(mount_point):
            top = (fields[2], fields[fields.index(b"-", 6) + 1])  # the last mount there is on top
    if top is None or top[1] != b"proc":
        return False
    major, _, minor = top[0].partition(b":")
    return major.isdigit() and minor.isdigit() and here == os.makedev(int(major), int(minor))


def _unescape(field: bytes) -> bytes:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes (\\040)."""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8) & 0xFF]), field)


class RootFS:
    """A filesystem seen from ``root``: the kernel resolves links for ``/`` only."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.kernel = self.root == "/"
        # One read of a node is one moment: each name is looked at once (most paths share
        # /etc, /var/lib/kubelet, /proc/<pid> as their first components).
        self._resolved: dict[str, Resolved] = {}
        self._links: dict[str, os.stat_result | None] = {}

    def resolve(self, path: str) -> Resolved:
        """Map a node path to a host path, resolving symlinks inside the root; raises OSError."""
        if self.kernel:
            return Resolved(self._join(path), normalize(path))
        found = self._resolved.get(path)
        if found is None:
            found = self._resolved[path] = self._emulate(path)
        return found

    def _entry(self, node_path: str) -> Entry:
        candidate = self._join(node_path)
        st = self._lstat(candidate)
        if st is None:
            return None
        return os.readlink(candidate) if stat.S_ISLNK(st.st_mode) else stat.S_ISDIR(st.st_mode)

    def _lstat(self, candidate: str) -> os.stat_result | None:
        """lstat, remembered; None for a missing name (other errors raise, and are not kept)."""
        if candidate in self._links:
            return self._links[candidate]
        try:
            st: os.stat_result | None = os.lstat(candidate)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            st = None
        self._links[candidate] = st
        return st

    def _join(self, node_path: str) -> str:
        rel = normalize(node_path).lstrip("/")
        return os.path.join(self.root, rel) if rel else self.root

    def _emulate(self, path: str) -> Resolved:
        node_path = walk_links(path, self._entry)
        return Resolved(self._join(node_path), node_path)

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> FileRecord:
        """Stat (following links) and read up to ``limit`` bytes; errors become data."""
        try:
            where = self.resolve(path)
        except (OSError, ValueError) as exc:
            return failed_record(path, describe_oserror(exc))
        link, inode = self._last_component(path)
        try:
            st = os.stat(where.host_path)
        except (OSError, ValueError) as exc:
            if where.node_path == "/dev/null" != path:
                # A unit masked with a link to /dev/null, in a snapshot that has no /dev.
                return FileRecord(path, "other", target="/dev/null", link=link, inode=inode)
            return failed_record(path, describe_oserror(exc))
        target = self._target(path, where)
        meta = {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                "mtime": st.st_mtime, "size": st.st_size, "target": target, "link": link, "inode": inode}
        if stat.S_ISDIR(st.st_mode):
            return FileRecord(path, "dir", **meta)  # type: ignore[arg-type]
        if not stat.S_ISREG(st.st_mode):
            return FileRecord(path, "other", **meta)  # type: ignore[arg-type]
        data, error = _read_capped(where.host_path, st.st_size, limit)
        kind = "denied" if error == DENIED else "file"
        return FileRecord(path, kind, data=data, error=error, **meta)  # type: ignore[arg-type]

    def _target(self, path: str, where: Resolved) -> str | None:
        """Where symbolic links led, when they led somewhere else."""
        node_path = os.path.realpath(where.host_path) if self.kernel else where.node_path
        return node_path if node_path != normalize(path) else None

    def listdir(self, path: str) -> DirListing:
        try:
            names = os.listdir(self.resolve(path).host_path)
        except (OSError, ValueError) as exc:
            return DirListing(path, None, describe_oserror(exc))
        return DirListing(path, tuple(names))

    def _last_component(self, path: str) -> tuple[str | None, int | None]:
        """The link text and inode of the path's last component, not followed."""
        try:
            parent = self.resolve(os.path.dirname(path) or "/")
            entry = os.path.join(parent.host_path, os.path.basename(path))
            st = os.lstat(entry)
            return (os.readlink(entry) if stat.S_ISLNK(st.st_mode) else None), st.st_ino
        except (OSError, ValueError):
            return None, None

    def readlink(self, path: str) -> str | None:
        """The target of one link, not followed; None when it is not a readable link."""
        try:
            parent = self.resolve(os.path.dirname(path) or "/")
            return os.readlink(os.path.join(parent.host_path, os.path.basename(path)))
        except (OSError, ValueError):
            return None


def failed_record(path: str, reason: str) -> FileRecord:
    """The record of a path that could not be read, from the reason ``describe_oserror`` gives
    (the gather stream's strerror is turned into the same words: records.describe_strerror)."""
    kind = {"missing": "missing", DENIED: "denied"}.get(reason, "error")
    return FileRecord(path, kind, error=reason)  # type: ignore[arg-type]


def _read_chunks(handle: BinaryIO, limit: int) -> bytes:
    """Read up to ``limit`` bytes in modest chunks: procfs files refuse one huge read(2)."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = handle.read(min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_capped(host_path: str, size: int, limit: int) -> tuple[bytes | None, str | None]:
    # utilio.ReadAtMost fails once the limit is reached: a file of exactly 10 MiB is refused too.
    if size >= limit:
        return None, f"too large: {size} bytes; the kubelet refuses files of {limit} bytes or more"
    try:
        # O_NONBLOCK: the file was a regular file at stat time, but never hang on a swapped-in FIFO.
        fd = os.open(host_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return None, describe_oserror(exc)
    try:
        with os.fdopen(fd, "rb") as handle:
            data = _read_chunks(handle, limit)
    except OSError as exc:
        return None, describe_oserror(exc)
    if len(data) >= limit:
        return None, f"too large: the kubelet refuses files of {limit} bytes or more"
    return data, None
