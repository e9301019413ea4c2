"""The one way a value reaches a shell: every script and command line podaudit builds for
``sh`` (the gather script, the change scripts, the commands shown to people) quotes
node-supplied text here, and no other module quotes for a shell.

A value from a node, a Node object, a tree or a bundle is hostile: it may hold quotes, ``$(...)``,
backticks, newlines, a leading ``-`` or bytes that are not UTF-8 (kept in ``str`` by
surrogateescape). Three forms, one rule each:

- ``quote``: one POSIX ``sh`` word that stands for exactly those bytes (scripts run by ``sh``);
- ``printf_word``: the same, ASCII only, as a ``printf`` format (the gather script, which is
  ASCII text and decodes each value with ``printf "$1"``);
- ``display``: a word a person reads and pastes into bash, every invisible byte spelt ``\\xNN``.

A word that starts with ``-`` is still one word; the commands that take it put ``--`` first.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

# printf_word keeps these bytes as they are; every other byte (quotes, '%', '\\', spaces,
# non-ASCII) becomes \\ooo, which no shell and no printf reads as anything but that byte.
_PRINTF_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._")


def _raw(value: str) -> bytes:
    """The bytes ``value`` stands for; ValueError for what no program can receive."""
    if "\0" in value:
        raise ValueError("a NUL byte cannot reach a shell")
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate that surrogateescape did not make (a "\\ud800" from JSON) stands
        # for no bytes at all.
        raise ValueError(f"{value!r} is not a sequence of bytes a shell can be given") from None


def speakable(value: str) -> bool:
    """Whether ``value`` can be passed to a shell at all (no NUL, only real bytes)."""
    try:
        _raw(value)
    except ValueError:
        return False
    return True


def quote(value: str) -> str:
    """``value`` as one ``sh`` word: itself when it holds only safe characters, else single
    quotes around its exact bytes (undecodable ones kept by surrogateescape). A NUL byte cannot
    be passed to any program, so it is refused rather than silently cut."""
    _raw(value)
    return shlex.quote(value)


def join(words: Iterable[str]) -> str:
    """A command line of ``sh`` words, each quoted (``shlex.join``)."""
    return " ".join(quote(word) for word in words)


def printf_word(value: str) -> str:
    """``value`` as one single-quoted, ASCII-only ``printf`` format that prints exactly its
    bytes: safe bytes as they are, every other one as ``\\ooo`` (so no ``%`` directive, no
    quote and no byte above 0x7f is ever in the word)."""
    raw = _raw(value)
    return "'" + "".join(chr(b) if b in _PRINTF_SAFE else f"\\{b:03o}" for b in raw) + "'"


def display(value: str) -> str:
    """A word a person can read and paste into bash: ``quote`` when it shows as it is, else
    bash's ``$'...'`` with every byte that would not show faithfully as ``\\xNN``."""
    if all(c.isprintable() and not 0xDC80 <= ord(c) <= 0xDCFF for c in value):
        return quote(value)
    out = []
    for byte in _raw(value):
        char = chr(byte)
        out.append(char if 0x20 <= byte < 0x7F and char not in "\\'" else f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"
