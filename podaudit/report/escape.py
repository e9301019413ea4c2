"""Text from nodes, made safe to show: one escaping rule for every report format.

Everything a node says may reach a person's terminal: a report on stdout, an error line on
stderr, a JSON value that ``jq -r`` prints. ``printable`` is the one rule, applied where text
leaves podaudit: C0 and C1 controls and DEL (escape sequences that retitle a window, clear the
screen or hide a hyperlink), format characters (bidi overrides and isolates, zero-width
characters, which make text read otherwise than it is), line and paragraph separators and
undecodable bytes are written as visible escapes.
"""

from __future__ import annotations


def printable(text: str, keep: str = "") -> str:
    """Control and format characters as ``\\xNN`` (``\\uNNNN``, ``\\UNNNNNNNN``) text, and an
    undecodable file name byte (kept by surrogateescape) as ``\\xNN`` of that byte: what is
    shown is exact. ``keep``: characters left as they are (a line break where lines are
    wanted). Python's ``str.isprintable`` decides: every category but letters, marks, numbers,
    punctuation, symbols and the ASCII space is escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
