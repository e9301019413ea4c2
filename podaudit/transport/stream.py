"""A long-running command's stdout as lines, whatever carries it (a paramiko channel, the
system ssh's pipe): one reader thread, each line bounded, read with a timeout.

Used by ``podaudit watch`` over SSH (watch/remote.py): the node-side loop prints short lines
for as long as the session lasts; the client must notice both a line and a silence.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable

MAX_LINE = 256  # the watch script's lines are under 40 bytes; a longer one is cut here
_QUEUED = 4096  # lines waiting for the client; past it the reader waits (the node's pipe fills)
_EOF = b""


class StreamClosed(Exception):
    """The command ended or its connection went: no more lines will come."""


class LineStream:
    """Lines (without their newline) read by a thread from ``read(n)`` (b"" at the end).

    ``close`` ends the command (``stop``) and is safe to call twice; a line longer than
    ``MAX_LINE`` comes as its first ``MAX_LINE`` bytes, the rest dropped.
    """

    def __init__(self, read: Callable[[int], bytes], stop: Callable[[], None]) -> None:
        self._read = read
        self._stop = stop
        self._lines: queue.Queue[bytes] = queue.Queue(_QUEUED)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="podaudit-stream", daemon=True)
        self._thread.start()

    def readline(self, timeout: float) -> bytes | None:
        """The next line, or None after ``timeout`` seconds of silence; StreamClosed at the end."""
        try:
            line = self._lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        if not line:  # the end (lines themselves are never empty)
            self._lines.put(_EOF)  # later calls see the end too
            raise StreamClosed
        return line

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            with contextlib.suppress(OSError):  # already gone
                self._stop()

    def _pump(self) -> None:
        pending = b""
        try:
            while not self._closed.is_set():
                chunk = self._read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._put(line[:MAX_LINE] or b" ")
                if len(pending) > MAX_LINE:  # a line with no end in sight: keep its start only
                    self._put(pending[:MAX_LINE])
                    pending = b""
        except (OSError, EOFError, ValueError):
            pass  # the connection went: the same as the end
        finally:
            self._put(_EOF, final=True)

    def _put(self, line: bytes, final: bool = False) -> None:
        while not self._closed.is_set() or final:
            try:
                self._lines.put(line, timeout=0.5)
                return
            except queue.Full:
                if final:
                    return  # nobody reads any more
