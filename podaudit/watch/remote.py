"""The change feed of a node reached over SSH: one login (remote_session.py), one
long-running node-side loop on a channel of it (podaudit/collect/gather/watch.sh), its lines
turned into ``Change``s; reconnecting with backoff when the session drops or goes silent.

The node-side loop uses ``inotifywait -m`` (inotify-tools) when the node has it, as the
kubelet's own file source watches its static pod path with inotify (inotify(7);
pkg/kubelet/config/file_linux.go), else a stat loop at --interval (one ``stat`` call for all
paths and the entries of the watched directories per round). Its lines never carry a name
the node controls: a path is its index in the list sent, mapped back here to the exact path.
Any burst folds into a set of those indices, so memory is bounded by the watch list.
"""

from __future__ import annotations

import functools
import posixpath
import random
import re
import threading
import time
from collections.abc import Sequence
from importlib import resources

from podaudit.collect.over_ssh import SshNode
from podaudit.collect.source import NodeSource
from podaudit.errors import NodeUnavailable
from podaudit.shell import quote, speakable
from podaudit.transport import MARKER, LineStreamLike, StreamingShell
from podaudit.transport.limits import stderr_line
from podaudit.transport.stream import StreamClosed
from podaudit.watch.feed import Change
from podaudit.watch.remote_session import Session, persistent_reader, release, session_for

__all__ = ["RemoteFeed", "feed_list", "persistent_reader", "remote_feed", "watch_script"]

TICK = 5.0  # the node-side loop says "tick" this often
SILENCE = 3 * TICK  # no line for this long: the session is taken as dead
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # seconds between logins while the node is lost
HELLO = MARKER + b"watch 1 "


@functools.cache
def _template() -> str:
    return resources.files("podaudit.collect").joinpath("gather").joinpath("watch.sh").read_text("ascii")


def feed_list(paths: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """What the node-side loop is sent: absolute paths a shell can be given, each once; first
    those whose directory is not on the list, then (from the index returned) those whose
    directory is, which the loop watches only when they are directories themselves: a static
    pod directory of 10,000 manifests is one watch, not 10,001."""
    wanted = [p for p in dict.fromkeys(paths) if p.startswith("/") and speakable(p)]
    listed = set(wanted)
    outer = [p for p in wanted if posixpath.dirname(p.rstrip("/")) not in listed]
    inner = [p for p in wanted if posixpath.dirname(p.rstrip("/")) in listed and p != "/"]
    return (*outer, *inner), len(outer)


def watch_script(paths: Sequence[str], kubelet_pid: int | None, interval: float, outer: int | None = None) -> bytes:
    """The node-side loop for ``paths`` (as ``feed_list`` gives them: ``paths[outer:]`` are in a
    listed directory), every path one quoted word (podaudit/shell.py), the numbers checked."""
    if not 0.05 <= interval <= 3600:
        raise ValueError(f"interval must be 0.05 to 3600 seconds, not {interval!r}")
    outer = len(paths) if outer is None else outer
    pid = kubelet_pid if isinstance(kubelet_pid, int) and not isinstance(kubelet_pid, bool) and kubelet_pid > 0 else 0
    values = {
        "INTERVAL": f"{interval:.3f}", "TICKS": str(max(1, round(TICK / interval))), "PID": str(pid),
        "CASES": "\n".join(f"    {quote(p)} | {quote(p.rstrip('/') + '/')}) i={i} ;;" for i, p in enumerate(paths)),
        "PATHS": " ".join([*(quote(p) for p in paths[:outer]), "-", *(quote(p) for p in paths[outer:])]),
    }
    # One pass over the template: a path that spells __PATHS__ is not filled in again.
    script = re.sub(r"__([A-Z]+)__", lambda found: values[found.group(1)], _template())
    return script.encode("utf-8", "surrogateescape")


class RemoteFeed:
    """A ChangeFeed over SSH (watch/feed.py). One worker thread keeps the node-side loop
    running with the last list ``watch`` was given; ``wait`` hands out what it saw."""

    def __init__(self, source: SshNode, session: Session, interval: float) -> None:
        self.source, self.session, self.interval = source, session, interval
        self.mode: str | None = None  # "inotify" or "stat", as the node-side loop said
        self._cond = threading.Condition()
        self._wanted: tuple[tuple[str, ...], int, int | None] | None = None
        self._restart = False  # the loop must start again (new list, or a watch was lost)
        self._closed = False
        self._lost = False
        self._events: list[Change] = []  # lost/back, in order, before any merged change
        self._seen: set[str] = set()
        self._dirty = False  # something changed that is not one known path
        self._kubelet = self._overflow = False
        self._asked = self._running = 0  # generations of the list: asked by watch, running on the node
        self._worker = threading.Thread(target=self._run, name=f"podaudit-watch-{source.name}", daemon=True)
        self._worker.start()

    # -- the ChangeFeed protocol ------------------------------------------------------------

    def watch(self, paths: Sequence[str], kubelet_pid: int | None) -> None:
        wanted = (*feed_list(paths), kubelet_pid)
        with self._cond:
            if wanted != self._wanted or self._restart:
                self._wanted, self._restart = wanted, True
                self._asked += 1
                self._cond.notify_all()

    def settled(self, timeout: float) -> bool:
        """Wait until the node-side loop runs with the last list ``watch`` gave (tests, bench)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._running == self._asked or self._closed, timeout)

    def wait(self, timeout: float) -> Change | None:
        end = time.monotonic() + timeout
        with self._cond:
            while not (self._events or self._pending()):
                left = end - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                self._cond.wait(left)
            if self._events:
                return self._events.pop(0)
            change = Change(paths=tuple(sorted(self._seen)), kubelet=self._kubelet, overflow=self._overflow)
            self._seen, self._dirty, self._kubelet, self._overflow = set(), False, False, False
            return change

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=5)
        release(self.source)

    # -- the worker ---------------------------------------------------------------------------

    def _pending(self) -> bool:
        return bool(self._seen or self._dirty or self._kubelet or self._overflow)

    def _run(self) -> None:
        attempt = 0
        while True:
            with self._cond:
                while self._wanted is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                assert self._wanted is not None
                (paths, outer, pid), self._restart = self._wanted, False
                generation = self._asked
            started = time.monotonic()
            why = self._stream(list(paths), outer, pid, generation)
            if why is None:
                attempt = 0
                # A new list: start again at once; a loop that ended by itself in under a
                # second (inotifywait out of watches, say) waits one, not to spin on the node.
                if time.monotonic() - started < 1 and self._sleep(1.0):
                    return
                continue
            self._lose(why)
            if self._sleep(_backoff(attempt)):
                return
            attempt += 1

    def _stream(self, paths: list[str], outer: int, pid: int | None, generation: int) -> str | None:
        """Run the node-side loop until the list changes (None) or the session fails (why)."""
        try:
            shell = self.session.shell()
        except NodeUnavailable as exc:
            return exc.message
        try:
            stream = shell.stream(watch_script(paths, pid, self.interval, outer))
        except NodeUnavailable as exc:
            self.session.drop(shell)
            return exc.message
        try:
            hello = stream.readline(max(self.source.options.timeout, 5.0))
            if hello is None or not hello.startswith(HELLO):
                self.session.drop(shell)
                said = stderr_line(hello or b"no answer", 120)
                return f"{self.source.name}: the watch loop did not start on the node ({said}); check sh and sudo"
            self.mode = hello[len(HELLO):].decode("ascii", "replace")
            self._started(generation)
            return self._follow(stream, paths, shell)
        finally:
            stream.close()

    def _follow(self, stream: LineStreamLike, paths: list[str], shell: StreamingShell) -> str | None:
        heard = time.monotonic()
        while True:
            with self._cond:
                if self._closed or self._restart:
                    return None
            try:
                # A second at a time: a new path list or a close is noticed within it, and
                # an idle fleet of 100 nodes wakes 100 times a second, not 400.
                line = stream.readline(1.0)
            except StreamClosed:
                self.session.drop(shell)
                return f"{self.source.name}: SSH session ended; reconnecting"
            if line is not None:
                heard = time.monotonic()
                self._take(line, paths)
            elif time.monotonic() - heard > SILENCE:
                self.session.drop(shell)
                return f"{self.source.name}: no word from the node for {SILENCE:g}s; reconnecting"

    def _take(self, line: bytes, paths: list[str]) -> None:
        """Fold one line of the node-side loop into what ``wait`` will hand out."""
        verb, _, rest = line.partition(b" ")
        if verb == b"tick":
            return
        with self._cond:
            if verb in (b"change", b"gone"):
                index = int(rest) if rest.isdigit() else -1
                if 0 <= index < len(paths):
                    self._seen.add(paths[index])
                else:
                    self._dirty = True
                self._restart = self._restart or verb == b"gone"  # that inotify watch is gone
            elif verb == b"kubelet":
                self._kubelet = True
            else:  # "overflow", or a line it never prints: read everything, watch afresh
                self._overflow, self._restart = True, True
            self._cond.notify_all()

    def _lose(self, why: str) -> None:
        with self._cond:
            if not self._lost:
                self._lost = True
                self._events.append(Change(lost=stderr_line(why.encode("utf-8", "replace"), 300)))
                self._cond.notify_all()

    def _started(self, generation: int) -> None:
        """The node-side loop runs: after a loss, say the node is back (the loop reads it
        all again); after a new list, ask for one more reading, since what changed between the
        last reading and this watch was seen by no one."""
        with self._cond:
            if self._lost:
                self._lost = False
                self._events.append(Change(back=True))
            elif self._running:
                self._dirty = True
            self._running = generation
            self._cond.notify_all()

    def _sleep(self, seconds: float) -> bool:
        """Wait (True: closed meanwhile)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed, seconds)
            return self._closed


def _backoff(attempt: int) -> float:
    """1, 2, 4, ... 30 s, each with +-20 % jitter (many nodes lost at once do not come back in step)."""
    base = BACKOFF[min(attempt, len(BACKOFF) - 1)]
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def remote_feed(source: NodeSource, interval: float) -> RemoteFeed:
    """The feed of a node reached over SSH, sharing its login with ``persistent_reader``."""
    if not isinstance(source, SshNode):
        raise TypeError(f"{source.name}: only nodes reached over SSH have a remote feed")
    return RemoteFeed(source, session_for(source), interval)
