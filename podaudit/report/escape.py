"""Text from nodes, made safe to show: one escaping rule for every report format."""

from __future__ import annotations


def printable(text: str) -> str:
    """Control and format characters as ``\\xNN`` (``\\uNNNN``) text, and an undecodable file
    name byte (kept by surrogateescape) as ``\\xNN`` of that byte: what is shown is exact."""
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shell_word(text: str) -> str:
    """A word a person can read and paste into bash: ``shlex.quote`` when it shows as it is,
    else bash's ``$'...'`` with every byte that would not show faithfully as ``\\xNN``."""
    import shlex

    if all(c.isprintable() and not 0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return shlex.quote(text)
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        out.append(char if 0x20 <= byte < 0x7F and char not in "\\'" else f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"
