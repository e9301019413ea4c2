"""The change feed of this machine, or of a node's filesystem under ``--root DIR``.

Files: inotify(7) (``inotify_simple``), one watch per directory that holds a watched path,
as the kubelet's own file source watches its static pod path (pkg/kubelet/config/
file_linux.go: inotify on the directory, plus a periodic relist we do not need since every
change here is followed by a full reading). A watched path that is itself a directory is
watched too, so a new entry in it is seen; its parent is watched as well, so deleting and
recreating it (``rm -rf manifests; mkdir manifests``) is seen and re-armed: the kernel ends a
watch when its directory goes (IN_IGNORED), and the next ``watch`` call, after the loop's
reading, adds it again. IN_Q_OVERFLOW (the kernel queue, /proc/sys/fs/inotify/
max_queued_events, was full) says "read everything", which the loop does anyway.

Under ``--root`` a node path is resolved inside the root as the collector resolves it
(collect/rootfs.py RootFS: links never lead out of the root); on ``/`` the kernel resolves.

The kubelet: a pidfd (pidfd_open(2), Linux 5.3) becomes readable when the process ends, so
a restart is seen without polling /proc. With no kubelet running, /proc is scanned for a new
one every ``interval`` seconds (the kernel has no "a process named kubelet started" event
for an unprivileged reader). Under a --root tree there is no process to watch: off.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import select
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podaudit.watch.feed import Change

if TYPE_CHECKING:
    from inotify_simple import INotify

    from podaudit.collect.rootfs import RootFS


MAX_PATHS = 64  # paths named in one Change; more are "something changed here" (the loop re-reads all)
_IN_MASK_NAMES = ("CREATE", "DELETE", "MOVED_FROM", "MOVED_TO", "CLOSE_WRITE", "ATTRIB", "DELETE_SELF",
                  "MOVE_SELF")


@dataclass
class _Dir:
    node_path: str  # the directory as the node names it
    names: set[str] | None = field(default=None)  # entries that matter; None: every entry


class LocalFeed:
    """inotify on the directories of the watched paths, a pidfd on the kubelet."""

    def __init__(self, root: str = "/", interval: float = 1.0, kubelet: bool = True) -> None:
        from inotify_simple import INotify

        self.root = os.path.abspath(root)
        self.interval = interval
        self.kubelet = kubelet  # a live root: there are processes to watch
        self.inotify: INotify = INotify()
        self.dirs: dict[str, _Dir] = {}  # host directory: what it means
        self.wds: dict[int, str] = {}  # watch descriptor: host directory
        self.pidfd: int | None = None
        self.next_scan = 0.0
        self.pending: Change | None = None

    # --- what to watch --------------------------------------------------------------------

    def watch(self, paths: Sequence[str], kubelet_pid: int | None) -> None:
        from podaudit.collect.rootfs import RootFS

        wanted: dict[str, _Dir] = {}
        rootfs = RootFS(self.root)  # one moment: each name resolved once
        for path in paths:
            self._want(path, wanted, rootfs)
        self._apply(wanted)
        self._watch_kubelet(kubelet_pid if self.kubelet else None)

    @staticmethod
    def _resolve(rootfs: RootFS, node_path: str) -> str | None:
        """The host path of a node path (inside the root), or None when it cannot be resolved."""
        try:
            return rootfs.resolve(node_path).host_path
        except (OSError, ValueError):
            return None

    def _want(self, node_path: str, wanted: dict[str, _Dir], rootfs: RootFS) -> None:
        node_path = posixpath.normpath("/" + node_path.lstrip("/"))
        host = self._resolve(rootfs, node_path)
        if host is not None and os.path.isdir(host):
            wanted[host] = _Dir(node_path, None)
        # The parent: the path's own creation, removal and rename (and a file's writes).
        child, parent = node_path, posixpath.dirname(node_path)
        while True:
            host_parent = self._resolve(rootfs, parent)
            if host_parent is not None and os.path.isdir(host_parent):
                entry = wanted.setdefault(host_parent, _Dir(parent, set()))
                if entry.names is not None:
                    entry.names.add(posixpath.basename(child))
                return
            if parent == "/":
                return
            child, parent = parent, posixpath.dirname(parent)  # missing: watch the nearest that exists

    def _apply(self, wanted: dict[str, _Dir]) -> None:
        from inotify_simple import flags

        mask = 0
        for name in _IN_MASK_NAMES:
            mask |= getattr(flags, name)
        for wd, host in list(self.wds.items()):
            if host not in wanted:
                self._forget(wd, remove=True)
        for host, meaning in wanted.items():
            if host in self.dirs and host in self.wds.values():
                self.dirs[host] = meaning
                continue
            try:
                # Under --root the path is resolved already: a link put there since is not followed out.
                wd = self.inotify.add_watch(host, mask | flags.ONLYDIR | (0 if self.root == "/" else flags.DONT_FOLLOW))
            except OSError:
                continue  # gone since it was resolved: its parent's watch sees it come back
            self.wds[wd] = host
            self.dirs[host] = meaning

    def _forget(self, wd: int, remove: bool) -> None:
        host = self.wds.pop(wd, None)
        if host is not None:
            self.dirs.pop(host, None)
        if remove:
            with contextlib.suppress(OSError):  # the kernel ended it already
                self.inotify.rm_watch(wd)

    def _watch_kubelet(self, pid: int | None) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        if pid is None:
            self.next_scan = time.monotonic() + self.interval
            return
        try:
            self.pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.pending = Change(kubelet=True)  # it ended between the reading and now
        except OSError:
            self.next_scan = time.monotonic() + self.interval  # no pidfd here: the slow scan

    # --- waiting --------------------------------------------------------------------------

    def wait(self, timeout: float) -> Change | None:
        if self.pending is not None:
            found, self.pending = self.pending, None
            return found
        poller = select.poll()
        poller.register(self.inotify.fileno(), select.POLLIN)
        if self.pidfd is not None:
            poller.register(self.pidfd, select.POLLIN)
        elif self.kubelet:
            timeout = max(0.0, min(timeout, self.next_scan - time.monotonic()))
        ready = {fd for fd, _ in poller.poll(timeout * 1000)}
        if self.pidfd is not None and self.pidfd in ready:
            os.close(self.pidfd)
            self.pidfd = None
            return Change(kubelet=True)
        if self.inotify.fileno() in ready:
            return self._read_events()
        if self.pidfd is None and self.kubelet and time.monotonic() >= self.next_scan:
            self.next_scan = time.monotonic() + self.interval
            if self._kubelet_running():
                return Change(kubelet=True)
        return None

    def _kubelet_running(self) -> bool:
        from podaudit.collect.local import find_kubelet_processes
        from podaudit.collect.rootfs import RootFS
        from podaudit.kubelet.process import choose_kubelet

        return choose_kubelet(find_kubelet_processes(RootFS(self.root))) is not None

    def _read_events(self) -> Change | None:
        from inotify_simple import flags

        paths: dict[str, None] = {}
        overflow = False
        relevant = False
        for event in self.inotify.read(timeout=0):
            if event.mask & flags.Q_OVERFLOW:
                overflow = True
                continue
            host = self.wds.get(event.wd)
            if host is None:
                continue
            meaning = self.dirs.get(host)
            if event.mask & flags.IGNORED:
                self._forget(event.wd, remove=False)  # the directory went: re-armed after the reading
                relevant = True
                continue
            if meaning is None:
                continue
            if event.mask & (flags.DELETE_SELF | flags.MOVE_SELF):
                relevant = True
                if len(paths) < MAX_PATHS:
                    paths[meaning.node_path] = None
                continue
            if meaning.names is not None and event.name not in meaning.names:
                continue  # a neighbour of a watched file (kubeadm's admin.conf next to manifests/)
            relevant = True
            if len(paths) < MAX_PATHS:
                paths[posixpath.join(meaning.node_path, event.name) if event.name else meaning.node_path] = None
        if not (relevant or overflow):
            return None
        return Change(paths=tuple(paths), overflow=overflow)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.inotify.close()
