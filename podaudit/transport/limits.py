"""How much one node may send back, on every transport (SSH and kubectl debug's log).

A node is hostile input: one answering ``cat /dev/zero`` instead of running the gather script
must cost that node, not the machine's memory. The gather script sends each file whole below
``MAX_FILE_BYTES`` (10 MiB; larger ones as a "big" record with no data), and one pass reads the
kubelet's config, kubeconfig, units, its manifests and a few /proc files: a real node answers
with a few hundred KiB. ``MAX_NODE_STDOUT`` allows six files at the per-file cap and the rest
besides, far beyond any real node, while 32 nodes at once (the default concurrency) still stay
within 2 GiB. stderr carries a few lines (sudo's refusal, a shell's error), read for the
one-line message; its cap is twice paramiko's channel window (2 MiB), so a command that fills
the window with stderr is still read to its end.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_NODE_STDOUT = 64 << 20
MAX_NODE_STDERR = 4 << 20
_READ_SIZE = 65536


def too_much(where: str, stream: str, limit: int) -> str:
    """The one line for a node that passed a cap; ``stream`` says where ("on stdout")."""
    return (f"{where}: the node sent more than {limit >> 20} MiB {stream} (a gather answer is a few hundred "
            "KiB); stopped reading; not audited: check what its login shell or forced command runs")


def stderr_line(err: bytes, limit: int = 300) -> str:
    """What a node's shell said on stderr, as one line for a message (whitespace folded, other
    control characters escaped so they cannot drive a terminal, cut)."""
    text = " ".join(err.decode("utf-8", "replace").split())
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)[:limit]


def base64_size(size: int) -> int:
    """Bytes of ``size`` bytes in base64 as ``base64`` prints it: 4 per 3, lines of 76 columns."""
    encoded = 4 * -(-size // 3)
    return encoded + -(-encoded // 76)


class Drain(threading.Thread):
    """Reads one stream to EOF, keeping at most ``limit`` bytes: past it, ``full`` is set,
    ``on_full`` runs (close the channel, kill the process: the sender must stop) and reading
    stops, so memory stays bounded whatever the other end sends."""

    def __init__(self, recv: Callable[[int], bytes], limit: int, on_full: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._recv = recv
        self._limit = limit
        self._on_full = on_full
        self._chunks: list[bytes] = []
        self._size = 0
        self.full = False

    def run(self) -> None:
        while chunk := self._recv(_READ_SIZE):
            self._size += len(chunk)
            if self._size > self._limit:
                self.full = True
                self._chunks.clear()
                self._on_full()
                return
            self._chunks.append(chunk)

    def data(self) -> bytes:
        return b"".join(self._chunks)


@dataclass(frozen=True)
class Captured:
    """What a local process (kubectl) said, read within caps and a time limit."""

    status: int | None  # None: killed, over a cap or past the time limit
    out: bytes
    err: bytes
    full: str | None  # "stdout" or "stderr" when that stream passed its cap
    timed_out: bool


def run_capped(argv: list[str], timeout: float, out_limit: int, err_limit: int = MAX_NODE_STDERR,
               stdin: bytes | None = None) -> Captured:
    """Run ``argv`` (no shell, stdin closed or fed ``stdin``, its own process group), reading
    at most the caps; a stream past its cap, or the time limit, kills the whole group. Raises
    OSError when it cannot start."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    assert proc.stdout is not None and proc.stderr is not None
    if stdin is not None:
        threading.Thread(target=_feed, args=(proc, stdin), daemon=True).start()

    def stop() -> None:
        kill_group(proc, reap=False)  # the drains still hold the pipes: reaped below

    out = Drain(functools.partial(os.read, proc.stdout.fileno()), out_limit, stop)
    err = Drain(functools.partial(os.read, proc.stderr.fileno()), err_limit, stop)
    end = time.monotonic() + timeout
    try:
        for drain in (out, err):
            drain.start()
        for drain in (out, err):
            drain.join(max(0.0, end - time.monotonic()))
        timed_out = out.is_alive() or err.is_alive()
        if timed_out:
            stop()
            for drain in (out, err):
                drain.join(2)
    except BaseException:  # Ctrl-C: kubectl runs in its own session, so it did not get the SIGINT
        stop()
        raise
    finally:
        status = proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    full = "stdout" if out.full else "stderr" if err.full else None
    killed = timed_out or full is not None
    return Captured(None if killed else status, out.data(), err.data(), full, timed_out)


def kill_group(proc: subprocess.Popen[bytes], reap: bool = True) -> None:
    """SIGKILL a process started in its own session (kubectl and any credential plugin it started). With
    ``reap`` also collect it; not from another thread than the one reading its pipes."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    if not reap:
        return
    try:
        proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:  # a grandchild in its own session still holds the pipes
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write a script to the process's stdin and close it (a process that stops reading early,
    or is killed, just ends the write)."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except OSError:
        pass
