"""An in-memory NodeReader for unit tests of pure logic."""

from __future__ import annotations

import posixpath

from podaudit.model import DirListing, FileRecord, NodeSnapshot, ProcessRecord


def mem_node(files: dict[str, bytes | str], *, hostname: str = "node-a",
             processes: list[ProcessRecord] | None = None, mtimes: dict[str, float] | None = None) -> NodeSnapshot:
    """A NodeSnapshot holding exactly these files; their parent directories exist too."""
    snap = NodeSnapshot("mem", hostname=hostname, processes=processes or [])
    children: dict[str, set[str]] = {}
    for path, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        snap.files[path] = FileRecord(path, "file", mode=0o600, uid=0, gid=0,
                                      mtime=(mtimes or {}).get(path, 1.0), size=len(data), data=data)
        child = path
        while child != "/":
            parent = posixpath.dirname(child)
            children.setdefault(parent, set()).add(posixpath.basename(child))
            child = parent
    for directory, names in children.items():
        snap.files.setdefault(directory, FileRecord(directory, "dir", mode=0o755, uid=0, gid=0, mtime=1.0))
        snap.dirs[directory] = DirListing(directory, tuple(sorted(names)))
    return _Missing(snap)


class _Missing(NodeSnapshot):
    """Unknown paths are missing (not 'not collected'): the snapshot is the whole node."""

    def __init__(self, snap: NodeSnapshot) -> None:
        super().__init__(snap.label, snap.hostname, snap.processes, snap.files, snap.dirs)

    def file(self, path: str) -> FileRecord:
        # Record misses as a collector does, so reports see what was looked for.
        return self.files.setdefault(path, FileRecord(path, "missing", error="missing"))

    def listdir(self, path: str) -> DirListing:
        return self.dirs.get(path) or DirListing(path, None, "missing")
