"""config show: every setting, its value, and where it came from (flag, environment, file,
default), so a CI job's behaviour can be read off one command."""

from __future__ import annotations

import os
from typing import Any

import click

from podaudit.cli.helpfmt import SectionedGroup
from podaudit.cli.options import Options, check_format, shared_options


@click.group(cls=SectionedGroup)
def config() -> None:
    """podaudit's settings: flags, PODAUDIT_* variables, the settings file."""


@config.command("show")
@shared_options
@click.pass_context
def show(ctx: click.Context) -> None:
    """Each setting's value and where it came from: flag > env PODAUDIT_* > file > default."""
    from podaudit.cli.settings import known_settings

    opts = ctx.ensure_object(Options)
    check_format(opts, ("table", "json"))
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    settings = opts.settings
    rows = [_row(opts, name, param, settings) for name, param in sorted(known_settings(root).items())]
    if opts.output == "json":
        from podaudit.report.jsonout import dumps

        path = os.path.abspath(settings.path) if settings is not None and settings.path else None
        click.echo(dumps({"configFile": path, "settings": [
            {"name": name, "value": value, "source": source} for name, value, source in rows]}))
        return
    from podaudit.report.escape import printable

    path = os.path.abspath(settings.path) if settings is not None and settings.path else "none"
    click.echo(f"config file: {printable(path)}")
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        click.echo(f"{name.replace('_', '-'):<{width}}  {printable(_shown(value)):<30}  {source}")


def _row(opts: Options, name: str, param: click.Parameter, settings: Any) -> tuple[str, Any, str]:
    """One setting: shared options as the group recorded them; the others (--fail-on, --report)
    as their command would take them."""
    assert param.name is not None
    if param.name in opts.sources:
        value = getattr(opts, param.name) if param.name in {"output", "debug"} else opts.where.get(param.name)
        return name, value, opts.sources[param.name]
    env = getattr(param, "envvar", None)
    if isinstance(env, str) and env in os.environ:
        return name, os.environ[env], f"env {env}"
    if settings is not None and param.name in settings.values:
        return name, settings.values[param.name], "file"
    return name, _default(opts, param), "default"


def _default(opts: Options, param: click.Parameter) -> Any:
    from dataclasses import fields

    from podaudit.run.select import Selection

    if param.name == "output":
        return opts.output
    defaults = {f.name: f.default for f in fields(Selection)}
    if param.name in defaults:
        return defaults[param.name]
    # click marks "no default" with a sentinel object of its own
    return param.default if isinstance(param.default, (str, int, float, bool, list, tuple)) else None


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)
