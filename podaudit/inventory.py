"""Who to audit: ``--nodes a,b``, an inventory file, or a kubectl nodes JSON.

Each entry keeps two names apart: ``name``, the node as Kubernetes knows it (the mirror
pod suffix), and ``address``, where SSH connects (None: the name itself, through the
user's ssh_config). Inventory formats: one host per line; Ansible INI; Ansible YAML; the
output of ``kubectl get nodes -o json``.

Addresses, users and names are hostile input (a compromised kubelet sets its own Node's
addresses) and may end up in a ProxyCommand run by ``sh``: an entry whose address is not a
host name or an IP literal, whose user is not a POSIX portable user name, or whose name is
not host-name-like carries a ``problem`` line and is reported as not audited (PA901), never
connected to. A port that is not 1-65535 is a usage error naming the entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import yaml

from podaudit.api.view import parse_int, parse_node
from podaudit.errors import InputError
from podaudit.kubelet.yamlload import GoYamlLoader
from podaudit.model import InventoryEntry
from podaudit.names import valid_address, valid_node_label
from podaudit.userfiles import read_user_text

_RANGE = re.compile(r"\[(\d+):(\d+)\]")
# POSIX portable user name (XBD 3.437, the portable filename character set, no leading "-").
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,255}")


def from_nodes_option(text: str) -> list[InventoryEntry]:
    """``--nodes a,b,user@c:2222``."""
    entries = [_host_word(word.strip(), "--nodes", None) for word in text.split(",") if word.strip()]
    if not entries:
        raise InputError("--nodes is empty; give node names separated by commas")
    return [checked(e, "--nodes") for e in entries]


def load_inventory(path: str, address_type: str = "InternalIP") -> list[InventoryEntry]:
    """Read an inventory file in any supported format; InputError names the file and line."""
    entries = _parse(path, read_user_text(path, "--inventory"), address_type)
    if not entries:
        raise InputError(f"--inventory {path}: no hosts found")
    return [checked(e, f"the inventory {path}") for e in _dedupe(entries)]


def _parse(path: str, text: str, address_type: str) -> list[InventoryEntry]:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _from_nodes_json(path, text, address_type)
    try:
        # go-yaml's scalars: a number of more digits than int() converts stays text (and is
        # then refused as a port, naming its host) instead of failing the whole file.
        doc = yaml.load(text, Loader=GoYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError):
        doc = None
    if isinstance(doc, dict):
        return _from_yaml(path, doc)
    if _looks_like_ini(text):
        return _from_ini(path, text)
    return [_host_word(line.strip(), path, n) for n, line in _content_lines(text)]


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            yield number, line


def _host_word(word: str, where: str, line: int | None) -> InventoryEntry:
    """``host``, ``user@host``, ``host:port`` or ``[v6]:port``."""
    at = where if line is None else f"{where}:{line}"
    match = re.fullmatch(r"(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s\[\]]+)(?::([0-9]+))?", word)
    if match is None:
        raise InputError(f"{at}: cannot read {_shown(word)} as a host (host, user@host or host:port)")
    user, host, port = match.groups()
    host = host.strip("[]")
    return InventoryEntry(host, None, user, _port(port, f"{at}: host {_label(host)}: port") if port else None)


def _port(value: Any, what: str) -> int:
    """A port number 1-65535, from an int or its text; InputError naming the entry otherwise.
    More than five digits is refused before int(), which raises past 4,300 digits."""
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536):
        raise InputError(f"{what} {_shown(value)} is not a port number (1-65535)")
    return int(text)


def _looks_like_ini(text: str) -> bool:
    return any(line.strip().startswith("[") or "ansible_" in line for _, line in _content_lines(text))


def _from_ini(path: str, text: str) -> list[InventoryEntry]:
    """Ansible INI: hosts with ``ansible_host/user/port``; ``[g:vars]`` apply to group g."""
    hosts: dict[str, dict[str, str]] = {}
    groups: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, str]] = {}
    section = "ungrouped"
    for number, raw in _content_lines(text):
        line = raw.strip()
        if line.startswith("["):
            if not line.endswith("]"):
                raise InputError(f"{path}:{number}: unclosed section header {line!r}")
            section = line[1:-1].strip()
            continue
        if section.endswith(":children"):
            continue
        fields = _ini_fields(path, number, line)
        if section.endswith(":vars"):
            group_vars.setdefault(section[: -len(":vars")], {}).update(fields[1])
            continue
        for name in _expand(fields[0]):
            hosts.setdefault(name, {}).update(fields[1])
            groups.setdefault(section, []).append(name)
    for group, names in groups.items():
        for name in names:
            hosts[name] = {**group_vars.get("all", {}), **group_vars.get(group, {}), **hosts[name]}
    return [_entry(path, name, values) for name, values in hosts.items()]


def _ini_fields(path: str, number: int, line: str) -> tuple[str, dict[str, str]]:
    words = line.split()
    values: dict[str, str] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq:
            raise InputError(f"{path}:{number}: expected key=value, found {word!r}")
        values[key] = value.strip("'\"")
    return words[0], values


def _expand(pattern: str) -> list[str]:
    """Ansible numeric ranges: ``node[01:03]`` is node01, node02, node03."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    first, last = match.group(1), match.group(2)
    width = len(first) if first.startswith("0") else 0
    return [name for i in range(int(first), int(last) + 1)
            for name in _expand(pattern[: match.start()] + str(i).zfill(width) + pattern[match.end():])]


def _from_yaml(path: str, doc: dict[str, Any]) -> list[InventoryEntry]:
    """Ansible YAML: groups with ``hosts``, ``vars`` and ``children``, nested."""
    found: dict[str, dict[str, Any]] = {}

    def walk(group: Any, inherited: dict[str, Any]) -> None:
        if not isinstance(group, dict):
            return
        own = group.get("vars")
        variables = {**inherited, **(own if isinstance(own, dict) else {})}
        hosts = group.get("hosts")
        for pattern, values in (hosts.items() if isinstance(hosts, dict) else ()):
            for name in _expand(str(pattern)):
                found[name] = {**found.get(name, {}), **variables, **(values if isinstance(values, dict) else {})}
        children = group.get("children")
        for child in (children.values() if isinstance(children, dict) else ()):
            walk(child, variables)

    for group in doc.values():
        walk(group, {})
    return [_entry(path, name, values) for name, values in found.items()]


def _entry(path: str, name: str, values: dict[str, Any]) -> InventoryEntry:
    port = values.get("ansible_port") or values.get("ansible_ssh_port")
    port_number = _port(port, f"{path}: host {_label(name)}: ansible_port") if port is not None else None
    address = values.get("ansible_host") or values.get("ansible_ssh_host")
    user = values.get("ansible_user") or values.get("ansible_ssh_user")
    return InventoryEntry(name, str(address) if address else None, str(user) if user else None, port_number)


def _from_nodes_json(path: str, text: str, address_type: str) -> list[InventoryEntry]:
    """``kubectl get nodes -o json``: the node name, and its address of the chosen type."""
    try:
        doc = json.loads(text, parse_int=parse_int)  # a 5,000-digit number elsewhere hides no node
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{path}: JSON without an items list; expected kubectl get nodes -o json")
    entries = []
    for item in items:
        node = parse_node(item) if isinstance(item, dict) else None
        if node is not None:
            entries.append(InventoryEntry(node.name, node.addresses.get(address_type)))
    # The address is named by its type: "InternalIP" says where the bad value came from.
    return [checked(e, f"{path} ({address_type})") for e in entries]


def from_api_nodes(nodes: list[Any], address_type: str = "InternalIP") -> list[InventoryEntry]:
    """Inventory from an API view's nodes (e.g. a snapshot's api/nodes.json). A node's
    kubelet writes its own addresses: a compromised one can set anything there."""
    fix = "check that node (its kubelet sets its own addresses), or give --inventory"
    return [checked(InventoryEntry(n.name, n.addresses.get(address_type)), f"the API's {address_type}", fix)
            for n in nodes]


def _dedupe(entries: list[InventoryEntry]) -> list[InventoryEntry]:
    """A host listed twice (two groups) is one node; later non-empty values win."""
    seen: dict[str, InventoryEntry] = {}
    for entry in entries:
        known = seen.get(entry.name)
        seen[entry.name] = replace(known, **{k: v for k, v in vars(entry).items() if v}) if known else entry
    return list(seen.values())


def checked(entry: InventoryEntry, where: str, fix: str = "fix it there") -> InventoryEntry:
    """``entry`` with ``problem`` set when its name, address or user could not be connected
    to safely: one line naming the node, the bad value, where it came from and ``fix``."""
    if entry.problem is not None:
        return entry  # checked already, where its source was known better
    label = _label(entry.name)
    if entry.address is not None and not valid_address(entry.address):
        why = f"{label}: address {_shown(entry.address)} from {where} is not a host name or an IP address"
    elif not valid_node_label(entry.name):
        # With an address too: the name is what ssh_config is asked about, and paramiko (as
        # OpenSSH) puts it unquoted into the user's "Match exec" commands as %h and %n.
        why = f"{_shown(entry.name)} from {where} is not a host name or an IP address"
    elif entry.user is not None and not _USER.fullmatch(entry.user):
        why = f"{label}: user {_shown(entry.user)} from {where} is not a POSIX user name (letters, digits, . _ -)"
    else:
        return entry
    return replace(entry, problem=f"{why}; not audited: {fix}")


def _shown(value: Any) -> str:
    """A value quoted for one line: control characters escaped, long ones cut."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= 260 else f"{text[:60]}...' ({len(str(value))} characters)"


def _label(name: str) -> str:
    """A name as the start of a line: itself when it is a plain name, else quoted."""
    return name if valid_node_label(name) else _shown(name)
