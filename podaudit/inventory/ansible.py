"""Ansible inventories as Ansible reads them: INI, YAML and ``ansible-inventory --list`` JSON.

Each format becomes one ``Groups`` graph (hosts with their own vars, groups with hosts,
children and vars); a host's variables are then combined the way Ansible's
``lib/ansible/inventory/helpers.py`` ``get_group_vars`` does: every group the host is in,
directly or through ``children`` at any depth, sorted by ``sort_groups`` (depth, then
``ansible_group_priority``, then name), later ones winning, and the host's own vars last.
``all`` has depth 0, so it is the weakest; a group nested deeper beats its parents.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from podaudit.errors import InputError

_RANGE = re.compile(r"\[(\d+):(\d+)\]")
# INI section headers, as plugins/inventory/ini.py's 'section' pattern: [name] or [name:type].
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
# A bracketed IPv6 host, with or without a port: a host line, not a section.
_V6 = re.compile(r"\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\](?::(\d+))?")
# Ansible's BOOLEANS_TRUE (module_utils/parsing/convert_bool.py), as text.
_TRUE = {"y", "yes", "on", "1", "true", "t"}
BUILTIN = ("all", "ungrouped")
MAX_RANGE = 100_000


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Groups:
    """The hosts (each with its own vars, in the order first seen) and the groups."""

    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    def group(self, name: str) -> Group:
        return self.groups.setdefault(name, Group(name))

    def add_host(self, group: str, name: str, values: dict[str, Any]) -> None:
        self.hosts.setdefault(name, {}).update(values)
        members = self.group(group).hosts
        if name not in members:
            members.append(name)

    def add_child(self, parent: str, child: str) -> None:
        self.group(child)
        children = self.group(parent).children
        if child not in children:
            children.append(child)


def is_true(value: Any) -> bool:
    """Ansible's ``boolean()``: yes/on/1/true/t (any case), 1 or True."""
    return value is True or (isinstance(value, (int, float)) and value == 1) or str(value).strip().lower() in _TRUE


def expand(pattern: str) -> list[str]:
    """Ansible numeric ranges: ``node[01:03]`` is node01, node02, node03."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    first, last = match.group(1), match.group(2)
    if len(first) > 6 or len(last) > 6 or int(last) - int(first) >= MAX_RANGE:  # a typo, not a fleet
        raise InputError(f"host range {pattern[:80]!r} names more than {MAX_RANGE} hosts")
    width = len(first) if first.startswith("0") else 0
    return [name for i in range(int(first), int(last) + 1)
            for name in expand(pattern[: match.start()] + str(i).zfill(width) + pattern[match.end():])]


def _host_and_port(token: str) -> tuple[str, dict[str, Any]]:
    """``host:port`` in an INI host line (ranges hold colons too: ``node[01:03]:2222``)."""
    v6 = _V6.fullmatch(token)
    if v6 is not None:
        return v6.group(1), {"ansible_port": v6.group(2)} if v6.group(2) else {}
    bare = _RANGE.sub("", token)
    if bare.count(":") == 1 and token.rpartition(":")[2].isdigit():
        host, _, port = token.rpartition(":")
        return host, {"ansible_port": port}
    return token, {}


def _value(text: str) -> str:
    """A vars value, one pair of quotes removed (ini.py ``_parse_value`` evaluates literals)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def from_ini(path: str, lines: list[tuple[int, str]]) -> Groups:
    """plugins/inventory/ini.py ``_parse``: sections [g], [g:vars], [g:children]; a vars or
    children section naming a group never defined is an error, as there."""
    found = Groups()
    declared: set[str] = set(BUILTIN)
    wanted: dict[str, int] = {}  # groups named in :vars or :children, and the first line
    group, state = "ungrouped", "hosts"
    for number, raw in lines:
        line = raw.strip()
        if line.startswith("[") and not _V6.match(line):
            match = _SECTION.match(line)
            if match is None:
                why = "invalid section header" if line.endswith("]") else "unclosed section header"
                raise InputError(f"{path}:{number}: {why} {line[:80]!r} (a [group] or [group:vars|children] line)")
            group, state = match.group(1), match.group(2) or "hosts"
            if state not in {"hosts", "children", "vars"}:
                raise InputError(f"{path}:{number}: section [{group}:{state}] has unknown type {state!r}")
            found.group(group)
            if state == "vars":
                wanted.setdefault(group, number)
            else:
                declared.add(group)
            continue
        if state == "vars":
            key, eq, value = line.partition("=")
            if not eq:
                raise InputError(f"{path}:{number}: expected key=value, found {line[:80]!r}")
            found.group(group).vars[key.strip()] = _value(value)
        elif state == "children":
            child = line.split()[0]
            wanted.setdefault(child, number)
            found.add_child(group, child)
        else:
            _ini_host(found, path, number, line, group)
    missing = sorted((line, name) for name, line in wanted.items() if name not in declared)
    if missing:
        at, name = missing[0]
        raise InputError(f"{path}:{at}: group {name!r} is never defined (no [{name}] or [{name}:children] section)")
    return found


def _ini_host(found: Groups, path: str, number: int, line: str, group: str) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InputError(f"{path}:{number}: cannot read the host line ({exc})") from exc
    if not words:
        return
    pattern, values = _host_and_port(words[0])
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq:
            raise InputError(f"{path}:{number}: expected key=value, found {word[:80]!r}")
        values[key] = value
    for name in expand(pattern):
        found.add_host(group, name, values)


def from_tree(path: str, doc: dict[str, Any]) -> Groups:
    """The YAML inventory (plugins/inventory/yaml.py ``_parse_group``: groups with hosts,
    vars and children mappings, nested) and ``ansible-inventory --list`` JSON (groups whose
    hosts and children are lists of names, host vars in ``_meta.hostvars``): one reader."""
    found = Groups()
    meta = doc.get("_meta")
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    for name, data in doc.items():
        if name != "_meta":
            _tree_group(found, path, str(name), data, 0)
    for name, values in (hostvars.items() if isinstance(hostvars, dict) else ()):
        if isinstance(values, dict):
            found.hosts.setdefault(str(name), {}).update(values)
    return found


def _tree_group(found: Groups, path: str, name: str, data: Any, depth: int) -> None:
    if depth > 100:
        raise InputError(f"{path}: groups nested more than 100 deep under {name!r}")
    found.group(name)
    if not isinstance(data, dict):
        return
    hosts, children, variables = data.get("hosts"), data.get("children"), data.get("vars")
    if isinstance(variables, dict):
        found.group(name).vars.update(variables)
    if isinstance(hosts, (str, list)):  # the JSON form lists names; yaml.py takes a lone string
        hosts = dict.fromkeys([hosts] if isinstance(hosts, str) else hosts)
    for pattern, values in (hosts.items() if isinstance(hosts, dict) else ()):
        for host in expand(str(pattern)):
            found.add_host(name, host, values if isinstance(values, dict) else {})
    if isinstance(children, (str, list)):
        children = dict.fromkeys([children] if isinstance(children, str) else children)
    for child, child_data in (children.items() if isinstance(children, dict) else ()):
        found.add_child(name, str(child))
        _tree_group(found, path, str(child), child_data, depth + 1)


def depths(found: Groups, path: str) -> dict[str, int]:
    """Each group's depth below ``all`` (group.py ``add_child_group``: the longest way down;
    a group with no parent is a child of ``all``, as data.py ``reconcile_inventory`` makes it).
    A loop of children is an error, as there."""
    parents: dict[str, list[str]] = {name: [] for name in found.groups}
    for group in found.groups.values():
        for child in group.children:
            parents[child].append(group.name)
    memo: dict[str, int] = {"all": 0}

    def depth(name: str, seen: tuple[str, ...]) -> int:
        if name in seen:
            raise InputError(f"{path}: group {name!r} is its own ancestor ({' > '.join((*seen, name))[:200]})")
        if name not in memo:
            above = [p for p in parents[name] if p != "all"]
            memo[name] = 1 + max((depth(p, (*seen, name)) for p in above), default=0)
        return memo[name]

    for name in found.groups:
        depth(name, ())
    return memo


def members(found: Groups, path: str) -> dict[str, list[str]]:
    """Every group's hosts, its children's included at any depth (group.py ``get_hosts``)."""
    depths(found, path)  # refuses loops first
    known: dict[str, list[str]] = {}

    def hosts_of(name: str) -> list[str]:
        if name not in known:
            group = found.groups[name]
            names = list(group.hosts)
            for child in group.children:
                names += hosts_of(child)
            known[name] = list(dict.fromkeys(names))
        return known[name]

    every = {name: hosts_of(name) for name in found.groups}
    every["all"] = list(found.hosts)
    grouped = {host for name, hosts in every.items() if name not in BUILTIN for host in hosts}
    every["ungrouped"] = list(dict.fromkeys([*every.get("ungrouped", []),
                                             *(h for h in found.hosts if h not in grouped)]))
    return every


def host_vars(found: Groups, path: str) -> dict[str, dict[str, Any]]:
    """Each host's variables: its groups' by ``sort_groups`` order, then its own."""
    level = depths(found, path)
    groups_of: dict[str, list[str]] = {host: ["all"] for host in found.hosts}
    for name, hosts in members(found, path).items():
        for host in hosts:
            if name != "all":
                groups_of[host].append(name)
    result: dict[str, dict[str, Any]] = {}
    for host, names in groups_of.items():
        combined: dict[str, Any] = {}
        for name in sorted(names, key=lambda g: (level.get(g, 1), _priority(found.groups.get(g)), g)):
            group = found.groups.get(name)
            combined.update(group.vars if group else {})
        result[host] = {**combined, **found.hosts[host]}
    return result


def _priority(group: Group | None) -> int:
    """``ansible_group_priority`` (group.py ``set_priority``; 1 when unset or not a number)."""
    value = str(group.vars.get("ansible_group_priority", "1")) if group else "1"
    return int(value) if value.strip().lstrip("-").isdigit() and len(value) < 10 else 1
