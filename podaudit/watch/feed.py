"""How the watch loop learns that one node may have changed: a ``ChangeFeed`` per node.

A feed only says *that* something changed (and what, when it knows); the loop then reads the
node again (the truth is always a fresh reading, resolved as ``podaudit node`` resolves it)
and tells the feed the paths to watch from then on, since they may have moved.

- ``watch/local.py``: inotify on this machine (or under --root), pidfd for the kubelet process.
- ``watch/remote.py``: one SSH session per node running one long remote loop (inotifywait, else
  a stat loop at --interval), reconnecting with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Change:
    """What a feed saw. Several changes close together are merged by the loop (debounce)."""

    paths: tuple[str, ...] = ()  # the node's own paths that changed, when known
    kubelet: bool = False  # the kubelet process ended, started or changed its argv
    lost: str | None = None  # the feed lost the node (one line: why); it keeps trying
    back: bool = False  # the feed reached the node again after ``lost``
    overflow: bool = False  # the kernel's (or the remote loop's) queue overflowed: read everything


class ChangeFeed(Protocol):
    def watch(self, paths: Sequence[str], kubelet_pid: int | None) -> None:
        """Watch these paths of the node (files and directories; a missing one is watched
        through its nearest existing parent) and this kubelet process, from now on."""
        ...

    def wait(self, timeout: float) -> Change | None:
        """The next change, or None when ``timeout`` seconds pass without one."""
        ...

    def close(self) -> None:
        """Stop watching; free the inotify descriptor or end the remote loop and its session."""
        ...
