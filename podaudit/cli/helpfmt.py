"""Help that reads like a manual page: each command's options in sections (nodes, connection,
API, output, audit), so ``podaudit find --help`` shows what find uses and nothing else.

click prints every option in one list; a ``SectionedOption`` names its section and the
commands here print one definition list per section, in a fixed order. Plain click (no
rich-click): ``podaudit --help`` must not import rich.
"""

from __future__ import annotations

from typing import Any

import click

SECTIONS = ("Options", "Nodes", "Connection", "API", "Output", "Audit", "Other")


class SectionedOption(click.Option):
    """An option that knows which help section it belongs to."""

    def __init__(self, *args: Any, section: str = "Options", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


def _write_sections(command: click.Command, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    rows: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option):
            continue  # arguments are in the usage line
        record = param.get_help_record(ctx)
        if record is not None:
            rows.setdefault(getattr(param, "section", "Options"), []).append(record)
    for title in SECTIONS:
        if rows.get(title):
            with formatter.section(f"{title} options" if title not in {"Options", "Other"} else title):
                formatter.write_dl(rows[title])


class SectionedCommand(click.Command):
    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _write_sections(self, ctx, formatter)


class SectionedGroup(click.Group):
    command_class = SectionedCommand
    group_class = type  # subgroups are sectioned too

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _write_sections(self, ctx, formatter)
        self.format_commands(ctx, formatter)
