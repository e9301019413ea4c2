"""Reading files under a root directory exactly as ``chroot`` would.

With ``--root DIR`` every absolute path and every symbolic link is resolved inside DIR: a link
to ``/opt/manifests`` means ``DIR/opt/manifests``, never this machine's ``/opt``. The live
root (``/``) and a live ``/proc/<pid>/root`` are left to the kernel, whose resolution is the
real one (it follows the magic link into the process's mount namespace).
"""

from __future__ import annotations

import errno
import os
import stat
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


class RootFS:
    """A filesystem seen from ``root``; ``kernel`` means let the kernel resolve links."""

    def __init__(self, root: str, *, kernel: bool | None = None) -> None:
        self.root = os.path.abspath(root)
        self.kernel = self.root == "/" if kernel is None else kernel
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
                continue
            candidate = self._join("/".join([*current, part]))
            st = self._lstat(candidate)
            if st is None:
                # Nothing below a missing name can be a link: the rest of the path is literal.
                current.extend([part, *pending])
                break
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "Too many levels of symbolic links", path)
                target = os.readlink(candidate)
                if target.startswith("/"):
                    current = []
                pending = [p for p in target.split("/") if p] + pending
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, "Not a directory", path)
            current.append(part)
        node_path = normalize("/".join(current))
        return Resolved(self._join(node_path), node_path)

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> FileRecord:
        """Stat (following links) and read up to ``limit`` bytes; errors become data."""
        try:
            where = self.resolve(path)
        except (OSError, ValueError) as exc:
            return _failed(path, exc)
        link, inode = self._last_component(path)
        try:
            st = os.stat(where.host_path)
        except (OSError, ValueError) as exc:
            if where.node_path == "/dev/null" != path:
                # A unit masked with a link to /dev/null, in a snapshot that has no /dev.
                return FileRecord(path, "other", target="/dev/null", link=link, inode=inode)
            return _failed(path, exc)
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
        node_path = where.node_path
        if self.kernel:
            # Only the live root maps host paths to node paths one to one.
            node_path = os.path.realpath(where.host_path) if self.root == "/" else node_path
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


def _failed(path: str, exc: OSError | ValueError) -> FileRecord:
    reason = describe_oserror(exc)
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
