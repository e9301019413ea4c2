"""Files the user names (inventory, baseline, ssh_config, known_hosts, identities, -f): read
whole, but only when they are regular files of a sane size."""

from __future__ import annotations

import os
import stat

from podaudit.errors import InputError

# Every file the user names (inventory, baseline, ssh_config and its Includes, known_hosts,
# identities): the largest real ones (a global known_hosts of tens of thousands of hosts) are a
# few MiB. A bigger file, /dev/zero or a FIFO is a mistake to report, not a reason to hang or
# to spend the machine's memory.
USER_FILE_LIMIT = 16 << 20
_CHUNK = 1024 * 1024


def read_capped(path: str, limit: int) -> bytes | None:
    """At most ``limit + 1`` bytes of a regular file; None if it is anything else."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        return None
    # O_NONBLOCK: if a FIFO is swapped in after the stat, opening it does not wait for a writer.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_user_bytes(path: str, option: str, limit: int = USER_FILE_LIMIT) -> bytes:
    """A file the user named: regular (never a device or a FIFO, which could block or never
    end) and at most ``limit`` bytes; InputError naming the option and the file otherwise."""
    try:
        data = read_capped(path, limit)
    except OSError as exc:
        raise InputError(f"{option} {path}: {exc.strerror}") from exc
    except ValueError as exc:  # a NUL in the path
        raise InputError(f"{option} {path!r}: not a usable path") from exc
    if data is None:
        raise InputError(f"{option} {path}: not a regular file (a device, FIFO or directory)")
    if len(data) > limit:
        raise InputError(f"{option} {path}: larger than {limit >> 20} MiB; not read")
    return data


def read_user_text(path: str, option: str) -> str:
    """A text file the user named (inventory, baseline): UTF-8, see ``read_user_bytes``."""
    try:
        return read_user_bytes(path, option).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{option} {path}: not UTF-8 text") from exc
