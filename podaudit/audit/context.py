"""What a rule sees: one node's report with its role and expectations, or the whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from podaudit.api.view import ApiView
    from podaudit.audit.baseline import Baseline, RoleExpectation
    from podaudit.errors import NodeUnavailable
    from podaudit.kubelet.resolve import NodeView

Role = Literal["control-plane", "worker"]


@dataclass
class NodeContext:
    view: NodeView
    role: Role
    # The baseline's expectations for this node's role (None: no baseline given).
    expected: RoleExpectation | None = None
    # The API server's view (None: not asked); rules check ``api.loaded`` for what was read.
    api: ApiView | None = None

    @property
    def node(self) -> str:
        return self.view.node_name.value


@dataclass
class ClusterContext:
    nodes: list[NodeContext]
    failures: list[NodeUnavailable] = field(default_factory=list)
    baseline: Baseline | None = None
    api: ApiView | None = None
