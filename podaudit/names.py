"""Names and addresses from hostile sources (inventories, the API, a node's own word): the
checks that decide whether one may reach a command line, a URL, a path or ssh."""

from __future__ import annotations

import ipaddress
import re

_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")  # every Node name
# RFC 1123 section 2.1 host name: dot-separated labels of letters, digits and inner hyphens,
# at most 63 characters each and 253 in all (one trailing dot allowed: the root).
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Names are ssh_config aliases and Ansible host names too, where "_" is common; they are only
# connected to when there is no address, and then the resolver refuses what DNS cannot hold.
_NAME_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # an IPv6 zone: an interface name or index


def valid_node_name(node: str) -> bool:
    """A DNS-1123 subdomain, as every Node name is; anything else never reaches a URL or a path."""
    return isinstance(node, str) and len(node) <= 253 and _DNS1123.fullmatch(node) is not None


def valid_address(value: str) -> bool:
    """An RFC 1123 host name or an IP literal (IPv6 with or without brackets; a zone only
    as an interface name): nothing a shell, ssh or getaddrinfo could read as more."""
    host = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    return _ip_literal(host) or _host_name(host, _LABEL)


def valid_node_label(value: str) -> bool:
    """A name SSH may connect to when it has no address: a host name that may hold "_"
    (ssh_config aliases, Ansible names), or an IP literal."""
    return _ip_literal(value) or _host_name(value, _NAME_LABEL)


def _host_name(value: str, label: re.Pattern[str]) -> bool:
    name = value[:-1] if value.endswith(".") else value
    return 0 < len(name) <= 253 and all(label.fullmatch(part) for part in name.split("."))


def _ip_literal(value: str) -> bool:
    address, _, zone = value.partition("%")
    if zone and not _ZONE.fullmatch(zone):
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return not zone or ":" in address
