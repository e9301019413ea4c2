"""Who to audit: ``--nodes a,b``, an inventory file, or a kubectl nodes JSON.

Each entry keeps two names apart: ``name``, the node as Kubernetes knows it (the mirror
pod suffix), and ``address``, where SSH connects (None: the name itself, through the
user's ssh_config). Inventory formats: one host per line; Ansible INI, YAML and
``ansible-inventory --list`` JSON (``ansible.py``: group vars through children as Ansible
combines them); the output of ``kubectl get nodes -o json``. ``--limit`` picks hosts with
Ansible's host patterns (``patterns.py``).

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
from podaudit.inventory import ansible
from podaudit.kubelet.yamlload import GoYamlLoader
from podaudit.model import InventoryEntry
from podaudit.names import valid_address, valid_node_label
from podaudit.userfiles import read_user_text

# POSIX portable user name (XBD 3.437, the portable filename character set, no leading "-").
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,255}")


def from_nodes_option(text: str) -> list[InventoryEntry]:
    """``--nodes a,b,user@c:2222``."""
    entries = [_host_word(word.strip(), "--nodes", None) for word in text.split(",") if word.strip()]
    if not entries:
        raise InputError("--nodes is empty; give node names separated by commas")
    return [checked(e, "--nodes") for e in entries]


def load_inventory(path: str, address_type: str = "InternalIP", limit: str | None = None) -> list[InventoryEntry]:
    """Read an inventory file in any supported format; InputError names the file and line.
    ``limit``: an Ansible host pattern (--limit) choosing among its hosts and groups."""
    entries, groups = _parse(path, read_user_text(path, "--inventory"), address_type)
    if not entries:
        raise InputError(f"--inventory {path}: no hosts found")
    entries = _dedupe(entries)
    if limit is not None:
        entries = limited(entries, limit, f"the inventory {path}", groups)
    return [checked(e, f"the inventory {path}") for e in entries]


def limited(entries: list[InventoryEntry], limit: str, where: str,
            groups: dict[str, list[str]] | None = None) -> list[InventoryEntry]:
    """The entries an Ansible host pattern selects; ``groups`` each group's hosts (none: the
    only group is ``all``, for --nodes and the API's node list)."""
    from podaudit.inventory.patterns import select

    names = [e.name for e in entries]
    chosen = set(select(limit, names, groups if groups is not None else {"all": names}, where))
    return [e for e in entries if e.name in chosen]


def _parse(path: str, text: str, address_type: str) -> tuple[list[InventoryEntry], dict[str, list[str]] | None]:
    """The entries, and each Ansible group's hosts (None: a format without groups)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        doc = _json(path, text)
        if "items" in doc or not _ansible_list(doc):
            return _from_nodes_json(path, doc, address_type), None
        return _from_groups(path, ansible.from_tree(path, doc))
    try:
        # go-yaml's scalars: a number of more digits than int() converts stays text (and is
        # then refused as a port, naming its host) instead of failing the whole file.
        tree = yaml.load(text, Loader=GoYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError):
        tree = None
    if isinstance(tree, dict):
        return _from_groups(path, ansible.from_tree(path, tree))
    if _looks_like_ini(text):
        return _from_groups(path, ansible.from_ini(path, list(_content_lines(text))))
    return [_host_word(line.strip(), path, n) for n, line in _content_lines(text)], None


def _ansible_list(doc: dict[str, Any]) -> bool:
    """``ansible-inventory --list`` output: ``_meta``, or groups with hosts/children lists."""
    return "_meta" in doc or any(isinstance(v, dict) and ({"hosts", "children"} & set(v)) for v in doc.values())


def _from_groups(path: str, found: ansible.Groups) -> tuple[list[InventoryEntry], dict[str, list[str]]]:
    try:
        merged, members = ansible.host_vars(found, path), ansible.members(found, path)
    except RecursionError as exc:
        raise InputError(f"{path}: groups nested too deep (children of children, hundreds of levels)") from exc
    return [_entry(path, name, values) for name, values in merged.items()], members


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


def _entry(path: str, name: str, values: dict[str, Any]) -> InventoryEntry:
    """An Ansible host from its combined vars: ansible_host, _port, _user (or their older
    ansible_ssh_ names), ansible_ssh_private_key_file and ansible_become."""
    port = values.get("ansible_port") or values.get("ansible_ssh_port")
    port_number = _port(port, f"{path}: host {_label(name)}: ansible_port") if port is not None else None
    address = values.get("ansible_host") or values.get("ansible_ssh_host")
    user = values.get("ansible_user") or values.get("ansible_ssh_user")
    key = values.get("ansible_ssh_private_key_file") or values.get("ansible_private_key_file")
    become = values.get("ansible_become")
    return InventoryEntry(name, str(address) if address else None, str(user) if user else None, port_number,
                          identity=str(key) if key else None,
                          sudo=None if become is None else ansible.is_true(become))


def _json(path: str, text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text, parse_int=parse_int)  # a 5,000-digit number elsewhere hides no node
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise InputError(f"{path}: JSON that is not an object; expected kubectl get nodes -o json "
                         "or ansible-inventory --list")
    return doc


def _from_nodes_json(path: str, doc: dict[str, Any], address_type: str) -> list[InventoryEntry]:
    """``kubectl get nodes -o json``: the node name, and its address of the chosen type."""
    items = doc.get("items")
    if not isinstance(items, list):
        raise InputError(f"{path}: JSON without an items list; expected kubectl get nodes -o json "
                         "or ansible-inventory --list")
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
