"""One sweep, many reports: ``-o FORMAT`` to standard output and each ``--report FORMAT=PATH``
to its file, all made from the same result and findings, so CI sweeps the fleet once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import TYPE_CHECKING

from podaudit.errors import InputError

if TYPE_CHECKING:
    from podaudit.api.view import ApiView
    from podaudit.audit.engine import AuditResult
    from podaudit.collect.source import SweepResult

# A table written to a file is read in an editor or a CI log: wide enough not to fold paths.
FILE_TABLE_WIDTH = 160


def parse_reports(specs: Iterable[str], formats: tuple[str, ...]) -> list[tuple[str, str]]:
    """``--report FORMAT=PATH`` values as (format, path); one line naming the bad one."""
    found: list[tuple[str, str]] = []
    for spec in specs:
        form, equals, path = spec.partition("=")
        if not equals or not path:
            raise InputError(f"--report {spec}: give FORMAT=PATH, e.g. --report sarif=podaudit.sarif")
        if form not in formats:
            raise InputError(f"--report {spec}: no format {form!r}; one of {', '.join(formats)}")
        if path == "-":
            raise InputError(f"--report {spec}: standard output is -o's; give a file")
        if any(os.path.abspath(path) == os.path.abspath(other) for _, other in found):
            raise InputError(f"--report {spec}: {path} is already written by another --report")
        found.append((form, path))
    return found


def render(form: str, result: SweepResult, findings: AuditResult, api: ApiView | None) -> str:
    """The report in ``form`` as text (a table as a person reads it in a file: no colour)."""
    from podaudit import __version__

    if form == "json":
        from podaudit.report.jsonout import dumps, sweep_json

        return dumps(sweep_json(result, findings, api)) + "\n"
    if form == "markdown":
        from podaudit.report.markdown import render_markdown

        return render_markdown(result, findings)
    if form == "junit":
        from podaudit.report.junit import render_junit

        return render_junit(result, findings) + "\n"
    if form == "sarif":
        import json

        from podaudit.report.sarif import render_sarif

        return json.dumps(render_sarif(result, findings, __version__), indent=2, ensure_ascii=True) + "\n"
    if form == "html":
        from podaudit.report.html import render_html

        return render_html(result, findings, __version__)
    if form == "watch-paths":
        from podaudit.report.watch import render_watch_paths

        return render_watch_paths(result)
    return _table(result, findings)


def _table(result: SweepResult, findings: AuditResult) -> str:
    import io

    from podaudit.report.console import SafeConsole
    from podaudit.report.text import render_sweep

    out = io.StringIO()
    render_sweep(SafeConsole(file=out, width=FILE_TABLE_WIDTH, color_system=None), result, findings)
    return out.getvalue()


def write_report(path: str, text: str) -> None:
    """Whole or not at all: written beside its place, then renamed over it, so a job that is
    cancelled, or a reader that looks early, never sees half a report."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".podaudit-report-")
    except OSError as exc:
        raise InputError(f"--report {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except OSError as exc:
        raise InputError(f"--report {path}: {exc.strerror}") from exc
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
