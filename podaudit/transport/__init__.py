"""Ways to reach a node: one ``Shell`` protocol, run as root over SSH (``ssh_shell.py``),
through a kubectl debug pod (``debug.py``) or here under a root directory (``local.py``).

This package module holds only the plain types (the protocol, the marker, options, targets,
the error), so the use cases and collectors can name them without importing paramiko;
``podaudit.transport.ssh`` imports paramiko, and is imported only when a node is reached
over SSH.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

# What every podaudit script (the gather script, the change scripts) prints first on the node:
# output without it means the script did not run (sudo refused, no POSIX sh).
MARKER = b"PODAUDIT-GATHER "


class Shell(Protocol):
    """Scripts run as root on one node, one ``with`` per node and command:
    ``with source.shell() as shell: shell.run(script)``."""

    def __enter__(self) -> Shell:
        """Reach the node (an SSH login; nothing yet for a debug pod or a local shell)."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Let go of the node (close the login)."""
        ...

    def run(self, script: bytes) -> bytes:
        """Feed ``script`` to ``sh -s`` as root on the node; its stdout, which starts with
        ``MARKER``. Raises podaudit.errors.NodeUnavailable."""
        ...


class LineStreamLike(Protocol):
    """A long-running script's stdout, line by line (transport/stream.py's LineStream)."""

    def readline(self, timeout: float) -> bytes | None:
        """The next line (no newline), None after ``timeout`` s of silence; raises
        transport.stream.StreamClosed when the script or its session ended."""
        ...

    def close(self) -> None:
        """End the script: its stdin closes, and the node-side script exits with it."""
        ...


class StreamingShell(Shell, Protocol):
    """A Shell that can also keep a script running over the open login (``podaudit watch``):
    the SSH shells; a separate protocol so every other Shell stays as it is."""

    def stream(self, script: bytes) -> LineStreamLike:
        """Feed ``script`` to ``sh -s`` as root (``sudo -n`` as ``run`` does) on a new channel of
        the same login, leave its stdin open, and return its stdout as lines. Raises
        podaudit.errors.NodeUnavailable when the login is gone."""
        ...

# "gather": the node answered, but not with something podaudit reads (more than a node may send).
ErrorKind = Literal["unreachable", "timeout", "host-key-unknown", "host-key-changed", "auth", "config", "gather"]
Strictness = Literal["yes", "accept-new"]


class SshError(Exception):
    """A one-line, actionable failure naming the node; ``kind`` says which class of failure."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


@dataclass(frozen=True)
class SshOptions:
    """podaudit's SSH flags. Where one is set it beats the user's ssh_config."""

    ssh_config: str | None = None  # --ssh-config FILE; default ~/.ssh/config then /etc/ssh/ssh_config
    known_hosts: str | None = None  # --known-hosts FILE: the only known_hosts file consulted and written
    user: str | None = None  # --user, for the nodes (jump hosts keep their own User)
    identity: str | None = None  # --identity FILE, tried first, on nodes and jump hosts
    accept_new_host_keys: bool = False  # StrictHostKeyChecking=accept-new: record unknown keys, refuse changed ones
    timeout: float = 10.0  # per host: TCP connect + SSH handshake + authentication; and per command
    client: Literal["paramiko", "openssh"] = "paramiko"  # --ssh-client: openssh runs the system ssh (openssh.py)
    control_dir: str | None = None  # openssh: the run's private ControlPath folder (None: made when first needed)


@dataclass(frozen=True)
class SshTarget:
    """Everything needed to reach one host, resolved from ssh_config and the options."""

    alias: str  # what the user named (inventory entry / node name); Host patterns match this
    hostname: str  # where to connect: the inventory address, else ssh_config HostName, else the alias
    port: int
    user: str | None  # None: the local user name, as ssh does
    identity_files: tuple[str, ...]  # private keys to offer, in order (missing ones are reported, not fatal)
    proxy_jump: tuple[str, ...]  # jump hosts in order, each "[user@]host[:port]" and resolved through ssh_config
    proxy_command: str | None  # already %-expanded; run with /bin/sh, its stdin/stdout is the connection
    known_hosts_files: tuple[str, ...]  # the user's files; new keys are recorded in the first one
    identities_only: bool  # only identity_files (agent keys only when they match one of them)
    strict: Strictness  # "yes", or "accept-new"; checking is never skipped (StrictHostKeyChecking=no is "yes")
    global_known_hosts_files: tuple[str, ...] = ()  # read-only (GlobalKnownHostsFile)
    host_key_alias: str | None = None  # HostKeyAlias: the known_hosts name used instead of [hostname]:port
    hash_known_hosts: bool = False  # HashKnownHosts: record new keys under a hashed name
