"""Node network facts: the interface that carries the node's address, and the CNI's.

"How to read the pod network" on a node: the node's own interface with its prefix
(``ens160 10.10.14.124/16``) and the interfaces a CNI plugin creates with their ranges
(``weave 10.44.0.0/12``, ``cni0``, ``flannel.1``, ``cali*``, ``cilium_host``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass

from podaudit.model import Interface, NodeSnapshot

CNI_INTERFACES = ("weave", "cni0", "flannel.*", "cali*", "cilium_*", "vxlan.calico", "tunl0", "kube-bridge",
                  "antrea-*", "ovn-k8s-*", "genev_sys_*", "kube-ipvs0", "nodelocaldns", "vxlan-v6.calico")


@dataclass(frozen=True)
class CniInterface:
    name: str
    addresses: tuple[str, ...]  # as the interface holds them, e.g. 10.44.0.0/12
    ranges: tuple[str, ...]  # the networks they belong to, e.g. 10.32.0.0/12


@dataclass(frozen=True)
class NetworkFacts:
    node_interface: str | None
    node_addresses: tuple[str, ...]  # CIDR, e.g. 10.10.14.124/16
    how: str  # why this interface is the node's
    cni: tuple[CniInterface, ...]


def parse_ip_addr(text: str) -> list[Interface]:
    """``ip -o addr show``: ``2: ens160    inet 10.10.14.124/16 brd ... scope global ens160``."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4 or words[2] not in {"inet", "inet6"}:
            continue
        name = words[1].split("@")[0]
        found.setdefault(name, []).append(words[3])
    return [Interface(name, tuple(addresses)) for name, addresses in found.items()]


def parse_default_route(text: str) -> str | None:
    """``ip route show default`` (``default via 10.0.0.1 dev ens160 ...``) or /proc/net/route."""
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["default"] and "dev" in words[:-1]:
            return words[words.index("dev") + 1]
        # /proc/net/route: Iface Destination Gateway ... with destination 00000000 for the default.
        if len(words) > 2 and words[1] == "00000000" and words[0] != "Iface":
            return words[0]
    return None


def network_facts(snapshot: NodeSnapshot, node_ip: str | None = None) -> NetworkFacts:
    """The node's interface (the one holding ``node_ip``, else the default route's) and CNI ones."""
    interfaces = snapshot.interfaces
    node, how = None, ""
    if node_ip:
        node = next((i for i in interfaces if any(a.split("/")[0] == node_ip for a in i.addresses)), None)
        how = f"holds the node's address {node_ip}"
    if node is None and snapshot.default_route:
        node = next((i for i in interfaces if i.name == snapshot.default_route), None)
        how = "carries the default route"
    cni = tuple(
        CniInterface(i.name, i.addresses, tuple(dict.fromkeys(_network(a) for a in i.addresses)))
        for i in interfaces if any(fnmatch.fnmatchcase(i.name, p) for p in CNI_INTERFACES)
    )
    return NetworkFacts(node.name if node else None, node.addresses if node else (), how if node else "", cni)


def _network(cidr: str) -> str:
    try:
        return str(ipaddress.ip_interface(cidr).network)
    except ValueError:
        return cidr
