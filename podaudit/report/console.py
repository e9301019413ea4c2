"""The rich console every report for people goes through, and the one way node text gets in.

Reports build ``Text`` objects: our words with their styles, node text as ``plain`` pieces, so
no name, path or YAML value is ever read as rich markup (``[link=...]`` in a file name stays
text). The console is the boundary behind that: markup and emoji codes off, so a string is
shown as written; every string and every rendered segment passed through ``printable`` (line
breaks kept), so no control or format character reaches the terminal even from a renderer
that forgot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from podaudit.report.escape import printable


class SafeConsole(Console):
    """A rich Console for text from nodes: markup, emoji codes and highlighting off; segments
    escaped. Styles become escape sequences after rendering (on a terminal only): ours."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        # Every plain string printed or put in a table: escaped before rich makes it Text (which
        # would drop BEL, BS, VT, FF and CR unseen) and before widths are measured.
        return super().render_str(printable(text, keep="\n"), **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or segment.text.isprintable():
                yield segment
            else:
                yield Segment(printable(segment.text, keep="\n"), segment.style, segment.control)


def plain(text: str, style: str = "") -> Text:
    """Node text as rich text: printable, never markup, in one style (a span, as markup gives:
    in a table cell, the padding stays unstyled)."""
    shown = Text(printable(text))
    if style:
        shown.stylize(style)
    return shown

