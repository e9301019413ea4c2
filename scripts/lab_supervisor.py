"""The lab's supervisor and the /proc helpers it and scripts/lab share.

The supervisor is one child subreaper: it starts each node's command (and the tarpit) as the
leader of its own session, reaps every orphan that comes back to it, and kills them all on
SIGTERM, SIGINT, SIGHUP or when the --owner process is gone. Each child also gets SIGKILL
when the supervisor dies, however it dies (PR_SET_PDEATHSIG). Stdlib only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
from pathlib import Path

import lab_scenarios as sc

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
OWNER_POLL = 0.2  # seconds between checks that the --owner process still runs


# ---------------------------------------------------------------- processes


def proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgrp, starttime) of a live pid from /proc/<pid>/stat, None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def alive(pid: int, start: int | None = None) -> bool:
    """True while pid runs (a zombie is dead) and, given start, is still the same process."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X") and (start is None or st[3] == start)


def cmdline(pid: int) -> list[str]:
    """A process's argv ([] if gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [os.fsdecode(a) for a in raw.split(b"\0")[:-1]]


def children_map() -> dict[int, list[int]]:
    """ppid -> pids of every live process."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        st = proc_stat(int(entry)) if entry.isdigit() else None
        if st:
            kids.setdefault(st[1], []).append(int(entry))
    return kids


def descendants(pid: int, kids: dict[int, list[int]]) -> list[int]:
    """Every descendant of pid, breadth first, but not sshd's children (sessions come and go)."""
    out, todo = [], list(kids.get(pid, []))
    while todo:
        child = todo.pop(0)
        out.append(child)
        if comm(child) != "sshd":
            todo.extend(kids.get(child, []))
    return out


def comm(pid: int) -> str:
    """A process's name ("" if gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- the supervisor


class Stop(Exception):
    """Raised by the signal handler to leave the reaping loop."""


def supervise(lab: Path) -> int:
    """Start the plan's commands in their own process groups, reap, kill them all on SIGTERM
    or when the plan's owner process is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphaned node inits come back to us

    def stop(signum: int, frame: object) -> None:
        raise Stop

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    plan = json.loads((lab / "plan.json").read_text())
    commands: dict[str, list[str]] = plan["commands"]
    started: dict[str, list[int]] = {"@supervisor": [os.getpid(), start_time(os.getpid())]}
    children: list[int] = []
    try:
        owner = watch(plan.get("owner"))
        for name, argv in commands.items():
            pid = spawn(argv, lab / "tarpit.log" if name.startswith("@") else lab / "nodes" / name / "node.log", libc)
            children.append(pid)
            started[name] = [pid, start_time(pid)]
        sc.write_text(lab / "pids.json", json.dumps(started))
        reap_until_stopped(owner)
    except (Stop, ChildProcessError):
        pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    for pid in children:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)
    try:
        while True:
            os.waitpid(-1, 0)
    except ChildProcessError:
        return 0


def watch(owner: int | None) -> int | None:
    """A pidfd that becomes readable when the owner process ends (None: no owner).

    Raises Stop when the owner is already gone: a lab nobody will take down never starts."""
    if owner is None:
        return None
    try:
        return os.pidfd_open(owner)
    except ProcessLookupError:
        print(f"the owner process {owner} is gone; not starting the lab", file=sys.stderr)
        raise Stop from None


def reap_until_stopped(owner: int | None) -> None:
    """Reap children until a signal raises Stop, the owner ends, or no child is left."""
    if owner is None:
        while True:
            os.waitpid(-1, 0)  # ChildProcessError once none is left
    while True:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
        if select.select([owner], [], [], OWNER_POLL)[0]:
            raise Stop


def spawn(argv: list[str], log_path: Path, libc: ctypes.CDLL) -> int:
    """Fork and exec argv as the leader of a new session, output to log_path; the child gets
    SIGKILL when the supervisor dies, however it dies."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child: no Python code beyond this point but exec
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the supervisor died before the prctl
                os._exit(1)
            os.setsid()
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.closerange(3, 1024)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            os.execv(argv[0], argv)  # noqa: S606 - argv is a list, no shell
        finally:
            os._exit(127)
    os.close(fd)
    return pid


def start_time(pid: int) -> int:
    """The process's start time in clock ticks after boot (tells a reused pid apart)."""
    st = proc_stat(pid)
    return st[3] if st else 0
