"""known_hosts parsed once per run and indexed by host name (issue 17).

A sweep checks every node's key against the same files: re-reading and regex-matching every
line per connection made the client's cost per node grow with known_hosts (real ones hold
thousands of lines). Here each file is parsed once while it is unchanged (``files.FileCache``,
keyed by path and (st_dev, st_ino, st_mtime_ns, st_size), so a key that accept-new appends, or
an edit, is seen by the next connection; an append is parsed alone). A lookup is then a dict
get for plain names, the wildcard patterns (compiled once), and one HMAC per distinct salt of
the hashed lines: OpenSSH salts every hashed line on its own (hostfile.c host_hash), so a name
can only be tested against each salt; what this saves is everything around that HMAC (its
pads are hashed once, not per lookup). Keys are decoded only for the lines a name matches.

Matching is OpenSSH's (match.c match_hostname, match_pattern_list; hostfile.c
match_maybe_hashed), as ``KnownKey.matches`` does it line by line: patterns know ``*`` and
``?`` only, case-insensitively; a matching ``!pattern`` vetoes the line; ``[host]:port`` is a
literal name; ``|1|salt|hash`` is HMAC-SHA1(salt, name).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

import paramiko

from podaudit.transport.files import FileCache, read_ssh_file, signature

# OverflowError: an RSA key whose exponent is a negative mpint (cryptography refuses it).
MALFORMED = (paramiko.SSHException, paramiko.UnknownKeyType, ValueError, IndexError, struct.error, OverflowError)
Fields: TypeAlias = tuple[str | None, str, str, str]  # marker, names, key type, base64 key
_MARKERS = {None, "@revoked", "@cert-authority"}
_RACY_NS = 3_000_000_000  # a file modified this recently is compared byte for byte (mtime granularity)
_MEMO_LIMIT = 4096  # names remembered per file: a jump host is looked up once per node
_IPAD = bytes(byte ^ 0x36 for byte in range(256))  # RFC 2104's inner and outer pads, as translate tables
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


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
                hit = hit or hashed_match(pattern, name)
            elif pattern.startswith("!"):
                if glob(pattern[1:]).fullmatch(name):
                    return False  # a negated pattern vetoes the whole line, as in OpenSSH
            elif glob(pattern).fullmatch(name):
                hit = True
        return hit


@functools.lru_cache(maxsize=4096)
def glob(pattern: str) -> re.Pattern[str]:
    """known_hosts patterns know only * and ?; "[" is literal (it starts "[host]:port")."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern.lower())
    return re.compile(regex, re.DOTALL)


def hashed_name(entry: str) -> tuple[bytes, bytes] | None:
    """(salt, HMAC-SHA1) of a ``|1|salt|hash`` name in the one form a hashed host name can
    equal (paramiko's hash_host, OpenSSH's host_hash: base64 of 20 bytes each); else None."""
    parts = entry.split("|")
    if len(parts) != 4 or parts[:2] != ["", "1"]:
        return None
    try:
        salt, digest = binascii.a2b_base64(parts[2]), binascii.a2b_base64(parts[3])
    except (binascii.Error, ValueError):
        return None
    # Encoding back to the same text is what makes lenient decoding strict: only canonical
    # base64 can equal a computed name.
    canonical = _b64(salt) == parts[2] and _b64(digest) == parts[3]
    return (salt, digest) if canonical and len(salt) == len(digest) == 20 else None


def _b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def hashed_match(entry: str, name: str) -> bool:
    found = hashed_name(entry)
    data = _utf8(name)
    return found is not None and data is not None and _Salt(found[0]).hmac(data) == found[1]


def parse_line(line: str) -> Fields | None:
    """(marker, names, key type, base64 key) of a known_hosts line that may hold a key."""
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = fields.pop(0) if fields[0].startswith("@") else None
    # @cert-authority lines trust host certificates, which paramiko's client cannot verify:
    # kept only to say so (verify_host_key), never matched as a host's key.
    if marker not in _MARKERS or len(fields) < 3:
        return None
    return marker, fields[0], fields[1], fields[2]


def known_key(fields: Fields, origin: str) -> KnownKey | None:
    """The line's entry with its key decoded; None when the key is malformed (skipped, as ssh does)."""
    marker, names, key_type, blob = fields
    try:
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob))
    except MALFORMED:
        return None
    return KnownKey(tuple(names.split(",")), key, marker == "@revoked", origin, marker == "@cert-authority")


def numbered_lines(data: bytes, first: int = 1) -> Iterator[tuple[int, Fields]]:
    for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), first):
        fields = parse_line(line)
        if fields is not None:
            yield number, fields


class _Salt:
    """HMAC-SHA1 under one salt with its padded key blocks hashed once (RFC 2104): per name
    that leaves two hash copies and two short updates."""

    __slots__ = ("inner", "outer")

    def __init__(self, salt: bytes) -> None:
        block = salt.ljust(64, b"\0")
        self.inner = hashlib.sha1(block.translate(_IPAD))  # noqa: S324 (OpenSSH's hashed names are HMAC-SHA1)
        self.outer = hashlib.sha1(block.translate(_OPAD))  # noqa: S324

    def hmac(self, data: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(data)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class HostFile:
    """One known_hosts file's lines, indexed by the names they can match. Read-only once
    built (threads share it); ``previous`` is the index of an earlier state of the file,
    reused when ``data`` only appends to it."""

    def __init__(self, path: str, data: bytes, previous: HostFile | None = None) -> None:
        self.path, self.data = path, data
        self._memo: dict[str, tuple[int, ...]] = {}
        self._lines: dict[int, tuple[Fields, tuple[re.Pattern[str], ...]]] = {}  # line number: fields, vetoes
        self._plain: dict[str, tuple[int, ...]] = {}  # lower-cased name: line numbers
        self._wild: list[tuple[re.Pattern[str], int]] = []
        self._salts: dict[bytes, tuple[_Salt, dict[bytes, tuple[int, ...]]]] = {}  # salt: HMAC: line numbers
        self._keys: dict[int, KnownKey | None] = {}
        first = 1
        if previous is not None and previous.appended_to_by(data):  # copies: threads still read previous
            self._lines, self._plain = dict(previous._lines), dict(previous._plain)
            self._wild, self._salts, self._keys = list(previous._wild), dict(previous._salts), dict(previous._keys)
            first = previous.data.count(b"\n") + 1
            data = data[len(previous.data):]
        for number, fields in numbered_lines(data, first):
            self._add(number, fields)

    def appended_to_by(self, data: bytes) -> bool:
        """Whether ``data`` is this file with whole lines added at the end (accept-new's write)."""
        return self.data.endswith(b"\n") and len(data) > len(self.data) and data.startswith(self.data)

    def _add(self, number: int, fields: Fields) -> None:
        vetoes: list[re.Pattern[str]] = []
        positive = False
        for pattern in fields[1].split(","):  # each list is a new tuple: threads may read the old one
            if pattern.startswith("|1|"):
                hashed = hashed_name(pattern)
                if hashed is not None:
                    empty: dict[bytes, tuple[int, ...]] = {}
                    salt, table = self._salts.get(hashed[0]) or (_Salt(hashed[0]), empty)
                    self._salts[hashed[0]] = salt, {**table, hashed[1]: (*table.get(hashed[1], ()), number)}
                    positive = True
            elif pattern.startswith("!"):
                vetoes.append(glob(pattern[1:]))
            elif "*" in pattern or "?" in pattern:
                self._wild.append((glob(pattern), number))
                positive = True
            else:
                plain = pattern.lower()
                self._plain[plain] = (*self._plain.get(plain, ()), number)
                positive = True
        if positive:  # a line of negated patterns only never matches
            self._lines[number] = fields, tuple(vetoes)

    def matching(self, name: str) -> list[KnownKey]:
        """The entries whose patterns match ``name``, in file order (revoked, CA lines included)."""
        numbers = self._memo.get(name)
        if numbers is None:
            numbers = self._find(name)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[name] = numbers
        found = (self._key(number) for number in numbers)
        return [entry for entry in found if entry is not None]

    def _find(self, name: str) -> tuple[int, ...]:
        candidates = set(self._plain.get(name, ()))
        candidates.update(number for pattern, number in self._wild if pattern.fullmatch(name))
        data = _utf8(name) if self._salts else None
        if data is not None:
            for salt, table in self._salts.values():
                candidates.update(table.get(salt.hmac(data), ()))
        return tuple(number for number in sorted(candidates)
                     if not any(veto.fullmatch(name) for veto in self._lines[number][1]))

    def _key(self, number: int) -> KnownKey | None:
        if number in self._keys:
            return self._keys[number]
        entry = known_key(self._lines[number][0], f"{self.path}:{number}")
        self._keys[number] = entry  # two threads may both decode it: the same answer
        return entry


class KnownHosts:
    """The known_hosts files one host is checked against, in order (user files, then global)."""

    def __init__(self, files: Iterable[HostFile]) -> None:
        self.files = tuple(files)

    def matching(self, name: str) -> list[KnownKey]:
        return [entry for file in self.files for entry in file.matching(name)]


_FILES: FileCache[HostFile] = FileCache(limit=16)


def known_hosts(paths: Iterable[str]) -> KnownHosts:
    """The files that exist, each parsed once while unchanged. A file that exists but cannot
    be read is an error (SshError), since its keys would silently vanish."""
    found = (_host_file(path) for path in paths)
    return KnownHosts(file for file in found if file is not None)


def for_data(path: str, data: bytes) -> HostFile:
    """``data``, read from ``path`` under accept-new's lock, indexed: the run's index of the
    file when that is what ``data`` holds (or holds plus appended lines)."""
    return _build(path, data, _FILES.peek(path))


def _host_file(path: str) -> HostFile | None:
    stamp = signature(path)
    if stamp is None:  # missing, /dev/null, a FIFO...: the reader answers, as every time before
        data = _read(path)
        return HostFile(path, data) if data else None
    if time.time_ns() - stamp[2] < _RACY_NS:
        # Changed just now: an edit of the same size within the file system's clock tick would
        # keep the stamp (git's "racily clean" index entries), so the bytes are compared too.
        data = _read(path) or b""
        return _FILES.get(path, (stamp, data), lambda previous: _build(path, data, previous))
    return _FILES.get(path, stamp, lambda previous: _build(path, _read(path) or b"", previous))


def _build(path: str, data: bytes, previous: HostFile | None) -> HostFile:
    return previous if previous is not None and previous.data == data else HostFile(path, data, previous)


def _read(path: str) -> bytes | None:
    return read_ssh_file(path, "known_hosts", hint="; fix it, or name another file with --known-hosts")


def _utf8(name: str) -> bytes | None:
    try:
        return name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a config read with surrogateescape
        return None
