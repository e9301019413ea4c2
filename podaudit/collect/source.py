"""One node to audit, whatever reaches it (this machine, --root, a snapshot, SSH, kubectl
debug), and what reading it gives: a ``NodeResult``, the node's view or why there is none,
under the node's one name for the whole run."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from podaudit.errors import InputError, NodeUnavailable
from podaudit.model import FailureKind, NodeFailure

if TYPE_CHECKING:
    from podaudit.kubelet.resolve import NodeView
    from podaudit.transport import Shell


class NodeSource(Protocol):
    """One node to audit."""

    @property
    def name(self) -> str:
        """The node as podaudit reaches it: the inventory's name, --nodes, a snapshot folder."""
        ...

    @property
    def only(self) -> bool:
        """The only node on offer (this machine, --root): read whatever a pod's name says."""
        ...

    @property
    def root(self) -> str:
        """Where the node's paths live from here: '/' on a live node, the --root directory."""
        ...

    def load(self) -> NodeView:
        """Collect and analyse the node; raises NodeUnavailable (``read_node`` makes it a value)."""
        ...

    def shell(self, sudo: bool = False) -> Shell:
        """Root on the node, the way it was read (``sudo``: the run's --sudo, for a node read
        here); raises NodeUnavailable when it cannot be changed from here."""
        ...


@dataclass(frozen=True)
class NodeResult:
    """One node of a run: its view, or why it could not be audited.

    ``node`` is the node's one name everywhere after this (rules, reports, failures, the
    duplicate check): the kubelet's own node name when the node was read, else the name it
    was reached by. ``reached_as`` is that second name, for messages that must say both.
    """

    node: str
    view: NodeView | None
    failure: NodeFailure | None
    seconds: float = 0.0
    reached_as: str = ""

    @classmethod
    def read(cls, reached_as: str, view: NodeView, seconds: float = 0.0) -> NodeResult:
        # The kubelet's name is what the API and the mirror pods know the node by.
        return cls(view.node_name.value, view, None, seconds, reached_as)

    @classmethod
    def failed(cls, failure: NodeFailure, seconds: float = 0.0) -> NodeResult:
        return cls(failure.node, None, failure, seconds, failure.node)


def read_node(source: NodeSource) -> NodeResult:
    """Read one node into its result; never raises for the node's sake (a bug in one node's
    analysis costs that node, as a failure of kind ``error``)."""
    start = time.monotonic()
    try:
        return NodeResult.read(source.name, source.load(), time.monotonic() - start)
    except NodeUnavailable as exc:
        return NodeResult.failed(exc.failure, time.monotonic() - start)
    except Exception as exc:  # a bug in one node's analysis must not lose the others
        failure = NodeFailure(source.name, FailureKind.ERROR, f"{source.name}: {type(exc).__name__}: {exc}")
        return NodeResult.failed(failure, time.monotonic() - start)


def refuse_duplicates(results: Iterable[NodeResult], what: str) -> None:
    """InputError when several nodes read report one node name (cloned machines, a host
    listed twice): their ``what`` would be mixed."""
    seen: dict[str, int] = {}
    for result in results:
        if result.view is not None:
            seen[result.node] = seen.get(result.node, 0) + 1
    twice = sorted(name for name, count in seen.items() if count > 1)
    if twice:
        raise InputError(f"several nodes report the node name {', '.join(twice)} (cloned machines, or a host "
                         f"listed twice): their {what} would be mixed; fix the inventory or the nodes' names")


@dataclass
class SweepResult:
    results: list[NodeResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def audited(self) -> list[tuple[str, NodeView]]:
        """(name, view) of every node read."""
        return [(r.node, r.view) for r in self.results if r.view is not None]

    @property
    def views(self) -> list[NodeView]:
        return [r.view for r in self.results if r.view is not None]

    @property
    def failures(self) -> list[NodeFailure]:
        return [r.failure for r in self.results if r.failure is not None]
