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
