"""Settings from a file: ``--config-file FILE``, else ``./podaudit.yaml``, else
``$XDG_CONFIG_HOME/podaudit/config.yaml``. They become click's ``default_map``, so a flag beats
the environment (PODAUDIT_*), which beats the file, which beats podaudit's default.

The file is read before click parses the command line (click needs the defaults first), so
``--config-file`` is picked out of argv here. A file in the working directory is read without
being named, so it must be the user's (or root's) and writable by no one else, as ssh asks of
its config: a checkout someone else can write must not choose the kubectl or the ssh_config
podaudit runs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

CONFIG_NAME = "podaudit.yaml"
CONFIG_ENV = "PODAUDIT_CONFIG_FILE"
# Settings that name a file: relative to the config file's folder, ~ expanded.
PATH_SETTINGS = frozenset({"snapshot", "root", "inventory", "ssh_config", "known_hosts", "identity", "kubeconfig",
                           "baseline", "write_baseline", "api_dir", "bundle"})


# Never from a file: --yes applies a change and --accept-findings silences findings, which
# only the command line may ask for.
NOT_SETTINGS = frozenset({"help", "version", "config_file", "yes", "accept_findings"})


@dataclass
class Settings:
    """The config file read (None: none) and its settings by option name (``fail_on``)."""

    path: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def config_argument(argv: Sequence[str]) -> str | None:
    """The value of --config-file in argv (the last one wins, as click does); None if absent."""
    found = None
    for index, word in enumerate(argv):
        if word == "--":
            break
        if word == "--config-file" and index + 1 < len(argv):
            found = argv[index + 1]
        elif word.startswith("--config-file="):
            found = word.partition("=")[2]
    return found


def config_path(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str | None, bool]:
    """The settings file to read and whether the user named it; '' (flag or env) means none."""
    named = config_argument(argv)
    if named is None:
        named = environ.get(CONFIG_ENV)
    if named is not None:
        return (os.path.expanduser(named) or None), True
    if os.path.lexists(CONFIG_NAME):
        return CONFIG_NAME, False
    home = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    found = os.path.join(home, "podaudit", "config.yaml")
    return (found if os.path.lexists(found) else None), False


def _check_trusted(path: str) -> None:
    """Only the user's (or root's) file, writable by no one else (ssh's rule for its config)."""
    from podaudit.errors import InputError

    info = os.stat(path)
    folder = os.stat(os.path.dirname(os.path.abspath(path)))
    if info.st_uid not in {os.getuid(), 0}:
        raise InputError(f"config {path}: owned by uid {info.st_uid}, not by you or root; not read "
                         f"(give --config-file '' to read none)")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InputError(f"config {path}: writable by group or others; not read (chmod go-w {path})")
    if folder.st_mode & stat.S_IWOTH and not folder.st_mode & stat.S_ISVTX:
        raise InputError(f"config {path}: its folder is writable by anyone; not read")


def load_settings(path: str | None, known: Mapping[str, click.Parameter]) -> Settings:
    """Read and check the settings file: a YAML mapping of option names (``fail-on`` or
    ``fail_on``) to values. InputError in one line naming the file and the setting."""
    if path is None:
        return Settings()
    import yaml

    from podaudit.errors import InputError
    from podaudit.userfiles import read_user_text

    try:
        _check_trusted(path)
    except OSError as exc:
        raise InputError(f"config {path}: {exc.strerror}") from exc
    text = read_user_text(path, "config")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"config {path}:{where}: not YAML ({getattr(exc, 'problem', None) or exc})") from exc
    if data is None:
        return Settings(path)
    if not isinstance(data, dict):
        raise InputError(f"config {path}: want a mapping of settings (inventory: hosts.ini), "
                         f"not a {type(data).__name__}")
    base = os.path.dirname(os.path.abspath(path))
    values = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise InputError(f"config {path}: unknown setting {str(key)!r}{_suggest(name, known)}")
        param = known[name]
        assert param.name is not None
        values[param.name] = _value(path, base, param.name, value, param)
    return Settings(path, values)


def _suggest(name: str, known: Mapping[str, click.Parameter]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0].replace('_', '-')}?)" if close else "; `podaudit config show` lists them"


def _value(path: str, base: str, name: str, value: Any, param: click.Parameter) -> Any:
    """A setting's value as click takes it: lists for repeatable options, paths made absolute."""
    from podaudit.errors import InputError

    shown = name.replace("_", "-")
    if isinstance(value, dict) or value is None:
        raise InputError(f"config {path}: {shown}: want a value, not {'nothing' if value is None else 'a mapping'}")
    if param.multiple:
        items = value if isinstance(value, list) else [value]
        return [_scalar(path, base, name, item) for item in items]
    if isinstance(value, list):
        raise InputError(f"config {path}: {shown}: takes one value, not a list")
    return _scalar(path, base, name, value)


def _scalar(path: str, base: str, name: str, value: Any) -> Any:
    from podaudit.errors import InputError

    if isinstance(value, (list, dict)):
        raise InputError(f"config {path}: {name.replace('_', '-')}: want a value, not a {type(value).__name__}")
    if isinstance(value, str) and name in PATH_SETTINGS and not value.startswith("builtin:"):
        return _path(base, value)
    if isinstance(value, str) and name == "kubectl" and "/" in value:
        return _path(base, value)
    if isinstance(value, str) and name == "reports" and "=" in value:
        form, _, target = value.partition("=")
        return f"{form}={target if target == '-' else _path(base, target)}"
    return value


def _path(base: str, value: str) -> str:
    return os.path.join(base, os.path.expanduser(value))


def known_settings(group: click.Group) -> dict[str, click.Parameter]:
    """The shared and audit options of the group and its commands, by long name (``fail_on``
    for --fail-on, ``report`` for --report): what a settings file may set."""
    found: dict[str, click.Parameter] = {}
    for command in (group, *group.commands.values()):
        for param in command.params:
            longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
            # A setting is a shared or audit option (in a help section); a command's own
            # options (--namespace, --image, --yes) are asked per run.
            if getattr(param, "section", "Options") != "Options" and longs and param.name not in NOT_SETTINGS:
                found.setdefault(longs[0][2:].replace("-", "_"), param)
    return found


def default_map(settings: Settings, group: click.Group) -> dict[str, Any]:
    """click's default_map: the group's own options at the top, each command's under its name."""
    top = {p.name for p in group.params if p.name}
    mapped: dict[str, Any] = {name: value for name, value in settings.values.items() if name in top}
    for command_name, command in group.commands.items():
        own = {p.name: settings.values[p.name] for p in command.params
               if p.name and p.name not in top and p.name in settings.values}
        if own:
            mapped[command_name] = own
    return mapped
