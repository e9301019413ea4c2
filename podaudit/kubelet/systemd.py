"""The command line systemd would start a service with, rebuilt from its unit files.

Follows systemd.unit(5), systemd.service(5), systemd.exec(5) and systemd.syntax(7), keeping
the file and line behind every argument. Never raises: what systemd would refuse or ignore
is reported in ``UnitCommand.problems``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from podaudit.kubelet import envfile
from podaudit.kubelet.envfile import WHITESPACE, is_env_name
from podaudit.model import Arg, FileRecord, NodeReader, Step, go_sorted

# The system manager's unit load path, highest priority first (systemd.unit(5) "Unit File
# Load Path"). Generator and portable-service ("*.attached") directories are not read.
UNIT_DIRS: tuple[str, ...] = (
    "/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
    "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system", "/lib/systemd/system",
)
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\@-]+")
# read_line() ends a line at \n, \r, \0 and their combinations (src/basic/fileio.c).
_LINE_BREAK = re.compile(r"\r\n\0?|\r\0?|\n\0?|\0")
# "$$", or "${" up to the first "}" or ":" (replace_env_full() gives up at ":").
_BRACED = re.compile(r"\$\$|\$\{([^}:]*)(\}|:|\Z)")


@dataclass(frozen=True)
class EnvFileUse:
    """One ``EnvironmentFile=`` as it would be read now."""

    path: str
    optional: bool
    status: str  # "read", "missing", or why it could not be used


@dataclass(frozen=True)
class UnitCommand:
    """What ``systemctl start <unit>`` would run now, and from which files."""

    unit: str
    unit_path: str | None
    dropins: tuple[str, ...]
    argv: tuple[Arg, ...]
    working_directory: str
    env_files: tuple[EnvFileUse, ...]
    problems: tuple[str, ...]
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
    problems: list[str] = field(default_factory=list)

    def expand(self, text: str) -> str:
        """Unit specifiers (``%n``, ``%i``, ...); unknown ones stay verbatim."""
        return re.sub(r"%(.)", lambda m: self.specifiers.get(m[1], m[0]), text, flags=re.S)


def resolve_unit(reader: NodeReader, unit: str) -> UnitCommand | None:
    """The command ``unit`` would start now; None when no unit file or drop-in exists."""
    name = _unit_name(unit)
    found = _find_unit_file(reader, name) if name else None
    dropins, specific = _find_dropins(reader, name) if name else ([], False)
    if name is None or (found is None and not specific):
        return None
    fragment = found[0] if found else None
    if found is not None and _is_masked(found[1]):
        why = "empty file" if found[1].kind == "file" else "symlink to /dev/null"
        return UnitCommand(name, fragment, (), (), "/", (), (f"unit is masked ({why})",),
                           (found[0],))
    svc = _Service(_specifiers(name))
    if found is None:  # service_load() requires a unit file: drop-ins alone are "not-found"
        svc.problems.append(f"no unit file for {name}, only drop-ins: systemd reports it "
                            "not-found and cannot start it")
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


def _unit_name(unit: str) -> str | None:
    """The service's full name, ``.service`` added when missing (as systemctl does)."""
    if not _UNIT_NAME.fullmatch(unit) or unit.count("@") > 1:
        return None
    unit = unit if unit.endswith(".service") else f"{unit}.service"
    return None if unit.startswith(("@", ".")) else unit


def _split_name(name: str) -> tuple[str, str, str]:
    """(prefix, instance, type) of ``prefix@instance.type``; instance is "" if none."""
    stem, _, unit_type = name.rpartition(".")
    prefix, _, instance = stem.partition("@")
    return prefix, instance, unit_type


def _find_unit_file(reader: NodeReader, name: str) -> tuple[str, FileRecord] | None:
    """First ``<dir>/<name>`` in load-path order, else the template's (unit_find_paths())."""
    prefix, instance, unit_type = _split_name(name)
    for candidate in [name, f"{prefix}@.{unit_type}"] if instance else [name]:
        for directory in UNIT_DIRS:
            record = reader.file(f"{directory}/{candidate}")
            if record.kind in ("file", "error") or _is_dev_null(record):
                return f"{directory}/{candidate}", record
    return None


def _dropin_names(name: str) -> list[str]:
    """Names whose ``.d`` dirs apply, most specific first: ``rke2-server.service`` also takes
    ``rke2-.service.d``, an instance its template's (unit_file_find_dirs())."""
    prefix, instance, unit_type = _split_name(name)
    names = [name] + (_dropin_names(f"{prefix}@.{unit_type}") if instance else [])
    cut = prefix.rfind("-")
    if cut == len(prefix) - 1 and cut > 0:  # a trailing dash is chopped off once
        cut = prefix.rfind("-", 0, cut)
    if cut <= 0:
        return names
    shorter = prefix[: cut + 1] + (f"@{instance}" if instance else "")
    return names + _dropin_names(f"{shorter}.{unit_type}")


def _find_dropins(reader: NodeReader, name: str) -> tuple[list[tuple[str, FileRecord]], bool]:
    """Drop-ins in the order applied, and whether any is specific to this unit.

    systemd.unit(5): a name in a higher-priority dir hides it elsewhere, the type-wide
    ``service.d`` ranks last, and all apply in file-name order whatever their directory.
    """
    unit_dirs = [f"{d}/{n}.d" for d in UNIT_DIRS for n in dict.fromkeys(_dropin_names(name))]
    type_dirs = [f"{d}/{_split_name(name)[2]}.d" for d in UNIT_DIRS]
    chosen: dict[str, tuple[str, FileRecord]] = {}
    specific = False
    for directory in unit_dirs + type_dirs:
        for file_name in reader.listdir(directory).names or ():
            # Hidden files are skipped (hidden_or_backup_file()), as is a name already taken.
            if file_name.endswith(".conf") and file_name[:1] != "." and file_name not in chosen:
                record = reader.file(f"{directory}/{file_name}")
                if record.kind not in ("missing", "dir"):
                    chosen[file_name] = (f"{directory}/{file_name}", record)
                    specific = specific or directory in unit_dirs
    return [chosen[n] for n in go_sorted(chosen)], specific


def _is_dev_null(record: FileRecord) -> bool:
    return "/dev/null" in (record.path, record.target)


def _is_masked(record: FileRecord) -> bool:
    """An empty file or a link to /dev/null masks a unit or a drop-in (systemd.unit(5))."""
    size = record.size if record.data is None else len(record.data)
    return _is_dev_null(record) or (record.kind == "file" and size == 0)


def _load_file(svc: _Service, path: str, record: FileRecord) -> None:
    if _is_masked(record):
        return
    if record.kind != "file" or record.data is None:
        svc.problems.append(f"{path} could not be read ({record.error or record.kind}): "
                            "its settings are unknown")
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


def _parse_unit_text(text: str, source: str) -> tuple[list[_Setting], list[str]]:
    """The [Service] settings podaudit uses, in file order, and what systemd rejects."""
    settings: list[_Setting] = []
    problems: list[str] = []
    section: str | None = None
    for number, raw in logical_lines(text):
        line = raw.strip(WHITESPACE)
        key, equals, value = line.partition("=")
        if any(0xDC80 <= ord(c) <= 0xDCFF for c in line):
            problems.append(f"{source}:{number}: not valid UTF-8: systemd ignores the line")
        elif line.startswith("["):
            if not line.endswith("]") or any(ord(c) < 0x20 or c in "\"'\\\x7f" for c in line):
                problems.append(f"{source}:{number}: invalid section header {line!r}: "
                                "systemd refuses to load the unit")
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
        svc.problems.append(f"{s.source}:{s.line}: ExecStart= {error}")


def _set_environment(svc: _Service, s: _Setting) -> None:
    if not s.value:  # an empty assignment resets the list (systemd.exec(5) Environment=)
        svc.environment.clear()
        return
    errors: list[str] = []
    for key, value in envfile.parse_environment_assignments(s.value, svc.expand, errors):
        svc.environment[key] = _Setting(key, value, s.source, s.line)  # later ones win
    svc.problems += [f"{s.source}:{s.line}: Environment= {e}" for e in errors]


def _set_environment_file(svc: _Service, s: _Setting) -> None:
    # systemd.exec(5) EnvironmentFile=: empty resets the list; "-" makes a file optional.
    value = svc.expand(s.value)
    path = value.removeprefix("-")
    if not value:
        svc.env_files.clear()
    elif path.startswith("/"):
        svc.env_files.append((_simplify(path), value.startswith("-")))
    else:
        svc.problems.append(f"{s.source}:{s.line}: EnvironmentFile={path} is not an absolute "
                            "path: systemd ignores it")


def _set_working_directory(svc: _Service, s: _Setting) -> None:
    # systemd.exec(5) WorkingDirectory=: empty resets; "-" tolerates a missing dir; "~" = home.
    value = s.value.removeprefix("-")
    path = value if value == "~" else svc.expand(value)
    if not s.value or path == "~" or path.startswith("/"):
        svc.working_directory = _simplify(path) if path.startswith("/") else path or None
    else:
        fate = "systemd ignores it" if s.value != value else "systemd refuses to load the unit"
        svc.problems.append(f"{s.source}:{s.line}: WorkingDirectory={path} is not absolute: "
                            f"{fate}")


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
        if status == "missing" and not optional:
            svc.problems.append(f"EnvironmentFile={path} is missing and not optional: "
                                "the unit fails to start")
        elif status.startswith("invalid UTF-8"):  # load_env_file() refuses the whole file
            fate = "systemd skips it" if optional else "the unit fails to start"
            svc.problems.append(f"EnvironmentFile={path} has {status}: {fate}")
        elif status not in ("read", "missing"):
            svc.problems.append(f"EnvironmentFile={path} could not be read ({status}): the "
                                "variables it sets are unknown")
    return env, uses


def _read_env_file(reader: NodeReader, path: str) -> tuple[str, list[tuple[str, str, int]]]:
    """(status, assignments) of one ``EnvironmentFile=``."""
    if set("*?[") & set(path):  # systemd.exec(5) allows globs; podaudit does not expand them
        return "wildcards are not expanded by podaudit", []
    record = reader.file(path)
    if record.kind == "missing":
        return "missing", []
    if record.kind != "file" or record.data is None:  # /dev/null reads as an empty file
        return "read" if _is_dev_null(record) else record.error or record.kind, []
    entries = envfile.parse_environment_file(record.data.decode("utf-8", "surrogateescape"))
    bad = [line for _, value, line in entries if any(0xDC80 <= ord(c) <= 0xDCFF for c in value)]
    return (f"invalid UTF-8 on line {bad[0]}", []) if bad else ("read", entries)


def _verify(svc: _Service) -> None:
    """systemd.service(5): exactly one ExecStart= command unless Type=oneshot."""
    if not svc.commands:
        svc.problems.append("no ExecStart= remains: systemd refuses to load the unit")
    elif len(svc.commands) > 1 and svc.service_type != "oneshot":
        where = ", ".join(f"{s.source}:{s.line}" for _, s in svc.commands)
        svc.problems.append(f"{len(svc.commands)} ExecStart= lines remain ({where}): systemd "
                            f"refuses to start a Type={svc.service_type or 'simple'} service")


def _argv(svc: _Service, env: dict[str, _Setting]) -> tuple[Arg, ...]:
    """The last command left, variables expanded as replace_env_argv() does at exec time."""
    if not svc.commands:
        return ()
    command, where = svc.commands[-1]
    at = Step("ExecStart=", where.source, where.line)
    if "$" in command.program:
        svc.problems.append(f"{where.source}:{where.line}: program {command.program} is used "
                            "as written: systemd does not expand variables in it")
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


def _specifiers(name: str) -> dict[str, str]:
    """The unit-name specifiers (systemd.unit(5) "Specifiers"); others are left as written."""
    prefix, instance, _ = _split_name(name)
    return {"n": name, "N": name.rpartition(".")[0], "p": prefix, "P": _unescape(prefix),
            "i": instance, "I": _unescape(instance), "%": "%"}


def _unescape(text: str) -> str:
    """unit_name_unescape(): ``-`` is ``/`` and ``\\xNN`` a raw byte."""
    data = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes.fromhex(m[1].decode()),
                  text.replace("-", "/").encode())
    return data.decode("utf-8", "replace")


def _simplify(path: str) -> str:
    """path_simplify(): drop duplicate slashes, ``.`` components and a trailing slash."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return ("/" if path.startswith("/") else "") + "/".join(parts)
