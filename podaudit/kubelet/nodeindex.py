"""The API's Nodes, indexed once per run, for telling which Node a machine is (kubelet/nodename.py).

A machine reached by another name than its Node's (an inventory address, a snapshot folder
named by an IP) is found by its addresses. Scanning every Node for every such machine costs
nodes x Nodes; this index answers by name and by address in constant time per address.

It is the tuple of ``ApiNodeFacts`` the hints always carried (``NodeHints.api_nodes``), so
code and tests that hand a plain tuple still work. Worker processes receive it once per run,
not in every chunk of nodes (run/nodes_file.py).
"""

from __future__ import annotations

from functools import cached_property

from podaudit.model import ApiNodeFacts

# The address kinds kubelet/nodename.py matches a machine by; keys of ``by_address``.
INTERNAL_IP = "InternalIP"
HOSTNAME = "Hostname"


class ApiNodeIndex(tuple[ApiNodeFacts, ...]):
    """Every Node the API lists, in its order, and where each name and address points."""

    @cached_property
    def by_name(self) -> frozenset[str]:
        return frozenset(node.name for node in self)

    @cached_property
    def by_address(self) -> dict[tuple[str, str], tuple[int, ...]]:
        """Where each InternalIP and each Hostname address (lowercased: str.lower, as the scan
        did) points; built at the first lookup, so a run whose machines are all reached by their
        Node's name pays nothing for it."""
        places: dict[tuple[str, str], list[int]] = {}
        for place, node in enumerate(self):
            for kind, value in node.addresses:
                if kind == INTERNAL_IP:
                    places.setdefault((kind, value), []).append(place)
                elif kind == HOSTNAME:
                    places.setdefault((kind, value.lower()), []).append(place)
        return {key: tuple(found) for key, found in places.items()}

    @classmethod
    def of(cls, nodes: tuple[ApiNodeFacts, ...]) -> ApiNodeIndex:
        """``nodes`` indexed: itself when it already is (built once per run in run/reach.py)."""
        return nodes if isinstance(nodes, ApiNodeIndex) else cls(nodes)

    def matching(self, ips: set[str], host: str) -> list[ApiNodeFacts]:
        """The Nodes whose InternalIP is one of ``ips`` or whose Hostname address, lowercased,
        is ``host`` (when given), each once, in the API's order."""
        places = {place for ip in ips for place in self.by_address.get((INTERNAL_IP, ip), ())}
        if host:
            places.update(self.by_address.get((HOSTNAME, host), ()))
        return [self[place] for place in sorted(places)]
