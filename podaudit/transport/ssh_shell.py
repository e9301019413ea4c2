"""Root on a node over SSH: one login, each script fed to ``sh -s`` (root logins) or
``sudo -n sh -s`` (``--sudo``) on its stdin; nothing is installed or written on the node."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podaudit.errors import NodeUnavailable
from podaudit.model import FailureKind, InventoryEntry
from podaudit.transport import MARKER, SshError, SshOptions
from podaudit.transport.limits import stderr_line
from podaudit.transport.ssh import Connection, connect, resolve_target

SUDO_REFUSALS = ("password is required", "a terminal is required", "not in the sudoers", "not allowed to",
                 "may not run sudo", "sudo: command not found", "sudo: not found")


class SshShell:
    """A Shell over one SSH login to ``entry``; a refused sudo says which sudoers line allows it."""

    def __init__(self, entry: InventoryEntry, options: SshOptions, sudo: bool, config: Any = None) -> None:
        self.entry = entry
        self.options = replace(options, user=entry.user or options.user)
        self.sudo = sudo
        self.config = config  # the parsed ssh_config, read once for the whole run
        self.command = "sh -s"
        self.user: str | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> SshShell:
        try:
            target = resolve_target(self.entry.name, self.options, self.config, address=self.entry.address,
                                    port=self.entry.port)
            self._conn = connect(target, self.options, self.config)
        except SshError as exc:
            raise NodeUnavailable(self.entry.name, FailureKind(exc.kind), str(exc)) from exc
        self.user = target.user
        self.command = "sudo -n sh -s" if self.sudo and target.user != "root" else "sh -s"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self, script: bytes) -> bytes:
        assert self._conn is not None, "run() outside the with block"
        try:
            status, out, err = self._conn.run(self.command, script, timeout=self.options.timeout)
        except SshError as exc:
            raise NodeUnavailable(self.entry.name, FailureKind(exc.kind), str(exc)) from exc
        if not out.startswith(MARKER):
            raise _refused(self.entry.name, self.command, self.user, status, err)
        return out


def _refused(name: str, command: str, user: str | None, status: int, err: bytes) -> NodeUnavailable:
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
