"""A ProxyCommand run as ssh does: ``sh -c 'exec COMMAND'`` (sshconnect.c
ssh_proxy_connect), its stdin and stdout one end of a socketpair. The command arrives
already %-expanded by ``sshconfig``, where every value was checked and quoted.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
from typing import IO

from podaudit.transport import SshError


class ProxyCommandSocket:
    """A ProxyCommand run as ssh does (``sh -c 'exec …'``), its stdin/stdout one end of a
    socketpair. paramiko.ProxyCommand is not used: it skips the shell, spins on a dead
    command's EOF and lets unread stderr block the command."""

    def __init__(self, command: str, label: str) -> None:
        self.socket, theirs = socket.socketpair()
        # Kept for the proxy's lifetime (closed in close()), read when the handshake fails.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                ["/bin/sh", "-c", f"exec {command}"], stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=self._stderr
            )
        except OSError as exc:
            self.socket.close()
            self._stderr.close()
            raise SshError("config", f"{label}: cannot run ProxyCommand {command!r} ({exc.strerror})") from exc
        finally:
            theirs.close()  # the child has its copy; ours would keep the proxy's EOF from arriving

    def failure(self, exc: SshError, label: str) -> SshError:
        """The handshake failed: when the command died, its exit status and stderr say why."""
        try:
            status = self._process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return exc
        self._stderr.seek(0)
        said = " ".join(self._stderr.read()[-300:].decode("utf-8", "replace").split())
        return SshError(
            "unreachable", f"{label}: ProxyCommand exited with status {status}: {said or 'no output'}; check it"
        )

    def close(self) -> None:
        self.socket.close()  # EOF on its stdin: a well-behaved proxy exits by itself
        try:
            self._process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stderr.close()
