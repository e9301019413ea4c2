"""A kubectl List file read item by item: a snapshot's api/pods.json of 10,000 nodes is
85 MB, which ``json.loads`` turns into about 600 MB of dicts at once; here only one item's
dict lives at a time, each turned into its small parsed object straight away.

Only a well-formed List takes this way. Anything else (not UTF-8, not JSON, not a List, an
``items`` key twice, a file larger than the cap) returns None, and the caller reads the
whole file the old way (api/view.py ``load_list``), so every message about a bad file is
the one it always was, word for word.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 1 << 20
_SPACE = " \t\n\r"  # json's WHITESPACE: what may stand between tokens


class _Fallback(Exception):
    """Not the happy path: read the whole file instead."""


class _Reader:
    """A growing text window over the file, decoded as ``bytes.decode("utf-8-sig")`` would."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd, self.left = fd, limit + 1
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self.text, self.pos, self.eof = "", 0, False

    def more(self) -> None:
        if self.eof:
            raise _Fallback
        data = os.read(self.fd, min(CHUNK, self.left)) if self.left > 0 else b""
        self.left -= len(data)
        if self.left <= 0:  # past the cap: load_list says so
            raise _Fallback
        self.eof = not data
        if self.pos > CHUNK:  # drop what was consumed, so the window stays about one chunk
            self.text, self.pos = self.text[self.pos:], 0
        self.text += self.decoder.decode(data, final=self.eof)

    def skip_space(self) -> str:
        """The next character after whitespace ('' at the end of the file)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos:self.pos + 1]
            self.more()

    def expect(self, chars: str) -> str:
        char = self.skip_space()
        if not char or char not in chars:
            raise _Fallback
        self.pos += 1
        return char

    def value(self, decoder: json.JSONDecoder) -> Any:
        """One JSON value. A value that ends exactly at the window's end may be cut short (a
        number: 12|34), so it counts only once more text or the file's end follows it."""
        self.skip_space()
        while True:
            try:
                found, end = decoder.raw_decode(self.text, self.pos)
            except ValueError:
                found, end = None, -1
            if end != -1 and (end < len(self.text) or self.eof):
                self.pos = end
                return found
            self.more()


def load_parsed(path: str, problems: list[str], parse: Callable[[dict[str, Any]], T | None],
                whole: Callable[[str, list[str]], list[dict[str, Any]]], limit: int,
                parse_int: Callable[[str], Any]) -> list[T]:
    """``parse`` of each item of a kubectl List file as ``whole`` (api/view.py ``load_list``)
    gives the items, with its problem lines; read one item at a time when the file is a
    plain List of at most ``limit`` bytes."""
    streamed = parse_list_file(path, limit, parse, parse_int)
    if streamed is None:
        return [p for i in whole(path, problems) if (p := parse(i)) is not None]
    parsed, objects, total = streamed
    if objects < total:
        problems.append(f"{path}: {total - objects} of {total} items are not objects; skipped them")
    return parsed


def parse_list_file(path: str, limit: int, parse: Callable[[dict[str, Any]], T | None],
                    parse_int: Callable[[str], Any]) -> tuple[list[T], int, int] | None:
    """(parsed items, object items, all items) of a kubectl List file, ``parse`` applied to
    each object item as it is read (None from ``parse`` skips it); None when the file is not
    a plain, well-formed List that ``json.loads`` would read to the same items."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _parse(_Reader(fd, limit), parse, json.JSONDecoder(parse_int=parse_int))
    except (_Fallback, ValueError, RecursionError, OSError):
        return None
    finally:
        os.close(fd)


def _parse(reader: _Reader, parse: Callable[[dict[str, Any]], T | None], decoder: json.JSONDecoder
           ) -> tuple[list[T], int, int]:
    found: tuple[list[T], int, int] | None = None
    reader.expect("{")
    if reader.skip_space() == "}":
        raise _Fallback  # no items: the old way says so
    while True:
        key = reader.value(decoder)
        if not isinstance(key, str):
            raise _Fallback
        reader.expect(":")
        if key == "items":
            if found is not None:
                raise _Fallback  # json.loads keeps the last one: the old way decides
            found = _items(reader, parse, decoder)
        else:
            reader.value(decoder)
        if reader.expect(",}") == "}":
            break
    if found is None or reader.skip_space() != "":
        raise _Fallback  # no items, or text after the document (json.loads: "Extra data")
    return found


def _items(reader: _Reader, parse: Callable[[dict[str, Any]], T | None], decoder: json.JSONDecoder
           ) -> tuple[list[T], int, int]:
    reader.expect("[")
    parsed: list[T] = []
    objects = total = 0
    if reader.skip_space() == "]":
        reader.pos += 1
        return parsed, 0, 0
    while True:
        item = reader.value(decoder)
        total += 1
        if isinstance(item, dict):
            objects += 1
            if (one := parse(item)) is not None:
                parsed.append(one)
        if reader.expect(",]") == "]":
            return parsed, objects, total
