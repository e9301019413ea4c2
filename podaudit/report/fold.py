"""Text that wraps at word breaks and, when a word (a path) is longer than the line, at ``/``.

rich breaks lines only at whitespace (``rich/_wrap.py`` ``divide_line``) and cuts a word longer
than the line with ``chop_cells``, at any character: ``/etc/kubernetes/manifest`` | ``s``. A
zero-width space after each ``/`` would not help: it is no whitespace to rich's word pattern,
and it is a format character our console shows as ``\\u200b`` (and it would spoil a copied
path). So ``Folded`` lays lines out itself and adds no character: a word that fits on a line
stays whole on one line (copying it gives the exact path); only a word longer than the line is
cut, after a ``/``, and a piece without a ``/`` still too long is cut at the line's end (the
one case left where a name must break).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

WORD = re.compile(r"\s*\S+\s*")
PIECE = re.compile(r"[^/]*/+|[^/]+")  # a path's pieces, each ending at its "/" (or the word's end)


def pieces(word: str) -> list[str]:
    """``/etc/kubernetes/x.yaml`` -> ``/``, ``etc/``, ``kubernetes/``, ``x.yaml``."""
    return PIECE.findall(word)


def breaks(line: str, width: int) -> list[int]:
    """Where to cut ``line`` (no line breaks in it) so each part fits ``width`` cells: before a
    word that does not fit the rest of the line; inside a word longer than ``width``, after a
    ``/``; inside a piece longer than ``width``, at ``width`` cells."""
    cuts: list[int] = []
    used = 0
    for match in WORD.finditer(line):
        start, word = match.start(), match.group()
        if used + cell_len(word.rstrip()) <= width:
            used += cell_len(word)
            continue
        if used and start:
            cuts.append(start)
            used = 0
        if cell_len(word.rstrip()) <= width:
            used = cell_len(word)
            continue
        used = _cut_word(word, start, width, used, cuts)
    return cuts


def _cut_word(word: str, start: int, width: int, used: int, cuts: list[int]) -> int:
    """Cut an over-long word after its slashes (``cuts`` gets the offsets); the cells used on
    the last line."""
    offset = start
    for piece in pieces(word):
        size = cell_len(piece.rstrip())
        if used and used + size > width:
            cuts.append(offset)
            used = 0
        if size <= width:
            used += cell_len(piece)
        else:  # a file name longer than the line: no place to break but inside it
            chopped = chop_cells(piece, width)
            for part in chopped[:-1]:
                offset += len(part)
                cuts.append(offset)
            used = cell_len(chopped[-1])
            offset += len(chopped[-1])
            continue
        offset += len(piece)
    return used


def narrowest(line: str) -> int:
    """The fewest cells ``line`` fits in without cutting inside a piece of a word."""
    return max((cell_len(p.rstrip()) for w in line.split() for p in pieces(w)), default=0)


class Folded:
    """A ``Text`` laid out by ``breaks``: in a table cell, or printed with a ``lead`` (a field's
    name, ``  1. ``, ``  - ``) before its first line and as many spaces before the others, so
    a long value hangs under itself instead of running back to the margin."""

    def __init__(self, text: Text | str, style: str = "", lead: Text | str = "") -> None:
        self.text = text if isinstance(text, Text) else Text(text, style)
        self.lead = lead if isinstance(lead, Text) else Text(lead)

    def lines(self, width: int) -> Iterator[Text]:
        indent = self.lead.cell_len
        body = max(width - indent, 1)
        first = True
        for line in self.text.split("\n", allow_blank=True):
            parts = line.divide(breaks(line.plain, body))
            for number, part in enumerate(parts, start=1):
                if number < len(parts):
                    part.rstrip()  # the space a line was broken at, not a trailing space of the text
                yield Text.assemble(self.lead if first else " " * indent if part.plain else "", part)
                first = False

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Each line fits the width already: rich's own wrapping finds nothing left to cut.
        laid = Text("\n").join(self.lines(options.max_width))
        laid.overflow, laid.end = "fold", self.text.end
        yield laid

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        indent = self.lead.cell_len
        widest = indent + max(cell_len(line) for line in self.text.plain.split("\n"))
        return Measurement(min(indent + narrowest(self.text.plain), widest), widest).clamp(
            max_width=options.max_width)
