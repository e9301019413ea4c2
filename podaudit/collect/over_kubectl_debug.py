"""Collect a node through ``kubectl debug node/NODE --profile=sysadmin``: no SSH needed.

Each gather pass runs the same POSIX gather script as the SSH transport, in a debug pod of
its own (transport/debug.py); every pod is deleted whatever happens (transport/debug_pods.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from podaudit.collect.passes import collect_view
from podaudit.collect.records import GatherError
from podaudit.collect.witnesses import witness_budget
from podaudit.errors import NodeUnavailable
from podaudit.kubelet.resolve import NodeView
from podaudit.model import FailureKind, NodeHints, Problem, ProblemKind
from podaudit.transport.debug import DebugOptions, DebugSession, DebugShell
from podaudit.transport.kubectl import KubectlOptions


@dataclass(frozen=True)
class DebugNode:
    """A node reached through ``kubectl debug node/NODE``; a NodeSource."""

    node: str
    kubectl: KubectlOptions
    debug: DebugOptions = field(default_factory=DebugOptions)
    run_id: str = "podaudit"
    only: bool = False
    hints: NodeHints | None = None

    @property
    def name(self) -> str:
        return self.node

    @property
    def root(self) -> str:
        return "/"

    def load(self) -> NodeView:
        start = time.monotonic()
        session = DebugSession(self.node, self.kubectl, self.debug, self.run_id)
        try:
            _, view, execs = collect_view(session.run, self.node, hints=self.hints,
                                          witness_budget=witness_budget(self.debug.timeout))
        except GatherError as exc:
            raise NodeUnavailable(self.node, FailureKind.GATHER, f"{self.node}: {exc}") from exc
        view.collection = {"transport": "kubectl-debug", "pods": session.pods, "execs": execs,
                           "seconds": round(time.monotonic() - start, 3)}
        # Debug pods whose delete failed: the user must delete them (the line says how).
        view.problems.extend(Problem(ProblemKind.COLLECTION, None, line) for line in session.leftovers)
        return view

    def shell(self, sudo: bool = False) -> DebugShell:
        """Each script in a debug pod of its own (root there already: ``sudo`` does not apply)."""
        return DebugShell(self.node, self.kubectl, self.debug, self.run_id)
