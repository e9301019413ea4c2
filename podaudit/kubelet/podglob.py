"""Go's path/filepath Clean, Match and Glob, as the kubelet's file source lists its folder.

pkg/kubelet/config/file.go extractFromDir lists ``filepath.Glob(filepath.Join(path, "[^.]*"))``:
Join cleans the path *lexically* first (``link/..`` is the link's parent as written, not the
parent of where the link leads, which is what the kernel's os.Stat just checked), and Glob
treats ``* ? [ \\`` in every component as pattern characters: a folder named ``manifests*``
also lists ``manifests.bak``, a malformed pattern lists nothing. Semantics of Go 1.22+
(match.go: a malformed pattern is an error even where the name does not match).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from podaudit.model import NodeReader, go_sorted

META = "*?[\\"  # match.go hasMeta, Unix: the backslash escapes
BAD_PATTERN = "syntax error in pattern"  # filepath.ErrBadPattern
MAX_DEPTH = 64  # no static pod path has more components with pattern characters

# One element of a pattern: a literal character, "?" (any one but "/"), "*" (any run without
# "/"), or a class (negated, and its ranges as (lo, hi) pairs).
Token = tuple[str, str] | tuple[str, bool, tuple[tuple[str, str], ...]]


def go_clean(path: str) -> str:
    """filepath.Clean: lexical; "//x" is "/x" and "" is "."."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def has_meta(text: str) -> bool:
    return any(c in text for c in META)


def parse_pattern(pattern: str) -> list[Token] | None:
    """The pattern's elements, or None when Go's Match says ErrBadPattern."""
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                return None
            tokens.append(("lit", pattern[i + 1]))
            i += 2
        elif c in "*?":
            tokens.append((c, c))
            i += 1
        elif c == "[":
            found = _parse_class(pattern, i + 1)
            if found is None:
                return None
            token, i = found
            tokens.append(token)
        else:
            tokens.append(("lit", c))
            i += 1
    return tokens


def _parse_class(pattern: str, i: int) -> tuple[Token, int] | None:
    """A class after its "[" (match.go matchChunk and getEsc): "^" negates; "-" or "]" cannot
    start a range; the class needs one range and ends at the next "]"."""
    negated = i < len(pattern) and pattern[i] == "^"
    i += negated
    ranges: list[tuple[str, str]] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            return ("class", negated, tuple(ranges)), i + 1
        lo = _class_char(pattern, i)
        if lo is None:
            return None
        low, i = lo
        high = low
        if i < len(pattern) and pattern[i] == "-":
            hi = _class_char(pattern, i + 1)
            if hi is None:
                return None
            high, i = hi
        ranges.append((low, high))


def _class_char(pattern: str, i: int) -> tuple[str, int] | None:
    """getEsc: one character of a class, "\\" escaping the next one."""
    if i >= len(pattern) or pattern[i] in "-]":
        return None
    if pattern[i] == "\\":
        return (pattern[i + 1], i + 2) if i + 1 < len(pattern) else None
    return pattern[i], i + 1


def match(tokens: list[Token], name: str) -> bool:
    """Whether ``name`` matches: stars never cross "/" (one pass, positions reachable so far)."""
    reach = {0}
    for token in tokens:
        if token[0] == "*":
            grown: set[int] = set()
            for start in reach:
                stop = name.find("/", start)
                grown.update(range(start, (len(name) if stop < 0 else stop) + 1))
            reach = grown
            continue
        reach = {p + 1 for p in reach if p < len(name) and _one(token, name[p])}
        if not reach:
            return False
    return len(name) in reach


def _one(token: Token, char: str) -> bool:
    if token[0] == "lit":
        return char == token[1]
    if token[0] == "?":
        return char != "/"
    _, negated, ranges = token  # type: ignore[misc]
    inside = any(lo <= char <= hi for lo, hi in ranges)
    return inside != negated


@dataclass(frozen=True)
class GlobResult:
    paths: tuple[str, ...]  # what filepath.Glob returns, each directory's names in byte order
    error: str | None = None  # ErrBadPattern: the kubelet lists nothing
    folders: tuple[str, ...] = ()  # the folders whose entries were matched


def go_glob(reader: NodeReader, pattern: str, depth: int = 0) -> GlobResult:
    """filepath.Glob (globWithLimit): folders with pattern characters are globbed first."""
    if parse_pattern(pattern) is None or depth > MAX_DEPTH:
        return GlobResult((), BAD_PATTERN)
    if not has_meta(pattern):
        return GlobResult((pattern,) if reader.file(pattern).kind != "missing" else ())
    folder, name = posixpath.split(pattern)
    folder = folder or "."
    if not has_meta(folder):
        return GlobResult(tuple(_glob_in(reader, folder, name)), None, (folder,))
    if folder == pattern:
        return GlobResult((), BAD_PATTERN)
    parents = go_glob(reader, folder, depth + 1)
    if parents.error is not None:
        return parents
    found: list[str] = []
    for parent in parents.paths:
        found += _glob_in(reader, parent, name)
    return GlobResult(tuple(found), None, parents.paths)


def _glob_in(reader: NodeReader, folder: str, pattern: str) -> list[str]:
    """match.go glob(): a folder that cannot be read or is no folder contributes nothing."""
    tokens = parse_pattern(pattern) or []
    if reader.file(folder).kind != "dir":
        return []
    listing = reader.listdir(folder)
    names = go_sorted(listing.names or ())
    return [posixpath.join(folder, n) for n in names if match(tokens, n)]
