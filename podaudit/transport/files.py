"""The user's SSH files: ssh_config and its Includes, known_hosts, identities, certificates.

Each is read through the one reader of user files (``read_user_bytes``: a regular file of at
most ``USER_FILE_LIMIT`` bytes), so ``--ssh-config /dev/zero`` or a FIFO named as known_hosts
is one line, never a hang or all the memory. /dev/null is an empty file, as OpenSSH users
write it (``ssh -F /dev/null``, ``UserKnownHostsFile /dev/null``).
"""

from __future__ import annotations

import os

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
