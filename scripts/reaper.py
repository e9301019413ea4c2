#!/usr/bin/env python3
"""Run a command and fail if any process it started outlives it.

    scripts/reaper.py COMMAND [ARG...]

The reaper makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so every process
the command leaves behind, however deep and in whatever session or process group, is
reparented to it instead of to PID 1. When the command exits, each process still running
below the reaper is printed (pid, argv), killed, and the reaper exits 1 if the command itself
succeeded (its own exit code otherwise). SIGTERM and SIGHUP are passed on to the command;
SIGINT (Ctrl-C) reaches it from the terminal, so the reaper only outlasts it.
Linux only, stdlib only. scripts/test runs pytest under it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
KILL_WAIT = 5.0  # seconds for killed leftovers to be gone


def stat_fields(pid: int) -> list[str] | None:
    """The fields after the command name in /proc/<pid>/stat (state first), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children_map() -> dict[int, list[int]]:
    """ppid -> pids of every process that runs (zombies left out)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        fields = stat_fields(int(entry)) if entry.isdigit() else None
        if fields and fields[0] not in ("Z", "X"):
            kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def descendants(pid: int, kids: dict[int, list[int]] | None = None) -> list[int]:
    """Every running descendant of pid, parents before children."""
    kids = children_map() if kids is None else kids
    found, todo = [], list(kids.get(pid, []))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo.extend(kids.get(child, []))
    return found


def cmdline(pid: int) -> list[str] | None:
    """A process's argv, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [os.fsdecode(a) for a in raw.split(b"\0")[:-1]]


def describe(pid: int) -> str:
    """'pid argv' of a process, for a report."""
    argv = cmdline(pid)
    return f"{pid} {shlex.join(argv)}" if argv is not None else f"{pid} (gone)"


def kill_all(pids: list[int]) -> None:
    """SIGKILL each pid (children of a PID namespace's init die with it)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def reap_zombies() -> None:
    """Collect every child that has exited, without waiting."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def run(argv: list[str]) -> int:
    """Start argv, reap everything until it exits; its exit code (128 + signal if killed)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)  # noqa: S606 - argv is a list, no shell
        finally:
            os._exit(127)

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal sends it to the command too
    while True:
        done, status = os.waitpid(-1, 0)  # orphans come here as well: reap them as they end
        if done == pid:
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"reaper: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 2
    code = run(argv)
    reap_zombies()
    left = descendants(os.getpid())
    if not left:
        return code
    print(f"reaper: {len(left)} process(es) outlived {shlex.join(argv)}; killing them:", file=sys.stderr)
    for pid in left:
        print(f"reaper:   {describe(pid)}", file=sys.stderr)
    kill_all(left)
    deadline = time.monotonic() + KILL_WAIT
    while descendants(os.getpid()) and time.monotonic() < deadline:
        reap_zombies()
        time.sleep(0.05)
    reap_zombies()
    return code or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
