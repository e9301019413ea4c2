"""Run commands on nodes over SSH, configured the way the user's own ``ssh`` is.

``resolve_target`` reads ssh_config (see ``sshconfig``), ``connect`` opens one authenticated
connection, through ProxyJump hops or a ProxyCommand when configured, checking every host's
key against known_hosts (see ``hostkeys``), and ``Connection.run`` runs a command.

paramiko is driven at the Transport level rather than through SSHClient: that is what lets
us check the host key before anything but the key exchange is sent, keep one deadline per
host across TCP connect, banner, key exchange and authentication, and say which keys were
tried when authentication fails. Every failure surfaces as one ``SshError`` line.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import paramiko

from podaudit.transport import ErrorKind, SshError, SshOptions, SshTarget
from podaudit.transport.files import load_identity, read_ssh_file
from podaudit.transport.hostindex import known_hosts
from podaudit.transport.hostkeys import host_key_name, prefer_known_key_types, verify_host_key
from podaudit.transport.limits import MAX_NODE_STDERR, MAX_NODE_STDOUT, Drain, too_much
from podaudit.transport.proxy import ProxyCommandSocket
from podaudit.transport.sshconfig import (
    SSHConfigLike,
    load_ssh_config,
    plan_route,
    resolve_target,
)

__all__ = [
    "Connection",
    "SSHConfigLike",
    "SshError",
    "SshOptions",
    "SshTarget",
    "connect",
    "load_ssh_config",
    "resolve_target",
]

# paramiko logs each failed handshake as an ERROR traceback from its own thread; we report
# the same failure as one SshError line, so its log stays out of the user's terminal.
# Set propagate back to True to debug a connection.
_PARAMIKO_LOG = "podaudit.transport.paramiko"
logging.getLogger(_PARAMIKO_LOG).addHandler(logging.NullHandler())
logging.getLogger(_PARAMIKO_LOG).propagate = False

_POLL = 0.05  # how often a wait re-checks that the transport is still alive
_AGENT_KEY = "ssh-agent key"


class _Clock:
    """One deadline shared by the steps of a connection or a command."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.end = time.monotonic() + limit

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


class Connection:
    """One authenticated SSH connection to a node (with its jump hosts). Thread-safe: several
    commands may run at once, each on its own channel."""

    def __init__(self, target: SshTarget, transport: Any, cleanup: contextlib.ExitStack, timeout: float) -> None:
        self.target = target
        self._transport = transport
        self._cleanup = cleanup
        self._timeout = timeout

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the node's transport, then the jump hosts' and any ProxyCommand."""
        self._cleanup.close()

    def run(self, command: str, stdin: bytes = b"", timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """(exit status, stdout, stderr) of ``command``; stdin is written, then EOF. The exit
        status is -1 when the command died without one (killed by a signal)."""
        clock = _Clock(self._timeout if timeout is None else timeout)
        channel = self._open_session(clock)
        try:
            channel.exec_command(command)
            return self._collect(channel, stdin, clock, command)
        except paramiko.SSHException as exc:
            raise self._lost(exc) from exc
        finally:
            channel.close()

    def _open_session(self, clock: _Clock) -> Any:
        try:
            return self._transport.open_session(timeout=clock.left())
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise self._lost(exc) from exc

    def _collect(self, channel: Any, stdin: bytes, clock: _Clock, command: str) -> tuple[int, bytes, bytes]:
        # stdout, stderr and stdin each get a thread: a command that fills one pipe while we wait
        # on another (or write its stdin) must not deadlock. A stream past its cap closes the channel.
        out = Drain(channel.recv, MAX_NODE_STDOUT, channel.close)
        err = Drain(channel.recv_stderr, MAX_NODE_STDERR, channel.close)
        feed = threading.Thread(target=_feed, args=(channel, stdin), daemon=True)
        for thread in (out, err, feed):
            thread.start()
        for thread in (out, err):
            thread.join(clock.left())
        for drain, stream, limit in ((out, "on stdout", MAX_NODE_STDOUT), (err, "on stderr", MAX_NODE_STDERR)):
            if drain.full:
                raise SshError("gather", too_much(_where(self.target), stream, limit))
        if out.is_alive() or err.is_alive() or not channel.status_event.wait(clock.left()):
            raise SshError(
                "timeout",
                f"{_where(self.target)}: command did not finish within {clock.limit:g}s: {_short(command)}; "
                "raise the timeout or check the node's load",
            )
        status = int(channel.recv_exit_status())
        if status == -1 and not self._transport.is_active():
            raise self._lost(None)
        return status, out.data(), err.data()

    def _lost(self, exc: BaseException | None) -> SshError:
        detail = f" ({exc})" if exc else ""
        return SshError("unreachable", f"{_where(self.target)}: SSH connection lost{detail}; connect again")


def _feed(channel: Any, data: bytes) -> None:
    try:
        if data:
            channel.sendall(data)
        channel.shutdown_write()
    except OSError:
        pass  # the command exited without reading all its input: like EPIPE in a shell pipeline


def connect(target: SshTarget, opts: SshOptions, config: SSHConfigLike | None = None) -> Connection:
    """Connect and authenticate to ``target``, through its jump hosts or ProxyCommand.
    ``config`` resolves the jump hosts (default: load_ssh_config(opts.ssh_config))."""
    route = plan_route(target, opts, config)
    cleanup = contextlib.ExitStack()
    agent = _Agent()
    try:
        transport, previous = None, None
        for hop in route:
            label = _where(target) if hop is route[-1] else f"{_where(target)}: jump host {_where(hop)}"
            transport = _connect_hop(hop, (transport, previous), opts, agent, cleanup, label)
            previous = hop
    except BaseException:
        cleanup.close()
        raise
    finally:
        agent.close()
    return Connection(target, transport, cleanup, opts.timeout)


def _connect_hop(
    hop: SshTarget,
    via: tuple[Any, SshTarget | None],
    opts: SshOptions,
    agent: _Agent,
    cleanup: contextlib.ExitStack,
    label: str,
) -> Any:
    """TCP (or a channel through ``via``, the previous hop's transport, or a ProxyCommand)
    + key exchange + host key check + authentication."""
    clock = _Clock(opts.timeout)
    entries = known_hosts(hop.known_hosts_files + hop.global_known_hosts_files)  # parsed once per run
    proxy: ProxyCommandSocket | None = None
    if via[1] is not None:
        sock = _open_forward(via[0], via[1], hop, clock, label)
    elif hop.proxy_command:
        proxy = ProxyCommandSocket(hop.proxy_command, label)
        sock = proxy.socket
    else:
        sock = _open_tcp(hop, clock, label)
    # Registered before paramiko touches it, so a failing Transport() cannot leak it.
    cleanup.callback(proxy.close if proxy else sock.close)
    transport = paramiko.Transport(sock)
    cleanup.callback(transport.close)
    transport.set_log_channel(_PARAMIKO_LOG)
    prefer_known_key_types(transport, host_key_name(hop), entries)
    try:
        _negotiate(transport, clock, label)
    except SshError as exc:
        if proxy is None:
            raise
        raise proxy.failure(exc, label) from exc
    verify_host_key(hop, transport.get_remote_server_key(), entries, label)
    _authenticate(transport, hop, agent, clock, label)
    return transport


def _open_tcp(hop: SshTarget, clock: _Clock, label: str) -> socket.socket:
    try:
        return socket.create_connection((hop.hostname, hop.port), timeout=clock.left())
    except socket.gaierror as exc:
        raise SshError(
            "unreachable", f"{label}: cannot resolve {hop.hostname} ({exc.strerror}); check HostName or the address"
        ) from exc
    except TimeoutError as exc:
        raise SshError(
            "timeout", f"{label}: no TCP connection within {clock.limit:g}s; check the address, Port and firewalls"
        ) from exc
    except ConnectionRefusedError as exc:
        raise SshError("unreachable", f"{label}: connection refused; check that sshd runs there and the Port") from exc
    except OSError as exc:
        raise SshError("unreachable", f"{label}: cannot connect ({exc.strerror or exc}); check the address") from exc


def _open_forward(via: Any, jump: SshTarget, hop: SshTarget, clock: _Clock, label: str) -> Any:
    """A direct-tcpip channel from the jump host to this hop: what ``ssh -W`` asks for."""
    try:
        return via.open_channel("direct-tcpip", (hop.hostname, hop.port), ("127.0.0.1", 0), timeout=clock.left())
    except paramiko.ChannelException as exc:
        raise SshError(
            "unreachable",
            f"{label}: jump host {jump.alias} refused to connect to {hop.hostname}:{hop.port} ({exc.text}); "
            f"check the address from {jump.alias} and its AllowTcpForwarding",
        ) from exc
    except (paramiko.SSHException, OSError, EOFError) as exc:
        kind: ErrorKind = "timeout" if clock.expired() else "unreachable"
        raise SshError(kind, f"{label}: jump host {jump.alias} did not forward a connection ({exc})") from exc


def _negotiate(transport: Any, clock: _Clock, label: str) -> None:
    """Banner and key exchange, within the clock. paramiko's own timeouts are set past our
    deadline: ours decides, so a server that accepts and never speaks fails on time."""
    transport.banner_timeout = transport.handshake_timeout = clock.left() + 1
    done = threading.Event()
    transport.start_client(event=done)
    while not done.wait(_POLL):
        if not transport.is_active():
            break
        if clock.expired():
            raise SshError(
                "timeout",
                f"{label}: no SSH handshake within {clock.limit:g}s (the port accepts connections but no SSH "
                "server answers); check the address and Port",
            )
    if not transport.is_active():
        exc = transport.get_exception()
        raise SshError("unreachable", f"{label}: SSH handshake failed ({exc or 'connection closed'})") from exc


def _authenticate(transport: Any, hop: SshTarget, agent: _Agent, clock: _Clock, label: str) -> None:
    user = hop.user or getpass.getuser()
    tried: list[str] = []
    for description, key in _keys_to_offer(hop, agent, tried):
        if not transport.is_active():
            raise SshError(
                "auth",
                f"{label}: the server closed the connection after {len(tried)} keys (MaxAuthTries?); "
                "set IdentitiesOnly yes with the right IdentityFile, or pass --identity",
            )
        if _offer(transport, user, key, clock, label):
            return
        tried.append(description)
    raise SshError(
        "auth",
        f"{label}: authentication as {user!r} failed; tried {_tried(tried, hop)}; check User/IdentityFile "
        "in ssh_config or pass --user/--identity",
    )


def _tried(tried: list[str], hop: SshTarget) -> str:
    """The keys offered and the files that could not be, for the auth error."""
    files = [entry for entry in tried if entry != _AGENT_KEY] or ["no identity file"]
    if hop.identities_only:
        agent = "no agent keys (IdentitiesOnly)"
    elif not os.environ.get("SSH_AUTH_SOCK"):
        agent = "no ssh-agent (SSH_AUTH_SOCK unset)"
    else:
        agent = f"{tried.count(_AGENT_KEY)} ssh-agent keys"
    return ", ".join([*files, agent])


def _offer(transport: Any, user: str, key: Any, clock: _Clock, label: str) -> bool:
    transport.auth_timeout = max(clock.left(), 0.01)
    try:
        transport.auth_publickey(user, key)
    except paramiko.BadAuthenticationType as exc:
        allowed = ", ".join(exc.allowed_types) or "nothing"
        raise SshError(
            "auth", f"{label}: the server takes no public key for {user!r} (only: {allowed}); podaudit uses keys only"
        ) from exc
    except (paramiko.SSHException, OSError, EOFError) as exc:
        if clock.expired():
            raise SshError("timeout", f"{label}: authentication did not complete within {clock.limit:g}s") from exc
        return False
    return bool(transport.is_authenticated())


def _keys_to_offer(hop: SshTarget, agent: _Agent, notes: list[str]) -> Iterator[tuple[str, Any]]:
    """Identity files first (so MaxAuthTries is spent on the keys the user named), then the
    agent's other keys unless IdentitiesOnly. Unusable files are noted for the error message."""
    seen: set[bytes] = set()
    for path in hop.identity_files:
        key, description = _load_identity(path, agent)
        if key is None:
            notes.append(description)
        elif key.asbytes() not in seen:
            seen.add(key.asbytes())
            yield description, key
    if hop.identities_only:
        return
    for key in agent.loaded():
        if key.asbytes() not in seen:
            seen.add(key.asbytes())
            yield _AGENT_KEY, key


def _load_identity(path: str, agent: _Agent) -> tuple[Any | None, str]:
    """The private key at ``path`` (parsed once per run: files.load_identity); when it cannot be
    used as is (passphrase, or a .pub file named as IdentityFile), the agent's copy of it,
    matched through its public key."""
    try:
        key = load_identity(path)
    except FileNotFoundError:
        return None, f"{path} (missing)"
    except SshError as exc:  # not a regular file of sane size
        return None, f"{path} ({exc.message.removeprefix(f'IdentityFile {path}: ')})"
    except (paramiko.SSHException, paramiko.UnknownKeyType, OSError, ValueError, TypeError) as exc:
        from_agent = _agent_copy(path, agent)
        if from_agent is not None:
            return from_agent, f"{path} (via ssh-agent)"
        # paramiko 5 lets cryptography's TypeError through for an encrypted key.
        locked = isinstance(exc, (paramiko.PasswordRequiredException, TypeError))
        return None, f"{path} ({'passphrase-protected, not in ssh-agent' if locked else exc})"
    return key, path


def _agent_copy(path: str, agent: _Agent) -> Any | None:
    public = path if path.endswith(".pub") else f"{path}.pub"
    try:
        blob = paramiko.PublicBlob.from_string((read_ssh_file(public, "public key") or b"").decode("ascii")).key_blob
    except (paramiko.SSHException, SshError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return next((key for key in agent.loaded() if key.asbytes() == blob), None)


class _Agent:
    """ssh-agent's keys, asked for once per connect() and only if a hop needs them."""

    def __init__(self) -> None:
        self._agent: Any = None
        self._keys: tuple[Any, ...] | None = None

    def loaded(self) -> tuple[Any, ...]:
        if self._keys is None:
            self._keys = ()
            if os.environ.get("SSH_AUTH_SOCK"):
                try:
                    self._agent = paramiko.Agent()
                    self._keys = tuple(self._agent.get_keys())
                except paramiko.SSHException:
                    pass  # a stale or broken agent: authenticate with the files alone, as ssh does
        return self._keys

    def close(self) -> None:
        if self._agent is not None:
            self._agent.close()


def _where(target: SshTarget) -> str:
    host = f"[{target.hostname}]" if ":" in target.hostname else target.hostname
    address = f"{host}:{target.port}"
    return address if target.alias == target.hostname else f"{target.alias} ({address})"


def _short(command: str) -> str:
    flat = " ".join(command.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."
