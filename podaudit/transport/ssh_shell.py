"""Root on a node over SSH: one login, each script fed to ``sh -s`` (root logins) or
``sudo -n sh -s`` (``--sudo``) on its stdin; nothing is installed or written on the node."""

from __future__ import annotations

import contextlib
from typing import Any

from podaudit.errors import NodeUnavailable
from podaudit.model import FailureKind, InventoryEntry
from podaudit.transport import MARKER, SshError, SshOptions
from podaudit.transport.root import entry_options, refused, root_command
from podaudit.transport.ssh import Connection, connect, resolve_target
from podaudit.transport.stream import LineStream


class SshShell:
    """A Shell over one SSH login to ``entry``; a refused sudo says which sudoers line allows it."""

    def __init__(self, entry: InventoryEntry, options: SshOptions, sudo: bool, config: Any = None) -> None:
        self.entry = entry
        self.options = entry_options(entry, options)
        self.sudo = sudo if entry.sudo is None else entry.sudo  # an inventory's ansible_become
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
        self.command = root_command(self.sudo, target.user)
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
            raise refused(self.entry.name, self.command, self.user, status, err)
        return out

    def stream(self, script: bytes) -> LineStream:
        """The script on a new channel of this login, its stdin left open (StreamingShell)."""
        import threading

        import paramiko

        assert self._conn is not None, "stream() outside the with block"
        try:  # the login's own transport: a channel more, not a login more
            channel = self._conn._transport.open_session(timeout=self.options.timeout)
            channel.exec_command(self.command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NodeUnavailable(self.entry.name, FailureKind.UNREACHABLE,
                                  f"{self.entry.name}: SSH connection lost ({exc}); connect again") from exc
        # Written from a thread: a script bigger than the channel's window waits for sh to read.
        threading.Thread(target=_send, args=(channel, script), daemon=True).start()
        return LineStream(channel.recv, channel.close)


def _send(channel: Any, script: bytes) -> None:
    with contextlib.suppress(OSError):  # the session went: the stream says so
        channel.sendall(script)
