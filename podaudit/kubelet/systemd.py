"""The command line systemd would start a service with, rebuilt from its unit files.

Follows systemd.unit(5), systemd.service(5), systemd.exec(5) and systemd.syntax(7), keeping
the file and line behind every argument. Never raises: what systemd would refuse or ignore
is reported in ``UnitCommand.problems``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from podaudit.kubelet import envfile, unitfiles
from podaudit.kubelet.envfile import WHITESPACE, is_env_name
from podaudit.model import DENIED, Arg, Compact, FileRecord, NodeReader, Problem, ProblemKind, Step

# read_line() ends a line at \n, \r, \0 and their combinations (src/basic/fileio.c).
_LINE_BREAK = re.compile(r"\r\n\0?|\r\0?|\n\0?|\0")
# "$$", or "${" up to the first "}" or ":" (replace_env_full() gives up at ":").
_BRACED = re.compile(r"\$\$|\$\{([^}:]*)(\}|:|\Z)")


@dataclass(frozen=True, slots=True)
class EnvFileUse(Compact):
    """One ``EnvironmentFile=`` as it would be read now."""

    path: str
    optional: bool
    status: str  # "read", "missing", or why it could not be used


@dataclass(frozen=True, slots=True)
class UnitCommand(Compact):
    """What ``systemctl start <unit>`` would run now, and from which files."""

    unit: str
    unit_path: str | None
    dropins: tuple[str, ...]
    argv: tuple[Arg, ...]
    working_directory: str
    env_files: tuple[EnvFileUse, ...]
    problems: tuple[Problem, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class _Setting:  # one key=value, or one environment variable, and where it was written
    key: str
    value: str
    source: str
    line: int


@dataclass
class _Service:
    """The [Service] settings accumulated over the unit file and its drop-ins, in order."""

    specifiers: dict[str, str]
    commands: list[tuple[envfile.ExecLine, _Setting]] = field(default_factory=list)
    environment: dict[str, _Setting] = field(default_factory=dict)
    env_files: list[tuple[str, bool]] = field(default_factory=list)
    working_directory: str | None = None
    user: str = ""
    service_type: str = ""
    problems: list[Problem] = field(default_factory=list)

    def problem(self, detail: str, setting: _Setting | None = None, fatal: bool = False) -> None:
        """Something systemd refuses or ignores, at the setting's file and line when there is one;
        ``fatal``: systemd does not start the unit at all, so no kubelet runs."""
        kind = ProblemKind.CANNOT_START if fatal else ProblemKind.UNIT
        if setting is None:
            self.problems.append(Problem(kind, None, detail))
        else:
            self.problems.append(Problem(kind, setting.source, detail, line=setting.line))

    def expand(self, text: str) -> str:
        """Unit specifiers (``%n``, ``%i``, ...); unknown ones stay verbatim."""
        return re.sub(r"%(.)", lambda m: self.specifiers.get(m[1], m[0]), text, flags=re.S)


def resolve_unit(reader: NodeReader, unit: str) -> UnitCommand | None:
    """The command ``unit`` would start now; None when no unit file or drop-in exists."""
    name = unitfiles.unit_name(unit)
    found = unitfiles.find_unit_file(reader, name) if name else None
    dropins, specific = unitfiles.find_dropins(reader, name) if name else ([], False)
    if name is None or (found is None and not specific):
        return None
    fragment = found[0] if found else None
    if found is not None and unitfiles.is_masked(found[1]):
        why = "empty file" if found[1].kind == "file" else "symlink to /dev/null"
        masked = Problem(ProblemKind.UNIT, found[0], f"unit is masked ({why})", form="{detail}")
        return UnitCommand(name, fragment, (), (), "/", (), (masked,), (found[0],))
    svc = _Service(unitfiles.specifiers(name))
    if found is None:  # service_load() requires a unit file: drop-ins alone are "not-found"
        svc.problem(f"no unit file for {name}, only drop-ins: systemd reports it not-found and cannot start it")
    files = ([found] if found else []) + dropins
    for path, record in files:
        _load_file(svc, path, record)
    env, uses = _environment(reader, svc)
    if found is not None:
        _verify(svc)
    argv = _argv(svc, env)
    sources = [path for path, _ in files] + [use.path for use in uses]
    return UnitCommand(name, fragment, tuple(path for path, _ in dropins), argv,
                       _working_directory(svc), tuple(uses), tuple(svc.problems),
                       tuple(dict.fromkeys(sources)))









def _load_file(svc: _Service, path: str, record: FileRecord) -> None:
    if unitfiles.is_masked(record):
        return
    if record.kind != "file" or record.data is None:
        kind = ProblemKind.UNREADABLE if record.kind in {"denied", "uncollected"} else ProblemKind.UNIT
        svc.problems.append(Problem(kind, path, f"could not be read ({record.error or record.kind}): its settings "
                                    "are unknown", form="{path} {detail}"))
        return
    # surrogateescape keeps invalid UTF-8 recognisable: systemd ignores such lines.
    settings, problems = _parse_unit_text(record.data.decode("utf-8", "surrogateescape"), path)
    svc.problems += problems
    for setting in settings:
        _SETTERS[setting.key](svc, setting)


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each logical line: systemd.syntax(7), config_parse()."""
    pending: str | None = None
    start = 0
    for number, physical in enumerate(_LINE_BREAK.split(text.removeprefix("\ufeff")), 1):
        if physical.lstrip(WHITESPACE)[:1] in ("#", ";"):
            continue  # comment lines are dropped, even inside a continuation
        start = number if pending is None else start
        joined = physical if pending is None else pending + physical
        # An odd run of trailing backslashes continues the line; that backslash becomes a space.
        if (len(joined) - len(joined.rstrip("\\"))) % 2:
            pending = joined[:-1] + " "
            continue
        pending = None
        yield start, joined
    if pending is not None:
        yield start, pending


def _parse_unit_text(text: str, source: str) -> tuple[list[_Setting], list[Problem]]:
    """The [Service] settings podaudit uses, in file order, and what systemd rejects."""
    settings: list[_Setting] = []
    problems: list[Problem] = []
    section: str | None = None
    for number, raw in logical_lines(text):
        line = raw.strip(WHITESPACE)
        key, equals, value = line.partition("=")
        if any(0xDC80 <= ord(c) <= 0xDCFF for c in line):
            problems.append(Problem(ProblemKind.UNIT, source, "not valid UTF-8: systemd ignores the line", line=number))
        elif line.startswith("["):
            if not line.endswith("]") or any(ord(c) < 0x20 or c in "\"'\\\x7f" for c in line):
                problems.append(Problem(ProblemKind.CANNOT_START, source, f"invalid section header {line!r}: systemd "
                                        "refuses to load the unit", line=number))
                break  # config_parse() stops at the first bad header
            section = line[1:-1]
        elif section == "Service" and equals and key.strip(WHITESPACE) in _SETTERS:
            settings.append(_Setting(key.rstrip(WHITESPACE), value.lstrip(WHITESPACE), source,
                                     number))
    return settings, problems


def _set_exec_start(svc: _Service, s: _Setting) -> None:
    if not s.value:  # an empty assignment resets the list (systemd.service(5) ExecStart=)
        svc.commands.clear()
        return
    lines, error = envfile.parse_exec_value(s.value, svc.expand)
    svc.commands += [(line, s) for line in lines]
    if error:
        svc.problem(f"ExecStart= {error}", s)


def _set_environment(svc: _Service, s: _Setting) -> None:
    if not s.value:  # an empty assignment resets the list (systemd.exec(5) Environment=)
        svc.environment.clear()
        return
    errors: list[str] = []
    for key, value in envfile.parse_environment_assignments(s.value, svc.expand, errors):
        svc.environment[key] = _Setting(key, value, s.source, s.line)  # later ones win
    for error in errors:
        svc.problem(f"Environment= {error}", s)


def _set_environment_file(svc: _Service, s: _Setting) -> None:
    # systemd.exec(5) EnvironmentFile=: empty resets the list; "-" makes a file optional.
    value = svc.expand(s.value)
    path = value.removeprefix("-")
    if not value:
        svc.env_files.clear()
    elif path.startswith("/"):
        svc.env_files.append((_simplify(path), value.startswith("-")))
    else:
        svc.problem(f"EnvironmentFile={path} is not an absolute path: systemd ignores it", s)


def _set_working_directory(svc: _Service, s: _Setting) -> None:
    # systemd.exec(5) WorkingDirectory=: empty resets; "-" tolerates a missing dir; "~" = home.
    value = s.value.removeprefix("-")
    path = value if value == "~" else svc.expand(value)
    if not s.value or path == "~" or path.startswith("/"):
        svc.working_directory = _simplify(path) if path.startswith("/") else path or None
    else:
        fate = "systemd ignores it" if s.value != value else "systemd refuses to load the unit"
        svc.problem(f"WorkingDirectory={path} is not absolute: {fate}", s, fatal=s.value == value)


_SETTERS: dict[str, Callable[[_Service, _Setting], None]] = {
    "ExecStart": _set_exec_start,
    "Environment": _set_environment,
    "EnvironmentFile": _set_environment_file,
    "WorkingDirectory": _set_working_directory,
    "User": lambda svc, s: setattr(svc, "user", svc.expand(s.value)),
    "Type": lambda svc, s: setattr(svc, "service_type", s.value),
}


def _environment(reader: NodeReader, svc: _Service) -> tuple[dict[str, _Setting], list[EnvFileUse]]:
    """Environment= values, then the files in order (systemd.exec(5): "Settings from these
    files override settings made with Environment=")."""
    env = dict(svc.environment)
    uses: list[EnvFileUse] = []
    for path, optional in svc.env_files:
        status, entries = _read_env_file(reader, path)
        uses.append(EnvFileUse(path, optional, status))
        env.update((key, _Setting(key, value, path, line)) for key, value, line in entries)
        svc.problems += _env_file_problems(path, optional, status)
    return env, uses


def _env_file_problems(path: str, optional: bool, status: str) -> list[Problem]:
    """What reading one ``EnvironmentFile=`` means for the unit."""
    def about(kind: ProblemKind, detail: str) -> list[Problem]:
        return [Problem(kind, path, detail, form="EnvironmentFile={path} {detail}")]

    if status == "missing" and not optional:
        return about(ProblemKind.CANNOT_START, "is missing and not optional: the unit fails to start")
    if status.startswith("invalid UTF-8"):  # load_env_file() refuses the whole file
        kind = ProblemKind.UNIT if optional else ProblemKind.CANNOT_START
        return about(kind, f"has {status}: {'systemd skips it' if optional else 'the unit fails to start'}")
    if status not in ("read", "missing"):
        kind = ProblemKind.UNREADABLE if status in {DENIED, "not collected"} else ProblemKind.UNIT
        return about(kind, f"could not be read ({status}): the variables it sets are unknown")
    return []


def _read_env_file(reader: NodeReader, path: str) -> tuple[str, list[tuple[str, str, int]]]:
    """(status, assignments) of one ``EnvironmentFile=``."""
    if set("*?[") & set(path):  # systemd.exec(5) allows globs; podaudit does not expand them
        return "wildcards are not expanded by podaudit", []
    record = reader.file(path)
    if record.kind == "missing":
        return "missing", []
    if record.kind != "file" or record.data is None:  # /dev/null reads as an empty file
        return "read" if unitfiles.is_dev_null(record) else record.error or record.kind, []
    entries = envfile.parse_environment_file(record.data.decode("utf-8", "surrogateescape"))
    bad = [line for _, value, line in entries if any(0xDC80 <= ord(c) <= 0xDCFF for c in value)]
    return (f"invalid UTF-8 on line {bad[0]}", []) if bad else ("read", entries)


def _verify(svc: _Service) -> None:
    """systemd.service(5): exactly one ExecStart= command unless Type=oneshot."""
    if not svc.commands:
        svc.problem("no ExecStart= remains: systemd refuses to load the unit", fatal=True)
    elif len(svc.commands) > 1 and svc.service_type != "oneshot":
        where = ", ".join(f"{s.source}:{s.line}" for _, s in svc.commands)
        svc.problem(f"{len(svc.commands)} ExecStart= lines remain ({where}): systemd refuses to start a "
                    f"Type={svc.service_type or 'simple'} service", fatal=True)


def _argv(svc: _Service, env: dict[str, _Setting]) -> tuple[Arg, ...]:
    """The last command left, variables expanded as replace_env_argv() does at exec time."""
    if not svc.commands:
        return ()
    command, where = svc.commands[-1]
    at = Step("ExecStart=", where.source, where.line)
    if "$" in command.program:
        svc.problem(f"program {command.program} is used as written: systemd does not expand variables in it", where)
    argv = [Arg(command.program, at)]
    for word in command.args:
        argv += _expand_word(word, env, at) if command.expand_environment else [Arg(word, at)]
    return tuple(argv)


def _expand_word(word: str, env: dict[str, _Setting], at: Step) -> list[Arg]:
    """systemd.service(5) "Command lines": lone ``$NAME`` splits, ``${NAME}`` stays one word."""
    if word.startswith("$") and word[1:2] not in ("{", "$"):
        var = env.get(word[1:]) if is_env_name(word[1:]) else None
        if var is None:
            return []  # unset (or invalid) variables expand to nothing
        step = Step(f"{word} = {var.value}", var.source, var.line)
        return [Arg(value, step) for value in envfile.split_variable_value(var.value)]
    used: list[tuple[str, _Setting | None]] = []

    def replace(match: re.Match[str]) -> str:
        if match[2] != "}":  # "$$" is "$"; "${A:-b}" and an unclosed "${" stay as written
            return "$" if match[0] == "$$" else match[0]
        var = env.get(match[1]) if is_env_name(match[1]) else None
        used.append((match[1], var))
        return var.value if var else ""

    value = _BRACED.sub(replace, word)
    what = ", ".join(f"${{{n}}} = {v.value}" if v else f"${{{n}}} is unset" for n, v in used)
    origin = next((v for _, v in used if v is not None), None)
    where = (origin.source, origin.line) if origin else (at.source, at.line)
    return [Arg(value, Step(what, *where) if what else at)]


def _working_directory(svc: _Service) -> str:
    if svc.working_directory != "~":
        return svc.working_directory or "/"
    # "~" is the home of User=; services run as root unless User= says otherwise.
    return "/root" if svc.user in ("", "root", "0") else f"~{svc.user}"




def _simplify(path: str) -> str:
    """path_simplify(): drop duplicate slashes, ``.`` components and a trailing slash."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return ("/" if path.startswith("/") else "") + "/".join(parts)
