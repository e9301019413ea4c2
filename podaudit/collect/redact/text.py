"""Text files the kubelet model reads: systemd units and drop-ins, environment files, MicroK8s
kubelet args files, and YAML/JSON config files (documents.py).

Each is read with the parser podaudit's analysis uses (systemd.logical_lines,
envfile.parse_environment_file, parse_environment_assignments, parse_exec_value) and written
back from what it found: the keys podaudit reads, their values redacted as command lines
(words.py), on the lines they were on, so that podaudit's parser finds the same settings. Comments,
lines podaudit does not read and every other value are not carried over. Which format a file
is, is told from its text (bundle.py hands over bytes only).
"""

from __future__ import annotations

import re

from podaudit.collect.redact.documents import UNDECODABLE, redact_document
from podaudit.collect.redact.values import VARIABLES, token
from podaudit.collect.redact.words import program, read_flags, redact_words, words_text
from podaudit.kubelet.envfile import (
    WHITESPACE,
    parse_environment_assignments,
    parse_environment_file,
    parse_exec_value,
)
from podaudit.kubelet.flags import READ_FLAGS
from podaudit.kubelet.launch_microk8s import line_parts
from podaudit.kubelet.systemd import logical_lines

_SECTION = re.compile(r"\[[A-Za-z][A-Za-z0-9_-]*\]")
_HEADER = re.compile(r"\[.*\]")
_UNIT_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_SIMPLE = re.compile(r"[A-Za-z0-9_.@%+:/-]*")
_ASSIGNMENT = re.compile(r"^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*=", re.M)
_FLAG_LINE = re.compile(r"^[ \t]*--?[A-Za-z]", re.M)
_BAD_UTF8 = "\udcff"  # written back as the byte 0xff: systemd still finds the line not UTF-8


def redact_text(data: bytes) -> bytes:
    """Any file of the kubelet's settings, by what it looks like."""
    text = data.decode("utf-8", "surrogateescape")
    if any(_HEADER.fullmatch(line.strip(WHITESPACE)) for _, line in logical_lines(text)):
        out = redact_unit(text)
    elif _ASSIGNMENT.search(text):
        out = redact_env_file(text)
    elif _FLAG_LINE.search(text):
        out = redact_args_file(text)
    else:
        document = redact_document(data)
        if document is not None:
            return document
        return UNDECODABLE if text.strip() and _undecodable(data) else b"# REDACTED\n" if text.strip() else b""
    return out.encode("utf-8", "surrogateescape")


def _undecodable(data: bytes) -> bool:
    from podaudit.kubelet.yamlload import DecodeError, decode_document

    try:
        decode_document(data)
    except DecodeError:
        return True
    return False


def _at(lines: list[str], number: int, line: str) -> None:
    """Put ``line`` at line ``number`` (1-based), blank lines before it as needed."""
    lines += [""] * (number - 1 - len(lines))
    lines.append(line)


def redact_unit(text: str) -> str:
    """A unit file or drop-in: section headers and keys, values as podaudit's parser reads them."""
    lines: list[str] = []
    for number, logical in logical_lines(text):
        line = logical.strip(WHITESPACE)
        key, equals, rest = line.partition("=")
        if any(0xDC80 <= ord(c) <= 0xDCFF for c in line):
            _at(lines, number, _BAD_UTF8)  # systemd ignores the line: so will the analysis
        elif line.startswith("["):
            _at(lines, number, _section(line))
        elif equals and _UNIT_KEY.fullmatch(key.strip(WHITESPACE)):
            key = key.strip(WHITESPACE)
            redacted = _unit_value(key, rest.strip(WHITESPACE))
            if redacted is not None:
                _at(lines, number, f"{key}={redacted}")
    return "\n".join(lines) + "\n"


def _section(line: str) -> str:
    """A header as systemd judges it (config_parse()): a bad one stays bad, an odd name stays odd."""
    if not line.endswith("]") or any(ord(c) < 0x20 or c in "\"'\\\x7f" for c in line):
        return "[REDACTED"
    return line if _SECTION.fullmatch(line) else f"[{token(line[1:-1])}]"


def _unit_value(key: str, text: str) -> str | None:
    """The value to write, None for none (an empty one resets a list)."""
    if key == "ExecStart":
        return _exec(text)
    if key == "Environment":
        pairs = parse_environment_assignments(text)
        if text and not pairs:
            return None  # nothing systemd takes from it
        return " ".join(_c_quote(f"{name}={words_text(val)}") for name, val in pairs)
    if key in {"EnvironmentFile", "WorkingDirectory", "User", "Type"}:
        return text if _SIMPLE.fullmatch(text) else token(text)
    return token(text) if text else ""


def _exec(text: str) -> str | None:
    """ExecStart=: the commands podaudit's parser takes from it (parse_exec_value()), each
    program kept (or a token systemd judges alike) and its arguments redacted as a command line."""
    commands, _ = parse_exec_value(text)
    written = []
    for command in commands:
        args = redact_words(command.args, read_flags(command.program))
        # "$" and a name that is no variable name: systemd expands it to nothing; so does "$".
        args = ["$" if _unset(word) else new for word, new in zip(command.args, args, strict=True)]
        name = ("" if command.expand_environment else ":") + program(command.program)
        written.append(" ".join(_c_quote(w) for w in (name, *args)))
    return " ; ".join(written) if written or not text else None


def _unset(word: str) -> bool:
    return word.startswith("$") and word[1:2] not in ("{", "$") and not VARIABLES.fullmatch(word)


def _c_quote(word: str) -> str:
    """A word systemd's extract_first_word() (with C unescaping) reads back as ``word``."""
    if word and re.fullmatch(r"[A-Za-z0-9_.,:/=@%+{}$-]+", word):
        return word
    out = []
    for char in word:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")  # a raw byte: \xNN
        elif char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def redact_env_file(text: str) -> str:
    """An EnvironmentFile=: each valid assignment on its line, its value redacted as words."""
    lines: list[str] = []
    for name, val, number in parse_environment_file(text):
        if any(0xDC80 <= ord(c) <= 0xDCFF for c in val):
            _at(lines, number, f"{name}={_BAD_UTF8}")  # load_env_file() refuses the file: so will the analysis
        else:
            _at(lines, number, f'{name}="{_env_quote(words_text(val))}"')
    return "\n".join(lines) + "\n"


def _env_quote(text: str) -> str:
    """Inside "..." of an env file: a backslash protects only these (SHELL_NEED_ESCAPE)."""
    return "".join("\\" + c if c in '"\\`$' else c for c in text)


def redact_args_file(text: str) -> str:
    """MicroK8s args/kubelet: its words as kubelite splits them (launch_microk8s.line_parts: the
    quotes it deletes are gone, every word is a word, a stray one stays one), redacted across
    lines as pflag pairs them (``--flag`` at a line's end takes the next line's first word)."""
    per_line = [line_parts(raw) for raw in text.splitlines()]
    redacted = iter(redact_words([w for words in per_line for w in words], READ_FLAGS))
    return "\n".join(" ".join(next(redacted) for _ in words) for words in per_line) + "\n"
