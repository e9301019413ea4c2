"""The user's SSH files: ssh_config and its Includes, known_hosts, identities, certificates.

Each is read through the one reader of user files (``read_user_bytes``: a regular file of at
most ``USER_FILE_LIMIT`` bytes), so ``--ssh-config /dev/zero`` or a FIFO named as known_hosts
is one line, never a hang or all the memory. /dev/null is an empty file, as OpenSSH users
write it (``ssh -F /dev/null``, ``UserKnownHostsFile /dev/null``).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from podaudit.errors import InputError
from podaudit.transport import SshError
from podaudit.userfiles import USER_FILE_LIMIT, read_user_bytes


def is_dev_null(path: str) -> bool:
    return os.path.realpath(path) == os.devnull


def read_ssh_file(path: str, what: str, limit: int = USER_FILE_LIMIT, hint: str = "") -> bytes | None:
    """The file's bytes (empty for /dev/null); None when it does not exist; otherwise
    SshError(kind="config") naming ``what`` (an option, or FILE:LINE), the path and ``hint``."""
    if is_dev_null(path):
        return b""
    try:
        return read_user_bytes(path, what, limit)
    except InputError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        raise SshError("config", f"{exc}{hint}") from exc


Signature = tuple[int, int, int, int]
_T = TypeVar("_T")


def signature(path: str) -> Signature | None:
    """(st_dev, st_ino, st_mtime_ns, st_size) of a regular file, what says "not changed since";
    None for anything else (missing, /dev/null, a FIFO...): those go through ``read_ssh_file``
    every time, so its answers and errors stay exactly as they were."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size


class FileCache(Generic[_T]):
    """Values built from the user's SSH files, reused while the files are unchanged. A sweep
    connects from many threads at once: each value is built once per change of its files
    (one lock per path), not once per connection. At most ``limit`` paths are kept."""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._values: OrderedDict[str, tuple[Hashable, _T]] = OrderedDict()

    def peek(self, path: str) -> _T | None:
        """The latest value built for ``path``, whatever state of the file it was built from."""
        with self._guard:
            found = self._values.get(path)
        return found[1] if found is not None else None

    def get(self, path: str, stamp: Hashable, build: Callable[[_T | None], _T]) -> _T:
        """The value for ``path`` built when its files had ``stamp``; otherwise ``build(previous)``
        (``previous``: the value built from an earlier state of the file, or None)."""
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            with self._guard:
                found = self._values.get(path)
            if found is not None and found[0] == stamp:
                return found[1]
            value = build(found[1] if found is not None else None)
            with self._guard:
                self._values[path] = (stamp, value)
                self._values.move_to_end(path)
                while len(self._values) > self._limit:
                    old, _ = self._values.popitem(last=False)
                    self._locks.pop(old, None)
            return value


_IDENTITIES: FileCache[Any] = FileCache()


def load_identity(path: str) -> Any:
    """The private key at ``path`` (a paramiko PKey) with its ``-cert.pub`` certificate when
    that is there and valid; parsed once per run while neither file changes, since every node
    of a sweep offers the same keys. Raises FileNotFoundError, SshError (not a regular file,
    too large) or paramiko's errors (a passphrase...): failures are never kept, so each
    connection tries again and the caller's ssh-agent fallback runs as before."""
    stamp = (signature(path), signature(f"{path}-cert.pub"))
    if stamp[0] is None:
        return _read_identity(path)
    return _IDENTITIES.get(path, stamp, lambda _: _read_identity(path))


def _read_identity(path: str) -> Any:
    import paramiko

    if read_ssh_file(path, "IdentityFile") is None:  # a regular file of sane size, before paramiko reads it all
        raise FileNotFoundError(path)
    key = paramiko.PKey.from_path(path)
    # A bad certificate (or a FIFO, or a huge file) leaves the plain key usable.
    with contextlib.suppress(paramiko.SSHException, SshError, ValueError):  # UnicodeDecodeError is one
        text = (read_ssh_file(f"{path}-cert.pub", "certificate") or b"").decode("ascii")
        if text:
            key.load_certificate(text)
    return key
