"""``--ssh-client openssh``: the Shell protocol over the system ``ssh`` binary.

What paramiko cannot do (host certificates from ``@cert-authority`` lines, FIDO/sk keys,
GSSAPI, the user's ``Match``/``CanonicalizeHostname``/``KnownHostsCommand``) the user's own
ssh does, with their config (``-F`` when --ssh-config is given), agent and keys. Per node:
``ssh -G`` resolves the login user (root needs no sudo), one ControlMaster connection is
opened (``-M -N -f``; its socket ``<run dir>/%C`` in a private 0700 folder for the run), each
script runs through it as ``sh -s`` (or ``sudo -n sh -s``) fed on stdin, and ``ssh -O exit``
closes it. Host keys are always checked (``StrictHostKeyChecking=yes``, or ``accept-new``);
``BatchMode=yes``: nothing ever prompts.

Every value from an inventory is one argv element after its option, never seen by a shell,
and a destination that starts with ``-`` is refused (it would be read as an option).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from typing import IO

from podaudit.errors import NodeUnavailable
from podaudit.model import FailureKind, InventoryEntry
from podaudit.transport import MARKER, ErrorKind, SshError, SshOptions
from podaudit.transport.limits import MAX_NODE_STDERR, MAX_NODE_STDOUT, Captured, run_capped, stderr_line, too_much
from podaudit.transport.root import entry_options, refused, root_command
from podaudit.transport.stream import LineStream

# How long an idle master outlives podaudit if it dies before ``ssh -O exit``.
CONTROL_PERSIST = "30"
_RUN_DIRS: list[str] = []
# ssh's own words (ssh.c, sshconnect.c), in the order they are looked for: the first hit decides.
_KINDS: tuple[tuple[ErrorKind, re.Pattern[str]], ...] = (
    ("config", re.compile(r"bad configuration option|can't open user config|terminating, \d+ bad configuration|"
                          r"unsupported option|controlpath too long|bad port|no such file or directory: -F|"
                          r"keyword \S+ extra arguments|unknown option|illegal option", re.I)),
    ("host-key-changed", re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|REVOKED HOST KEY|"
                                    r"host key for .* has changed|certificate .* revoked", re.I)),
    ("host-key-unknown", re.compile(r"host key is known for|host key verification failed|"
                                    r"no matching host key type", re.I)),
    ("auth", re.compile(r"permission denied|too many authentication failures|"
                        r"no more authentication methods", re.I)),
    ("timeout", re.compile(r"timed out", re.I)),
)


def run_control_dir() -> str:
    """The run's private folder for ControlMaster sockets (0700, removed at exit). Kept short:
    a socket path has room for about 100 bytes, and %C adds 40."""
    if not _RUN_DIRS:
        base = tempfile.gettempdir()
        folder = tempfile.mkdtemp(prefix="podaudit-ssh-", dir=base if len(base) <= 48 else "/tmp")  # noqa: S108 - mkdtemp: 0700, unique
        os.chmod(folder, 0o700)
        atexit.register(shutil.rmtree, folder, True)
        _RUN_DIRS.append(folder)
    return _RUN_DIRS[0]


def ssh_binary() -> str | None:
    return shutil.which("ssh")


class OpenSshShell:
    """A Shell over one ControlMaster connection of the system ssh to ``entry``."""

    def __init__(self, entry: InventoryEntry, options: SshOptions, sudo: bool) -> None:
        self.entry = entry
        self.options = entry_options(entry, options)
        self.sudo = sudo if entry.sudo is None else entry.sudo  # an inventory's ansible_become
        self.command = "sh -s"
        self.user: str | None = None
        self._base: list[str] = []
        self._open = False

    def __enter__(self) -> OpenSshShell:
        try:
            self._base = base_argv(self.entry, self.options, self.options.control_dir or run_control_dir())
            self.user = self._login_user()
            self._start_master()
        except SshError as exc:
            raise NodeUnavailable(self.entry.name, FailureKind(exc.kind), str(exc)) from exc
        self._open = True
        self.command = root_command(self.sudo, self.user)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._open:
            self._open = False
            # The master's socket goes with it; a master already gone makes this fail quietly.
            run_capped([*self._base, "-O", "exit", "--", self.entry.name], 10.0, 1 << 16, 1 << 16)

    def run(self, script: bytes) -> bytes:
        assert self._open, "run() outside the with block"
        argv = [*self._base, "-o", "ControlMaster=no", "-T", "--", self.entry.name, self.command]
        done = _run(argv, self.options.timeout, script)
        try:
            status = _checked(done, self._label(), self.options.timeout, f"command {self.command!r}")
        except SshError as exc:
            raise NodeUnavailable(self.entry.name, FailureKind(exc.kind), str(exc)) from exc
        if status == 255 and not done.out.startswith(MARKER):  # ssh's own failure: the connection went
            error = failure(self._label(), done.err, self.options.timeout)
            raise NodeUnavailable(self.entry.name, FailureKind(error.kind), str(error))
        if not done.out.startswith(MARKER):
            raise refused(self.entry.name, self.command, self.user, status, done.err)
        return done.out

    def stream(self, script: bytes) -> LineStream:
        """The script through the master (a channel more, not a login more), its stdin left
        open; closing the stream closes that stdin and the local ssh (StreamingShell)."""
        assert self._open, "stream() outside the with block"
        argv = [*self._base, "-o", "ControlMaster=no", "-T", "--", self.entry.name, self.command]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise NodeUnavailable(self.entry.name, FailureKind.CONFIG, f"cannot run {argv[0]} ({exc})") from exc
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None and stdout is not None
        threading.Thread(target=_send, args=(stdin, script), daemon=True).start()

        def stop() -> None:
            with contextlib.suppress(OSError):
                stdin.close()  # the node-side script's stdin ends: it exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2)
            if proc.poll() is None:
                proc.kill()
            proc.wait()  # stdout is at its end now: the stream's reader sees it

        return LineStream(lambda n: os.read(stdout.fileno(), n), stop)

    def _login_user(self) -> str | None:
        """The user ssh will log in as, from ``ssh -G`` (its config as resolved for this host)."""
        done = _run([*self._base, "-G", "--", self.entry.name], 10.0)
        status = _checked(done, self._label(), 10.0, "ssh -G")
        if status != 0:
            raise SshError("config", f"{self._label()}: ssh -G could not read the ssh config: "
                                     f"{stderr_line(done.err) or f'exit {status}'}")
        found = re.search(rb"^user (\S+)$", done.out, re.M)
        return found.group(1).decode("utf-8", "replace") if found else None

    def _start_master(self) -> None:
        """``ssh -M -N -f``: authenticates, then leaves the master in the background."""
        argv = [*self._base, "-o", "ControlMaster=yes", "-o", f"ControlPersist={CONTROL_PERSIST}", "-N", "-f",
                "--", self.entry.name]
        # ConnectTimeout bounds the TCP connect and the banner; this bounds the rest (auth).
        limit = self.options.timeout * 2 + 5
        done = _run(argv, limit)
        if _checked(done, self._label(), limit, "ssh login") != 0:
            raise failure(self._label(), done.err, self.options.timeout)

    def _label(self) -> str:
        where = self.entry.address
        if where is None and self.entry.port is None:
            return self.entry.name
        host = f"[{where}]" if where and ":" in where else where or self.entry.name
        return f"{self.entry.name} ({host}:{self.entry.port or 22})"


def base_argv(entry: InventoryEntry, options: SshOptions, control_dir: str) -> list[str]:
    """``ssh`` and the options every call for this node shares; ``options`` already carry
    the entry's user and key (``entry_options``)."""
    for value in (entry.name, entry.address or ""):
        if value.startswith("-"):
            raise SshError("config", f"{value[:80]!r}: a host name may not start with '-' (ssh would read an option)")
    ssh = ssh_binary()
    if ssh is None:
        raise SshError("config", "--ssh-client openssh: no ssh on PATH; install openssh-client, "
                                 "or use --ssh-client paramiko")
    strict = "accept-new" if options.accept_new_host_keys else "yes"
    argv = [ssh, "-o", "BatchMode=yes", "-o", f"StrictHostKeyChecking={strict}", "-o", "UpdateHostKeys=no",
            "-o", f"ConnectTimeout={max(1, math.ceil(options.timeout))}",
            "-o", f"ControlPath={control_dir}/%C", "-o", "ClearAllForwardings=yes"]
    if options.ssh_config:
        argv += ["-F", os.path.expanduser(options.ssh_config)]
    if options.known_hosts:  # then the only file, as with paramiko: a run does not depend on the machine
        argv += ["-o", f"UserKnownHostsFile={_path(options.known_hosts, '--known-hosts')}",
                 "-o", "GlobalKnownHostsFile=/dev/null"]
    if options.identity:
        argv += ["-i", _path(options.identity, "--identity", quoted=False)]
    if options.user:
        argv += ["-l", options.user]
    if entry.port:
        argv += ["-p", str(entry.port)]
    if entry.address:  # Host blocks still match the name; only where to connect changes
        argv += ["-o", f"HostName={entry.address}"]
    return argv


def _path(path: str, option: str, quoted: bool = True) -> str:
    """A file name as ssh reads it in an option: % and ${ are ssh's expansions, a space
    separates files; so % is doubled, the name quoted, and names ssh cannot take refused."""
    full = os.path.expanduser(path)
    if '"' in full or "${" in full or any(not c.isprintable() for c in full):
        raise SshError("config", f"{option} {path[:80]!r}: ssh cannot take this file name (quotes, '${{' or "
                                 "control characters); rename or link the file")
    escaped = full.replace("%", "%%")
    return f'"{escaped}"' if quoted else escaped


def _send(pipe: IO[bytes], script: bytes) -> None:
    """The script, written while the node reads it; the pipe stays open (its end is the script's)."""
    with contextlib.suppress(OSError, ValueError):
        pipe.write(script)
        pipe.flush()


def _run(argv: list[str], timeout: float, stdin: bytes | None = None) -> Captured:
    try:
        return run_capped(argv, timeout, MAX_NODE_STDOUT, MAX_NODE_STDERR, stdin=stdin)
    except OSError as exc:
        raise SshError("config", f"cannot run {argv[0]} ({exc.strerror or exc})") from exc


def _checked(done: Captured, label: str, limit: float, what: str) -> int:
    """The exit status of a finished ssh; SshError when it was stopped (time, output caps)."""
    if done.full is not None:
        cap = MAX_NODE_STDOUT if done.full == "stdout" else MAX_NODE_STDERR
        raise SshError("gather", too_much(label, f"on {done.full}", cap))
    if done.timed_out or done.status is None:
        raise SshError("timeout", f"{label}: {what} did not finish within {limit:g}s; check the address, "
                                  "the node's load, or raise --timeout")
    return done.status


def failure(label: str, err: bytes, timeout: float) -> SshError:
    """ssh's exit 255 as podaudit's kinds and one line, its own words quoted (escaped)."""
    text = err.decode("utf-8", "replace")
    kind: ErrorKind = next((k for k, pattern in _KINDS if pattern.search(text)), "unreachable")
    said = _said(text, kind)
    host = re.search(r"Host key for (\S+) has changed", text)
    file = re.search(r"Offending \S+ key in (\S+):\d+", text)
    remove = f"ssh-keygen -R '{host.group(1) if host else 'HOST'}' -f {file.group(1) if file else 'FILE'}"
    advice = {
        "config": "fix the ssh config or the option named",
        "host-key-changed": f"possible man-in-the-middle; if the node was reinstalled, remove the old key with "
                            f"`{stderr_line(remove.encode(), 200)}` and connect again",
        "host-key-unknown": "verify the host key, then add it with `ssh-keyscan` to your known_hosts "
                            "(or its CA as @cert-authority), or pass --accept-new-host-keys",
        "auth": "check User/IdentityFile in ssh_config and your ssh-agent, or pass --user/--identity",
        "timeout": f"no answer within --timeout {timeout:g}s; check the address, Port and firewalls",
        "unreachable": "check the address, the Port and that sshd runs there",
    }[kind]
    headline = {"host-key-changed": "HOST KEY CHANGED", "host-key-unknown": "host key not known",
                "auth": "authentication failed", "timeout": "timed out", "config": "ssh refused its options",
                "unreachable": "cannot connect"}[kind]
    return SshError(kind, f"{label}: {headline} (ssh: {said}); {advice}")


def _said(text: str, kind: ErrorKind) -> str:
    """The line of ssh's stderr that says it (host key warnings come inside a banner of @)."""
    lines = [line.strip().removeprefix("ssh: ") for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("@")]
    if kind == "host-key-changed":
        lines = [line for line in lines if line.lower().startswith(("offending", "host key for"))] or lines
    chosen = "; ".join(lines[:2]) if lines else "no message"
    return stderr_line(chosen.encode(), 240)
