"""known_hosts checking as OpenSSH does it with StrictHostKeyChecking=yes or accept-new.

The files are parsed by ``hostindex`` (once per run, indexed by name) rather than with
``paramiko.HostKeys`` because that class stops at the first malformed line, ignores
``@revoked`` (a revoked key would look merely unknown, and accept-new would record it) and
matches neither wildcard nor negated host patterns.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterable
from typing import Any, Literal, TypeAlias

import paramiko

from podaudit.transport import SshError, SshTarget
from podaudit.transport.files import is_dev_null, read_ssh_file
from podaudit.transport.hostindex import KnownHosts, KnownKey, for_data, known_key, numbered_lines
from podaudit.userfiles import USER_FILE_LIMIT

__all__ = ["KnownHosts", "KnownKey", "judge", "load_known_hosts", "prefer_known_key_types", "verify_host_key"]

Verdict = Literal["known", "unknown", "changed", "revoked"]
# A known RSA key is offered as SHA-2 signatures; paramiko no longer negotiates plain ssh-rsa.
_ALGORITHMS_FOR_TYPE = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}
Entries: TypeAlias = Iterable[KnownKey] | KnownHosts  # a list of entries, or the run's index of the files (hostindex)


def host_key_name(target: SshTarget) -> str:
    """The name a host's keys are filed under: HostKeyAlias, else host or [host]:port."""
    if target.host_key_alias:
        return target.host_key_alias.lower()
    host = target.hostname.lower()
    return host if target.port == 22 else f"[{host}]:{target.port}"


def fingerprint(key: Any) -> str:
    """SHA256:… exactly as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def load_known_hosts(paths: Iterable[str]) -> list[KnownKey]:
    """Every usable entry of the files that exist, keys decoded. Malformed lines are skipped (as
    ssh does); a file that exists but cannot be read is an error, since its keys would silently
    vanish. Connections use hostindex.known_hosts instead: parsed once per run, indexed by name."""
    entries: list[KnownKey] = []
    for path in paths:
        data = read_ssh_file(path, "known_hosts", hint="; fix it, or name another file with --known-hosts")
        found = (known_key(fields, f"{path}:{number}") for number, fields in numbered_lines(data or b""))
        entries += [entry for entry in found if entry is not None]
    return entries


def _for_name(entries: Entries, name: str) -> list[KnownKey]:
    """The entries filed under ``name``, in file order: looked up in an index, or checked one by one."""
    if isinstance(entries, KnownHosts):
        return entries.matching(name)
    return [entry for entry in entries if entry.matches(name)]


def judge(name: str, key: Any, entries: Entries) -> tuple[Verdict, KnownKey | None]:
    """Is ``key`` the key on file for ``name``? Returns the verdict and the entry behind it."""
    blob = key.asbytes()
    matching = [entry for entry in _for_name(entries, name) if not entry.authority]
    for entry in matching:
        if entry.revoked and entry.key.asbytes() == blob:
            return "revoked", entry
    known = [entry for entry in matching if not entry.revoked]
    for entry in known:
        if entry.key.asbytes() == blob:
            return "known", entry
    # A key of another type than the ones on file counts as changed too: the server would
    # have offered the known type (we ask for it first) if it still had that key.
    return ("changed", known[0]) if known else ("unknown", None)


def prefer_known_key_types(transport: Any, name: str, entries: Entries) -> None:
    """Ask the server for the key type already on file (as OpenSSH does), so a host with
    several key types is checked against the one we know instead of looking "changed"."""
    wanted: list[str] = []
    for entry in _for_name(entries, name):
        if not entry.revoked and not entry.authority:
            kind = entry.key.get_name()
            wanted += _ALGORITHMS_FOR_TYPE.get(kind, (kind,))
    options = transport.get_security_options()
    offered = list(options.key_types)
    first = [algorithm for algorithm in offered if algorithm in wanted]
    if first:
        options.key_types = first + [algorithm for algorithm in offered if algorithm not in wanted]


def verify_host_key(target: SshTarget, key: Any, entries: Entries, label: str) -> None:
    """Accept a known key, record an unknown one under accept-new, refuse everything else."""
    name = host_key_name(target)
    verdict, entry = judge(name, key, entries)
    if verdict == "known":
        return
    if verdict != "unknown":
        raise _refusal(verdict, target, key, entry, label)
    authority = next((e for e in _for_name(entries, name) if e.authority), None)
    if authority is not None:  # accept-new would record a plain key where the user trusts a CA
        raise SshError("host-key-unknown", (
            f"{label}: {authority.origin} trusts a @cert-authority for {name}: host certificates, which podaudit's "
            "built-in SSH client (paramiko) cannot verify; run with --ssh-client openssh (the system ssh)"))
    if target.strict != "accept-new" or not target.known_hosts_files:
        raise _unknown(target, key, label)
    record_host_key(target.known_hosts_files[0], name, key, target.hash_known_hosts, target, label)


def record_host_key(path: str, name: str, key: Any, hashed: bool, target: SshTarget, label: str) -> None:
    """Append ``key`` for ``name`` in OpenSSH format, creating the file 0600 if needed.
    Under an exclusive lock the file is read again: a parallel connection may have recorded
    this host meanwhile (then nothing is written) or recorded a different key (refused)."""
    if is_dev_null(path):
        return  # UserKnownHostsFile /dev/null: nothing is kept, as with ssh
    folder = os.path.dirname(path)
    try:
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)  # like ssh creating ~/.ssh
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SshError("config", f"{label}: cannot record the host key in {path} ({exc.strerror})") from exc
    with os.fdopen(fd, "r+b") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO would block the read below; a device never end
            raise SshError("config", f"{label}: cannot record the host key in {path}: not a regular file")
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        data = handle.read(USER_FILE_LIMIT + 1)
        if len(data) > USER_FILE_LIMIT:
            raise SshError("config", f"{label}: cannot record the host key in {path}: larger than "
                                     f"{USER_FILE_LIMIT >> 20} MiB")
        verdict, entry = judge(name, key, KnownHosts([for_data(path, data)]))
        if verdict in {"changed", "revoked"}:
            raise _refusal(verdict, target, key, entry, label)
        if verdict == "unknown":
            stored = paramiko.HostKeys.hash_host(name) if hashed else name
            separator = b"" if not data or data.endswith(b"\n") else b"\n"
            handle.write(separator + f"{stored} {key.get_name()} {key.get_base64()}\n".encode())


def _unknown(target: SshTarget, key: Any, label: str) -> SshError:
    port = "" if target.port == 22 else f"-p {target.port} "
    where = target.known_hosts_files[0] if target.known_hosts_files else "your known_hosts file"
    return SshError(
        "host-key-unknown",
        f"{label}: host key {key.get_name()} {fingerprint(key)} for {host_key_name(target)} is not known; "
        f"verify it, then add it with `ssh-keyscan {port}{target.hostname} >> {where}` "
        "or pass --accept-new-host-keys",
    )


def _refusal(verdict: Verdict, target: SshTarget, key: Any, entry: KnownKey | None, label: str) -> SshError:
    name = host_key_name(target)
    if verdict == "revoked":
        where = entry.origin if entry else "known_hosts"
        return SshError("host-key-changed", f"{label}: host key {fingerprint(key)} for {name} is @revoked in {where}")
    on_file = f"{entry.key.get_name()} {fingerprint(entry.key)} in {entry.origin}" if entry else "another key"
    file = _origin_file(entry.origin) if entry else "known_hosts"
    return SshError(
        "host-key-changed",
        f"{label}: HOST KEY CHANGED for {name}: server sent {key.get_name()} {fingerprint(key)}, "
        f"expected {on_file}; possible man-in-the-middle. If the node was reinstalled, "
        f"remove the old key with `ssh-keygen -R '{name}' -f {file}` and connect again",
    )


def _origin_file(origin: str) -> str:
    return origin.rsplit(":", 1)[0]
