"""systemd's text rules for environment files, ``Environment=`` values and ``ExecStart=`` words.

Pure functions over ``str`` that never raise; each ports the systemd/systemd function its
docstring names (``src/basic/env-file.c``, ``extract-word.c``, ``escape.c``,
``src/core/load-fragment.c``). Bytes from ``\\xNN``/octal escapes travel surrogate-escaped
until a word is done, then are decoded as UTF-8 (invalid sequences become U+FFFD).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

WHITESPACE = " \t\n\r"
_NEWLINE = "\n\r"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters a backslash escapes inside "..." in an env file (SHELL_NEED_ESCAPE).
_SHELL_NEED_ESCAPE = '"\\`$'
_SIMPLE_ESCAPES = dict(zip("abfnrtv\\\"'s", "\a\b\f\n\r\t\v\\\"' ", strict=True))
_HEX = frozenset("0123456789abcdefABCDEF")
_OCT = frozenset("01234567")


def is_env_name(name: str) -> bool:
    """systemd's env_name_is_valid(): letters, digits and ``_``, not starting with a digit."""
    return _ENV_NAME.fullmatch(name) is not None


def parse_environment_file(text: str) -> list[tuple[str, str, int]]:
    """(key, value, line) of each assignment of an ``EnvironmentFile=``, in file order.

    Port of parse_env_file_internal(): comments only at the start of a line, quotes only at
    the start of a value. Invalid names (``export FOO``) are dropped, as strv_env_clean() does.
    """
    scanner = _EnvFileScanner()
    for char in text:
        scanner.feed(char)
    scanner.finish()
    return [(key, value, line) for key, value, line in scanner.found if is_env_name(key)]


class _EnvFileScanner:
    """The env-file state machine: one method per state of the C switch it mirrors."""

    def __init__(self) -> None:
        self.state = self.pre_key
        self.key: list[str] = []
        self.value: list[str] = []
        self.solid = 0  # value length up to its last character that is never trimmed
        self.line = self.key_line = 1
        self.found: list[tuple[str, str, int]] = []

    def feed(self, char: str) -> None:
        self.state(char)
        self.line += char == "\n"

    def finish(self) -> None:
        # A value still open at the end of the file is kept, as systemd does.
        if self.state not in (self.pre_key, self.in_key, self.comment):
            self.push(trim=self.state == self.unquoted)

    def push(self, trim: bool) -> None:
        value = self.value[: self.solid] if trim else self.value
        self.found.append(("".join(self.key).rstrip(WHITESPACE), "".join(value), self.key_line))
        self.state = self.pre_key

    def keep(self, *chars: str) -> None:
        self.value += chars
        self.solid = len(self.value)

    def pre_key(self, char: str) -> None:
        if char in "#;":
            self.state = self.comment
        elif char not in WHITESPACE:
            self.key, self.value, self.key_line = [char], [], self.line
            self.state = self.in_key

    def in_key(self, char: str) -> None:
        if char in _NEWLINE:
            self.state = self.pre_key  # no "=": not an assignment
        elif char == "=":
            self.state = self.pre_value
        else:
            self.key.append(char)

    def pre_value(self, char: str) -> None:
        # Quotes open only here: at the start of the value or right after a closing quote.
        moves = {"'": self.single, '"': self.double, "\\": self.unquoted_escape}
        if char in _NEWLINE:
            self.push(trim=False)
        elif char in moves:
            self.state = moves[char]
        elif char not in WHITESPACE:
            self.keep(char)
            self.state = self.unquoted

    def unquoted(self, char: str) -> None:
        if char in _NEWLINE:
            self.push(trim=True)  # trailing unescaped whitespace is dropped
        elif char == "\\":
            self.solid = len(self.value)
            self.state = self.unquoted_escape
        elif char in WHITESPACE:
            self.value.append(char)
        else:
            self.keep(char)

    def unquoted_escape(self, char: str) -> None:
        self.state = self.unquoted
        if char not in _NEWLINE:  # backslash-newline joins the lines and vanishes
            self.keep(char)

    def single(self, char: str) -> None:
        if char == "'":
            self.state = self.pre_value
        else:
            self.keep(char)

    def double(self, char: str) -> None:
        if char == '"':
            self.state = self.pre_value
        elif char == "\\":
            self.state = self.double_escape
        else:
            self.keep(char)

    def double_escape(self, char: str) -> None:
        self.state = self.double
        if char in _SHELL_NEED_ESCAPE:
            self.keep(char)
        elif char != "\n":  # other escapes keep their backslash, as in the shell
            self.keep("\\", char)

    def comment(self, char: str) -> None:
        if char in _NEWLINE:
            self.state = self.pre_key


def parse_environment_assignments(
    value: str,
    expand: Callable[[str], str] | None = None,
    errors: list[str] | None = None,
) -> list[tuple[str, str]]:
    """(key, value) pairs of one ``Environment=`` value, in order (config_parse_environ()).

    Words are split with quotes and C escapes, ``expand`` (unit specifiers) runs on each;
    words that are not ``NAME=value`` are skipped and a syntax error drops the rest of the
    line, each described in ``errors`` when a list is given.
    """
    pairs: list[tuple[str, str]] = []
    pos = 0
    while True:
        raw, pos, error = _extract_word(value, pos, cunescape=True)
        if error is not None and errors is not None:
            errors.append(f"{error}: systemd ignores the rest of the line")
        if raw is None or error is not None:
            return pairs
        text = _strict_text(expand(raw) if expand else raw)
        key, equals, val = (text or "").partition("=")
        if text is not None and equals and is_env_name(key):
            pairs.append((key, val))
        elif errors is not None:
            errors.append(f"{_loose_text(raw)!r} is not a NAME=value assignment: systemd "
                          "ignores it")


def split_words(text: str) -> list[str]:
    """Words of an ``ExecStart=`` command, quotes and C escapes removed (config_parse_exec()).

    An unterminated quote runs to the end of the text here; systemd would reject the line.
    """
    return [_loose_text(w) for w in _all_words(text, cunescape=True, keep_bad=True, relax=True)]


def split_variable_value(value: str) -> list[str]:
    """The arguments a lone ``$VAR`` in ``ExecStart=`` becomes (replace_env_argv()).

    Quotes are respected then removed; no C escapes: a backslash protects the next character.
    """
    return [_loose_text(w) for w in _all_words(value, cunescape=False, keep_bad=False,
                                               relax=True)]


@dataclass(frozen=True)
class ExecLine:
    """One command of an ``ExecStart=`` value, after prefixes and unit specifiers."""

    program: str  # the executable as written; systemd never expands variables in it
    args: tuple[str, ...]  # argv[1:]; with the "@" prefix the explicit argv[0] is dropped
    expand_environment: bool  # False with the ":" prefix


def parse_exec_value(
    value: str, expand: Callable[[str], str] | None = None,
) -> tuple[list[ExecLine], str | None]:
    """Port of config_parse_exec() for a non-empty value: its commands and any error.

    Commands are separated by a lone ``;`` (``\\;`` is a literal ``;`` argument). The
    error names what systemd does about it: ignore the line, or refuse to load the unit.
    """
    commands: list[ExecLine] = []
    pos = 0
    while True:
        first, pos, error = _extract_word(value, pos, cunescape=True, keep_bad=True)
        if error is not None:
            return commands, f"cannot be parsed ({error}): systemd ignores the line"
        if first is None:
            return commands, None
        if first == ";":  # an empty command between separators
            continue
        prefixes, path = _exec_prefixes(first)
        words, pos, more, error = _exec_words(value, pos)
        program = _loose_text(expand(path) if expand else path)
        args = [_loose_text(expand(w) if expand else w) for w in words]
        error = error or bad_program(program)
        if not error and "@" in prefixes and not args:
            error = "no argv[0] after the @ prefix"
        if error:
            fate = "systemd ignores it" if "-" in prefixes else "systemd refuses to load the unit"
            return commands, f"cannot be used ({error}): {fate}"
        commands.append(ExecLine(program, tuple(args[1:] if "@" in prefixes else args),
                                 ":" not in prefixes))
        if not more:
            return commands, None


def _exec_prefixes(word: str) -> tuple[str, str]:
    """Split the prefixes ``-@:+!`` (``!!`` allowed) off (systemd.service(5) ExecStart=)."""
    taken = ""
    for char in word:
        privileged = "+" in taken or "!" in taken
        allowed = (char in "-@:" and char not in taken) or (char == "+" and not privileged) or (
            char == "!" and "+" not in taken and taken.count("!") < 2)
        if not allowed:
            break
        taken += char
    return taken, word[len(taken):]


def _exec_words(value: str, pos: int) -> tuple[list[str], int, bool, str | None]:
    """Words after the program up to a lone ``;``: (words, next position, more, error)."""
    words: list[str] = []
    while pos < len(value):
        if value[pos] == ";" and not value[pos + 1 : pos + 2].strip(WHITESPACE):
            return words, _skip_blank(value, pos + 1), True, None
        if value.startswith("\\;", pos) and not value[pos + 2 : pos + 3].strip(WHITESPACE):
            words.append(";")
            pos = _skip_blank(value, pos + 2)
            continue
        word, pos, error = _extract_word(value, pos, cunescape=True, keep_bad=True)
        if error is not None:
            return words, pos, False, error
        if word is None:
            break
        words.append(word)
    return words, pos, False, None


def bad_program(path: str) -> str | None:
    """Why config_parse_exec() rejects this executable path, or None."""
    if not path:
        return "empty program path"
    if any(ord(c) < 0x20 or c in "\"'\\\x7f" for c in path):
        return f"program {path!r} contains special characters"
    if path.endswith("/"):
        return f"program {path} is a directory"
    if not path.startswith("/") and "/" in path:
        return f"program {path} is neither an absolute path nor a plain name"
    return None


def _all_words(text: str, *, cunescape: bool, keep_bad: bool, relax: bool) -> list[str]:
    words: list[str] = []
    pos = 0
    while True:
        word, pos, error = _extract_word(text, pos, cunescape=cunescape, keep_bad=keep_bad,
                                         relax=relax)
        if word is None or error is not None:
            return words
        words.append(word)


def _extract_word(
    text: str, pos: int, *, cunescape: bool, keep_bad: bool = False, relax: bool = False,
) -> tuple[str | None, int, str | None]:
    """Port of extract_first_word() (whitespace separators, EXTRACT_UNQUOTE).

    Returns (raw word or None at the end, position of the next word, error). Quotes may open
    anywhere in a word. ``keep_bad`` is EXTRACT_UNESCAPE_RELAX (an unknown ``\\q`` stays
    verbatim); ``relax`` is EXTRACT_RELAX (an unterminated quote is accepted).
    """
    end = len(text)
    pos = _skip_blank(text, pos)
    if pos >= end:
        return None, end, None
    out: list[str] = []
    quote = ""
    while pos < end:
        char = text[pos]
        if char == "\\":
            pos, error = _escape(text, pos, out, cunescape=cunescape, keep_bad=keep_bad,
                                 relax=relax)
            if error is not None:
                return None, end, error
        elif quote:
            if char == quote:
                quote = ""
            else:
                out.append(char)
            pos += 1
        elif char in "'\"":
            quote, pos = char, pos + 1
        elif char in WHITESPACE:
            return "".join(out), _skip_blank(text, pos), None
        else:
            out.append(char)
            pos += 1
    if quote and not relax:
        return None, end, "unbalanced quotes"
    return "".join(out), end, None


def _escape(text: str, pos: int, out: list[str], *, cunescape: bool, keep_bad: bool,
            relax: bool) -> tuple[int, str | None]:
    """Decode the backslash sequence at ``pos`` into ``out``: (next position, error)."""
    nxt = pos + 1
    if nxt >= len(text):
        if keep_bad:  # a trailing backslash stays verbatim
            out.append("\\")
        elif not relax:
            return nxt, "trailing backslash"
        return nxt, None
    if not cunescape:
        out.append(text[nxt])
        return nxt + 1, None
    decoded = _cunescape_one(text, nxt)
    if decoded is not None:
        out.append(decoded[0])
        return nxt + decoded[1], None
    if keep_bad:
        out += ["\\", text[nxt]]
        return nxt + 1, None
    return nxt, f"invalid escape \\{text[nxt]}"


def _cunescape_one(text: str, pos: int) -> tuple[str, int] | None:
    """Port of cunescape_one(): the character and length of the escape at ``pos``, or None."""
    char = text[pos]
    if char in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[char], 1
    width = {"x": 2, "u": 4, "U": 8}.get(char, 0)
    if width:
        digits = text[pos + 1 : pos + 1 + width]
        if len(digits) != width or not set(digits) <= _HEX or int(digits, 16) == 0:
            return None  # NUL is refused too
        code = int(digits, 16)
        if char == "x":
            return _byte(code), 3
        # Surrogates could not be passed to a process as UTF-8.
        return (chr(code), width + 1) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF \
            else None
    digits = text[pos : pos + 3]
    if len(digits) == 3 and set(digits) <= _OCT and 0 < int(digits, 8) <= 0xFF:
        return _byte(int(digits, 8)), 3
    return None


def _byte(code: int) -> str:
    """A raw byte from ``\\xNN``/``\\NNN``, surrogate-escaped until the word is decoded."""
    return chr(code) if code < 0x80 else chr(0xDC00 + code)


def _loose_text(word: str) -> str:
    """The word as UTF-8 text: escaped raw bytes decoded, invalid sequences replaced."""
    try:
        return word.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return word.encode("utf-8", "replace").decode("utf-8")


def _strict_text(word: str) -> str | None:
    """The word as text, or None when its bytes are not UTF-8 (env_value_is_valid())."""
    try:
        return word.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return None


def _skip_blank(text: str, pos: int) -> int:
    return len(text) - len(text[pos:].lstrip(WHITESPACE))
