"""What a rule sees: one node's report with its role and expectations, or the whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from podaudit.api.view import ApiView
    from podaudit.audit.baseline import Baseline, RoleExpectation
    from podaudit.kubelet.resolve import NodeView
    from podaudit.model import NodeFailure

Role = Literal["control-plane", "worker"]


@dataclass
class NodeContext:
    view: NodeView
    role: Role
    # The baseline's expectations for this node's role (None: no baseline given).
    expected: RoleExpectation | None = None
    # The API server's view (None: not asked); rules check ``api.loaded`` for what was read.
    api: ApiView | None = None
    # The node's one name in this run (NodeResult.node); the kubelet's own name when not given.
    node: str = ""
    # The name podaudit reached it by (an inventory entry, a snapshot folder), when known.
    reached_as: str = ""

    def __post_init__(self) -> None:
        self.node = self.node or self.view.node_name.value
        self.reached_as = self.reached_as or self.node


@dataclass
class ClusterContext:
    nodes: list[NodeContext]
    failures: list[NodeFailure] = field(default_factory=list)
    baseline: Baseline | None = None
    api: ApiView | None = None
