"""Unpacking a bundle's members with podaudit's own code, not tarfile's extraction, whose
filters had bypasses (CVE-2025-4517 and others; fixed only in Python 3.11.13 / 3.12.11).

The members are checked as a whole before anything is written: each name once, within the
lengths the OS allows (PC_NAME_MAX, PC_PATH_MAX), nothing below a link or a file, ``nodes``
and ``nodes/<node>`` folders, links only below ``nodes/<node>/`` (``api/`` holds plain files),
and each link's target, resolved against the bundle's links with absolute targets meaning the
node's root (as podaudit reads a node), inside its ``nodes/<node>/`` folder. Then folders and
files are written only through real folders (each opened O_NOFOLLOW|O_DIRECTORY from its
parent: a link or a file there is an error, never followed), files are created
O_CREAT|O_EXCL|O_NOFOLLOW, and links are made last: nothing is ever written through one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tarfile

from podaudit.collect.rootfs import Entry, walk_links

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


# A GNU long name or link, or a pax header: text about the next member, which tarfile reads
# whole into memory (TarInfo._proc_gnulong, _proc_pax) before any member is seen. podaudit's
# own are a few hundred bytes (a path, a time); a gzip bomb can declare gigabytes.
MAX_HEADER_TEXT = 1 << 20
# Names in one member's path, at most. A node's deepest real paths are a few dozen; a bundle
# nested a thousand deep unpacks, but Python's rmtree (3.11) recurses once per folder and
# could not remove it again: RecursionError, and the unpacked tree left in the temp folder.
MAX_DEPTH = 100
_HEADER_TEXT = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                tarfile.SOLARIS_XHDTYPE)


class Refused(Exception):
    """A member podaudit does not unpack: what is wrong with it, naming it."""


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo (``tarfile.open(tarinfo=...)``) that refuses header text over
    MAX_HEADER_TEXT bytes and GNU sparse members (whose map of extension blocks tarfile's
    _proc_sparse reads without end) before tarfile reads them: a ReadError, not the memory."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE or (self.type in _HEADER_TEXT and self.size > MAX_HEADER_TEXT):
            # A ReadError passes tarfile.TarFile.next as it is, at any offset (unlike a
            # HeaderError, which ends the archive quietly after the first member).
            raise tarfile.ReadError(f"a tar header of type {self.type!r} and {self.size} bytes "
                                                "(podaudit writes none)")
        result: tarfile.TarInfo = tarfile.TarInfo._proc_member(self, tar)  # type: ignore[attr-defined]
        return result


def extract(tar: tarfile.TarFile, members: list[tarfile.TarInfo], into: str) -> None:
    """Write ``members`` (already checked against checksums.json) under the folder ``into``."""
    check_members(members, into)
    top = os.open(into, _DIR)
    try:
        with _Folders(top) as folders:
            for member in members:
                if member.isdir():
                    folders.get(member.name.split("/"))
                elif member.isfile():
                    _write_file(tar, member, folders)
        for member in members:  # links last: nothing is written after them, so never through them
            if member.issym():
                parts = member.name.split("/")
                parent = _folder(top, parts[:-1])
                try:
                    os.symlink(member.linkname, parts[-1], dir_fd=parent)
                finally:
                    os.close(parent)
        with _Folders(top, make=False) as folders:  # as tarfile does, a folder's mode and time once it is filled
            for member in members:
                if member.isdir():
                    folder = folders.get(member.name.split("/"))
                    os.fchmod(folder, member.mode & 0o755 | 0o700)
                    _set_mtime(folder, member.mtime)
    finally:
        os.close(top)


def check_members(members: list[tarfile.TarInfo], into: str) -> None:
    """Refused unless the members make a tree podaudit could have written (module docstring)."""
    name_max = os.pathconf(into, "PC_NAME_MAX")
    path_max = os.pathconf(into, "PC_PATH_MAX")
    by_name: dict[str, tarfile.TarInfo] = {}
    for member in members:
        _check_name(member, len(os.fsencode(into)), name_max, path_max)
        if member.name in by_name:
            raise Refused(f"member {member.name!r} is in the bundle twice")
        by_name[member.name] = member
    for member in members:
        parts = member.name.split("/")
        for depth in range(1, len(parts)):
            above = by_name.get("/".join(parts[:depth]))
            if above is not None and not above.isdir():
                raise Refused(f"member {member.name!r} is below {above.name!r}, which is not a folder")
        if not (member.isdir() or member.isfile() or member.issym()):
            raise Refused(f"member {member.name!r} is a device, FIFO or hard link")
        if parts[0] == "nodes" and len(parts) <= 2 and not member.isdir():
            raise Refused(f"member {member.name!r} is not a folder (nodes/ holds one folder per node)")
        if member.issym() and not member.linkname:
            raise Refused(f"member {member.name!r} is a link to an empty name")
    _check_links(members)


def _check_name(member: tarfile.TarInfo, prefix: int, name_max: int, path_max: int) -> None:
    """Names and link targets the OS can hold as they are (no truncation, no NUL)."""
    try:
        name, target = os.fsencode(member.name), os.fsencode(member.linkname)
    except UnicodeError:
        raise Refused(f"member {member.name!r} has a name that is not a file name") from None
    if b"\0" in name or b"\0" in target:
        raise Refused(f"member {member.name!r} has a NUL byte in its name or link target")
    if name.count(b"/") >= MAX_DEPTH:
        raise Refused(f"member {member.name[:60]!r}... is nested in more than {MAX_DEPTH - 1} folders")
    if any(len(part) > name_max for part in name.split(b"/")):
        raise Refused(f"member {member.name!r} has a name longer than the {name_max} bytes this system allows")
    if prefix + 1 + len(name) >= path_max or len(target) >= path_max:
        raise Refused(f"member {member.name!r} has a path longer than the {path_max} bytes this system allows")


def _check_links(members: list[tarfile.TarInfo]) -> None:
    """Each link's target, resolved through the bundle's own links (the tree as it will be
    once every link is made) with absolute targets meaning the node's root, stays inside its
    node's folder: a '..' at that root is refused (openat2 RESOLVE_BENEATH's EXDEV)."""
    trees: dict[str, dict[str, Entry]] = {}
    for member in members:
        parts = member.name.split("/")
        if parts[0] != "nodes" or len(parts) < 3:
            continue
        tree = trees.setdefault(parts[1], {})
        tree["/" + "/".join(parts[2:])] = member.linkname if member.issym() else member.isdir()
        for depth in range(3, len(parts)):
            tree.setdefault("/" + "/".join(parts[2:depth]), True)
    for member in members:
        if not member.issym():
            continue
        parts = member.name.split("/")
        if parts[0] != "nodes" or len(parts) < 3:
            raise Refused(f"member {member.name!r} is a link outside nodes/<node>/")
        start = member.linkname if member.linkname.startswith("/") else "/".join(["", *parts[2:-1], member.linkname])
        try:
            walk_links(start, trees[parts[1]].get, beneath=True)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise Refused(f"member {member.name!r} is a link that leads out of nodes/{parts[1]}/ "
                              f"({member.linkname!r})") from None
            if exc.errno == errno.ELOOP:
                raise Refused(f"member {member.name!r} is a link in a loop of links ({member.linkname!r})") from None
            # ENOENT, ENOTDIR: the link leads nowhere, as the kernel would find too.


def _folder(top: int, parts: list[str]) -> int:
    """A descriptor of the folder ``parts`` below ``top``, each missing folder made; a link or
    a file on the way is an OSError (ENOTDIR on Linux), never followed."""
    fd = os.dup(top)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            below = os.open(part, _DIR, dir_fd=fd)
            os.close(fd)
            fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


class _Folders:
    """The folders of the last path asked for, from the top, kept open: a bundle's members come
    folder by folder, and walking every member's path from the top again was most of an
    unpacking's system calls (1,000 nodes: 167,000 mkdir and 194,000 open for 26,000 members).
    Each folder is opened as ``_folder`` opens it (made if missing, with ``make``;
    O_NOFOLLOW|O_DIRECTORY from its parent). At most HELD descriptors are kept, whatever the
    depth (a shell's limit may be 256 open files, and a bundle may nest MAX_DEPTH folders
    deep); the one ``get`` returns is this object's, valid until the next ``get``."""

    HELD = 32

    def __init__(self, top: int, make: bool = True) -> None:
        self.top = top
        self.make = make  # False once every folder is made: only opened
        self.chain: list[tuple[str, int]] = []  # the last path's first folders and their descriptors
        self.loose: int | None = None  # the last path's folder when deeper than the chain

    def __enter__(self) -> _Folders:
        return self

    def __exit__(self, *exc: object) -> None:
        self._drop(0)

    def _drop(self, keep: int) -> None:
        """Close all but the first ``keep`` of the chain, and the loose descriptor."""
        if self.loose is not None:
            fd, self.loose = self.loose, None
            os.close(fd)
        while len(self.chain) > keep:
            os.close(self.chain.pop()[1])

    def get(self, parts: list[str]) -> int:
        keep = 0
        while keep < min(len(parts), len(self.chain)) and self.chain[keep][0] == parts[keep]:
            keep += 1
        self._drop(keep)
        fd = self.chain[-1][1] if self.chain else self.top
        for part in parts[keep:]:
            if self.make:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            below = os.open(part, _DIR, dir_fd=fd)
            if fd == self.loose:  # past the chain: only the deepest is kept
                self.loose = None
                os.close(fd)
            if len(self.chain) < self.HELD and self.loose is None:
                self.chain.append((part, below))
            else:
                self.loose = below
            fd = below
        return fd


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, folders: _Folders) -> None:
    parts = member.name.split("/")
    try:
        fd = os.open(parts[-1], _NEW_FILE, 0o600, dir_fd=folders.get(parts[:-1]))
    except FileExistsError:
        raise Refused(f"member {member.name!r} is also in another bundle; give it once") from None
    source = tar.extractfile(member)
    with os.fdopen(fd, "wb") as out:
        if source is not None:
            shutil.copyfileobj(source, out, 1 << 20)
        out.flush()
        # The "tar" filter's mode (no set-id bits, no group/other write), readable by us.
        os.fchmod(out.fileno(), member.mode & 0o755 | 0o600)
        _set_mtime(out.fileno(), member.mtime)


def _set_mtime(fd: int, mtime: float) -> None:
    with contextlib.suppress(OSError, OverflowError, ValueError):
        os.utime(fd, (mtime, mtime))
