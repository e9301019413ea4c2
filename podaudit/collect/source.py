"""One node to audit, whatever reaches it (this machine, --root, a snapshot, SSH, kubectl
debug), and what reading many of them gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from podaudit.errors import NodeUnavailable

if TYPE_CHECKING:
    from podaudit.kubelet.resolve import NodeView
    from podaudit.transport import Shell


class NodeSource(Protocol):
    """One node to audit."""

    @property
    def name(self) -> str:
        """The node as the cluster knows it (or as the user named it)."""
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
        """Collect and analyse the node; raises NodeUnavailable."""
        ...

    def shell(self, sudo: bool = False) -> Shell:
        """Root on the node, the way it was read (``sudo``: the run's --sudo, for a node read
        here); raises NodeUnavailable when it cannot be changed from here."""
        ...


@dataclass(frozen=True)
class NodeResult:
    name: str
    view: NodeView | None
    failure: NodeUnavailable | None
    seconds: float


@dataclass
class SweepResult:
    results: list[NodeResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def views(self) -> list[NodeView]:
        return [r.view for r in self.results if r.view is not None]

    @property
    def failures(self) -> list[NodeUnavailable]:
        return [r.failure for r in self.results if r.failure is not None]
