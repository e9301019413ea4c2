"""How a script runs as root on a node over SSH, whichever client carries it (paramiko in
``ssh_shell.py``, the system ssh in ``openssh.py``): ``sh -s`` for root logins, ``sudo -n
sh -s`` (``--sudo``) otherwise; and what to say when it did not run."""

from __future__ import annotations

from dataclasses import replace

from podaudit.errors import NodeUnavailable
from podaudit.model import FailureKind, InventoryEntry
from podaudit.transport import SshOptions
from podaudit.transport.limits import stderr_line

SUDO_REFUSALS = ("password is required", "a terminal is required", "not in the sudoers", "not allowed to",
                 "may not run sudo", "sudo: command not found", "sudo: not found")


def entry_options(entry: InventoryEntry, options: SshOptions) -> SshOptions:
    """The run's options with what the inventory says of this host (user, key) put first."""
    return replace(options, user=entry.user or options.user, identity=entry.identity or options.identity)


def root_command(sudo: bool, user: str | None) -> str:
    """The command the script is fed to: a fixed string, never built from inventory text."""
    return "sudo -n sh -s" if sudo and user != "root" else "sh -s"


def refused(name: str, command: str, user: str | None, status: int, err: bytes) -> NodeUnavailable:
    """The script did not run: sudo refused, or no POSIX shell."""
    text = stderr_line(err)
    if command.startswith("sudo") and any(s in text for s in SUDO_REFUSALS):
        who = user or "USER"
        line = f"{who} ALL=(root) NOPASSWD: /bin/sh -s, /usr/bin/sh -s"
        return NodeUnavailable(name, FailureKind.SUDO, (
            f"{name}: sudo -n refused ({text}); podaudit needs to run its read-only script as root: "
            f"allow it with the sudoers line '{line}' (note: this lets {who} run any shell script as root), "
            "or log in as root"))
    why = text or "no output"
    return NodeUnavailable(name, FailureKind.GATHER, f"{name}: the gather script did not run (exit {status}): {why}")
