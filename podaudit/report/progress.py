"""A progress bar on a terminal, nothing otherwise (CI logs stay clean)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def progress_for(total: int) -> Iterator[Callable[[Any], None]]:
    """Yield a callback to call once per finished node."""
    if not sys.stderr.isatty() or total < 2:
        yield lambda _result: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from podaudit.report.console import SafeConsole

    # Only our words and counts are shown; the console still keeps any node text inert.
    columns = (TextColumn("auditing nodes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=SafeConsole(stderr=True), transient=True) as progress:
        task = progress.add_task("sweep", total=total)
        yield lambda _result: progress.advance(task)
