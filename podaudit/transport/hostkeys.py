"""known_hosts checking as OpenSSH does it with StrictHostKeyChecking=yes or accept-new.

The files are parsed here rather than with ``paramiko.HostKeys`` because that class stops at
the first malformed line, ignores ``@revoked`` (a revoked key would look merely unknown, and
accept-new would record it) and matches neither wildcard nor negated host patterns.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import os
import re
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import paramiko

from podaudit.transport import SshError, SshTarget
from podaudit.transport.files import is_dev_null, read_ssh_file
from podaudit.userfiles import USER_FILE_LIMIT

Verdict = Literal["known", "unknown", "changed", "revoked"]
# A known RSA key is offered as SHA-2 signatures; paramiko no longer negotiates plain ssh-rsa.
_ALGORITHMS_FOR_TYPE = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}
# OverflowError: an RSA key whose exponent is a negative mpint (cryptography refuses it).
_MALFORMED = (paramiko.SSHException, paramiko.UnknownKeyType, ValueError, IndexError, struct.error, OverflowError)


@dataclass(frozen=True)
class KnownKey:
    patterns: tuple[str, ...]  # host patterns, or hashed "|1|salt|hash" names
    key: Any  # paramiko.PKey
    revoked: bool
    origin: str  # "FILE:LINE"
    authority: bool = False  # @cert-authority: trusts host certificates, which paramiko cannot check

    def matches(self, name: str) -> bool:
        hit = False
        for pattern in self.patterns:
            if pattern.startswith("|1|"):
                hit = hit or _hashed_match(pattern, name)
            elif pattern.startswith("!"):
                if _glob_match(pattern[1:], name):
                    return False  # a negated pattern vetoes the whole line, as in OpenSSH
            elif _glob_match(pattern, name):
                hit = True
        return hit


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
    """Every usable entry of the files that exist. Malformed lines are skipped (as ssh does);
    a file that exists but cannot be read is an error, since its keys would silently vanish."""
    entries: list[KnownKey] = []
    for path in paths:
        data = read_ssh_file(path, "known_hosts", hint="; fix it, or name another file with --known-hosts")
        if data:
            entries += _parse_text(data.decode("utf-8", "replace"), path)
    return entries


def _parse_text(text: str, path: str) -> list[KnownKey]:
    found = (_parse_line(line, f"{path}:{number}") for number, line in enumerate(text.split("\n"), 1))
    return [entry for entry in found if entry is not None]


def _parse_line(line: str, origin: str) -> KnownKey | None:
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = fields.pop(0) if fields[0].startswith("@") else None
    # @cert-authority lines trust host certificates, which paramiko's client cannot verify:
    # kept only to say so (verify_host_key), never matched as a host's key.
    if marker not in {None, "@revoked", "@cert-authority"} or len(fields) < 3:
        return None
    names, key_type, blob = fields[:3]
    try:
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))
    except _MALFORMED:
        return None
    return KnownKey(tuple(names.split(",")), key, marker == "@revoked", origin, marker == "@cert-authority")


def judge(name: str, key: Any, entries: Iterable[KnownKey]) -> tuple[Verdict, KnownKey | None]:
    """Is ``key`` the key on file for ``name``? Returns the verdict and the entry behind it."""
    blob = key.asbytes()
    matching = [entry for entry in entries if not entry.authority and entry.matches(name)]
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


def prefer_known_key_types(transport: Any, name: str, entries: Iterable[KnownKey]) -> None:
    """Ask the server for the key type already on file (as OpenSSH does), so a host with
    several key types is checked against the one we know instead of looking "changed"."""
    wanted: list[str] = []
    for entry in entries:
        if not entry.revoked and not entry.authority and entry.matches(name):
            kind = entry.key.get_name()
            wanted += _ALGORITHMS_FOR_TYPE.get(kind, (kind,))
    options = transport.get_security_options()
    offered = list(options.key_types)
    first = [algorithm for algorithm in offered if algorithm in wanted]
    if first:
        options.key_types = first + [algorithm for algorithm in offered if algorithm not in wanted]


def verify_host_key(target: SshTarget, key: Any, entries: list[KnownKey], label: str) -> None:
    """Accept a known key, record an unknown one under accept-new, refuse everything else."""
    name = host_key_name(target)
    verdict, entry = judge(name, key, entries)
    if verdict == "known":
        return
    if verdict != "unknown":
        raise _refusal(verdict, target, key, entry, label)
    authority = next((e for e in entries if e.authority and e.matches(name)), None)
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
        text = data.decode("utf-8", "replace")
        verdict, entry = judge(name, key, _parse_text(text, path))
        if verdict in {"changed", "revoked"}:
            raise _refusal(verdict, target, key, entry, label)
        if verdict == "unknown":
            stored = paramiko.HostKeys.hash_host(name) if hashed else name
            separator = "" if not text or text.endswith("\n") else "\n"
            handle.write(f"{separator}{stored} {key.get_name()} {key.get_base64()}\n".encode())


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


def _glob_match(pattern: str, name: str) -> bool:
    """known_hosts patterns know only * and ?; "[" is literal (it starts "[host]:port")."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern.lower())
    return re.fullmatch(regex, name, re.DOTALL) is not None


def _hashed_match(entry: str, name: str) -> bool:
    try:
        candidate = paramiko.HostKeys.hash_host(name, entry)
    except _MALFORMED:
        return False
    return hmac.compare_digest(str(candidate), entry)
