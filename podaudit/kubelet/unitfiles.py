"""Where systemd finds a service's files: the unit file, its drop-ins and its name's specifiers.

Follows systemd.unit(5) ("Unit File Load Path", drop-in directories, "Specifiers") and the
lookup in src/basic/unit-file.c (unit_file_find_dirs()); what the files say is systemd.py's.
"""

from __future__ import annotations

import re

from podaudit.model import FileRecord, NodeReader, go_sorted

# The system manager's unit load path, highest priority first (systemd.unit(5) "Unit File
# Load Path"). Generator and portable-service ("*.attached") directories are not read.
UNIT_DIRS: tuple[str, ...] = (
    "/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
    "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system", "/lib/systemd/system",
)
UNIT_NAME_CHARS = re.compile(r"[A-Za-z0-9:_.\\@-]+")


def unit_name(unit: str) -> str | None:
    """The service's full name, ``.service`` added when missing (as systemctl does)."""
    if not UNIT_NAME_CHARS.fullmatch(unit) or unit.count("@") > 1:
        return None
    unit = unit if unit.endswith(".service") else f"{unit}.service"
    return None if unit.startswith(("@", ".")) else unit


def split_name(name: str) -> tuple[str, str, str]:
    """(prefix, instance, type) of ``prefix@instance.type``; instance is "" if none."""
    stem, _, unit_type = name.rpartition(".")
    prefix, _, instance = stem.partition("@")
    return prefix, instance, unit_type


def find_unit_file(reader: NodeReader, name: str) -> tuple[str, FileRecord] | None:
    """First ``<dir>/<name>`` in load-path order, else the template's (unit_find_paths())."""
    prefix, instance, unit_type = split_name(name)
    for candidate in [name, f"{prefix}@.{unit_type}"] if instance else [name]:
        for directory in UNIT_DIRS:
            record = reader.file(f"{directory}/{candidate}")
            if record.kind in ("file", "error") or is_dev_null(record):
                return f"{directory}/{candidate}", record
    return None


def dropin_names(name: str) -> list[str]:
    """Names whose ``.d`` dirs apply, most specific first: ``rke2-server.service`` also takes
    ``rke2-.service.d``, an instance its template's (unit_file_find_dirs())."""
    prefix, instance, unit_type = split_name(name)
    names = [name] + (dropin_names(f"{prefix}@.{unit_type}") if instance else [])
    cut = prefix.rfind("-")
    if cut == len(prefix) - 1 and cut > 0:  # a trailing dash is chopped off once
        cut = prefix.rfind("-", 0, cut)
    if cut <= 0:
        return names
    shorter = prefix[: cut + 1] + (f"@{instance}" if instance else "")
    return names + dropin_names(f"{shorter}.{unit_type}")


def find_dropins(reader: NodeReader, name: str) -> tuple[list[tuple[str, FileRecord]], bool]:
    """Drop-ins in the order applied, and whether any is specific to this unit.

    systemd.unit(5): a name in a higher-priority dir hides it elsewhere, the type-wide
    ``service.d`` ranks last, and all apply in file-name order whatever their directory.
    """
    unit_dirs = [f"{d}/{n}.d" for d in UNIT_DIRS for n in dict.fromkeys(dropin_names(name))]
    type_dirs = [f"{d}/{split_name(name)[2]}.d" for d in UNIT_DIRS]
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


def is_dev_null(record: FileRecord) -> bool:
    return "/dev/null" in (record.path, record.target)


def is_masked(record: FileRecord) -> bool:
    """An empty file or a link to /dev/null masks a unit or a drop-in (systemd.unit(5))."""
    size = record.size if record.data is None else len(record.data)
    return is_dev_null(record) or (record.kind == "file" and size == 0)


def specifiers(name: str) -> dict[str, str]:
    """The unit-name specifiers (systemd.unit(5) "Specifiers"); others are left as written."""
    prefix, instance, _ = split_name(name)
    return {"n": name, "N": name.rpartition(".")[0], "p": prefix, "P": unescape(prefix),
            "i": instance, "I": unescape(instance), "%": "%"}


def unescape(text: str) -> str:
    """unit_name_unescape(): ``-`` is ``/`` and ``\\xNN`` a raw byte."""
    data = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes.fromhex(m[1].decode()),
                  text.replace("-", "/").encode())
    return data.decode("utf-8", "replace")
