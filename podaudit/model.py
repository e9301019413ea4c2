"""Plain data that crosses podaudit's boundaries.

A collector (local, --root, snapshot, later SSH) produces a ``NodeSnapshot``: what it saw on
one node, as raw bytes, stats and per-path errors. Everything after it is pure functions over
this data, reading it through the small ``NodeReader`` protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

# "denied": the path exists but this reader may not read it (the kubelet, as root, can).
FileKind = Literal["file", "dir", "other", "missing", "denied", "error", "uncollected"]

# The kubelet reads at most this many bytes of a manifest (maxConfigLength in
# pkg/kubelet/config/common.go); a larger file is rejected, not truncated.
MAX_FILE_BYTES = 10 * 1024 * 1024
# The reason recorded when this reader may not read a path that the kubelet (root) can.
DENIED = "permission denied (run as root, or with sudo)"
# The reason recorded for a path no system call can take (a NUL byte, undecodable characters).
INVALID_PATH = "not a valid path (it holds a NUL byte or undecodable characters)"


def go_sorted(names: Iterable[str]) -> list[str]:
    """Sorted as Go's sort.Strings sorts: by bytes (names may hold undecodable bytes)."""
    return sorted(names, key=lambda name: name.encode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class FileRecord:
    """One path as the kubelet would see it: stat after following symlinks, and its bytes."""

    path: str
    kind: FileKind
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime: float | None = None
    size: int | None = None
    data: bytes | None = None
    error: str | None = None
    # Set when the path went through symbolic links: the path they finally led to.
    target: str | None = None
    # Set when the last component itself is a symbolic link: what it says.
    link: str | None = None
    # The inode of the last component itself (not followed): what ``mv`` would move.
    inode: int | None = None

    @property
    def readable(self) -> bool:
        return self.kind == "file" and self.data is not None


@dataclass(frozen=True)
class DirListing:
    """The names in one directory (unsorted, as read), or why they could not be read."""

    path: str
    names: tuple[str, ...] | None
    error: str | None = None


@dataclass(frozen=True)
class ProcessRecord:
    """A kubelet-like process: exact argv from /proc/<pid>/cmdline, never ps text."""

    pid: int
    argv: tuple[str, ...]
    exe: str | None = None
    cwd: str | None = None
    start_time: float | None = None
    # The systemd unit whose cgroup holds it (from /proc/<pid>/cgroup), when known.
    unit: str | None = None


@dataclass(frozen=True)
class Interface:
    """A network interface and its addresses in CIDR form (``10.10.14.124/16``)."""

    name: str
    addresses: tuple[str, ...]


class NodeReader(Protocol):
    """What the kubelet model may ask of a node: one file or one directory at a time."""

    def file(self, path: str) -> FileRecord:
        """Stat (following symlinks) and read ``path``; never raises."""
        ...

    def listdir(self, path: str) -> DirListing:
        """List the names directly in ``path``; never raises."""
        ...


@dataclass
class NodeSnapshot:
    """Everything gathered from one node: the serialisable unit of a collection."""

    label: str
    hostname: str | None = None
    processes: list[ProcessRecord] = field(default_factory=list)
    files: dict[str, FileRecord] = field(default_factory=dict)
    dirs: dict[str, DirListing] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    # The interface of the default route, when known.
    default_route: str | None = None

    def file(self, path: str) -> FileRecord:
        return self.files.get(path) or FileRecord(path, "uncollected", error="not collected")

    def listdir(self, path: str) -> DirListing:
        return self.dirs.get(path) or DirListing(path, None, error="not collected")


@dataclass(frozen=True)
class Step:
    """One link of a provenance chain: what was decided, and exactly where it was read."""

    what: str
    source: str
    line: int | None = None

    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


@dataclass(frozen=True)
class Arg:
    """One kubelet command-line word and where it came from."""

    value: str
    origin: Step


@dataclass(frozen=True)
class InventoryEntry:
    """One node to reach: ``name``, the node as Kubernetes knows it (the mirror pod suffix),
    and ``address``, where SSH connects (None: the name itself, through the user's ssh_config)."""

    name: str
    address: str | None = None
    user: str | None = None
    port: int | None = None
    problem: str | None = None  # why this entry is not connected to: one line naming it and the bad value
