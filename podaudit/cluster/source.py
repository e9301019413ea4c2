"""Where nodes come from: this machine, a root directory, or a cluster snapshot."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from podaudit.cluster.api import ApiView, load_api_dir
from podaudit.collect.local import LocalNode


class InputError(Exception):
    """Bad input from the user: a one-line message, exit code 2."""


@dataclass(frozen=True)
class NodeHandle:
    """One node to audit: its name as the cluster knows it, and its root filesystem."""

    name: str
    root: str
    # The only node on offer (this machine, or --root): read it whatever the pod's name says.
    only: bool = False

    def open(self) -> LocalNode:
        return LocalNode(self.root, label=self.name)


@dataclass
class Cluster:
    nodes: list[NodeHandle]
    api: ApiView | None = None
    origin: str = "local"
    notes: list[str] = field(default_factory=list)

    def node(self, name: str) -> NodeHandle | None:
        return next((n for n in self.nodes if n.name == name), None)


def local_cluster(root: str) -> Cluster:
    """This machine (root '/') or one node's filesystem under --root."""
    if not root:
        raise InputError("--root is empty; give the path of a node's root filesystem (or / for this machine)")
    if not os.path.isdir(root):
        raise InputError(f"--root {root}: no such directory; give the path of a node's root filesystem")
    label = "localhost" if os.path.abspath(root) == "/" else os.path.basename(os.path.abspath(root))
    return Cluster([NodeHandle(label, root, only=True)], None, f"root {root}")


def snapshot_cluster(path: str) -> Cluster:
    """A cluster snapshot: nodes/<node>/ node roots and optional api/*.json."""
    nodes_dir = os.path.join(path, "nodes")
    if not path:
        raise InputError("--snapshot is empty; give the path of a cluster snapshot")
    if not os.path.isdir(path):
        raise InputError(f"--snapshot {path}: no such directory")
    if not os.path.isdir(nodes_dir):
        raise InputError(f"--snapshot {path}: no nodes/ folder; a cluster snapshot holds nodes/<node>/ "
                         "(docs/snapshot-format.md)")
    try:
        names = sorted(n for n in os.listdir(nodes_dir) if os.path.isdir(os.path.join(nodes_dir, n)))
    except OSError as exc:
        raise InputError(f"--snapshot {path}: cannot list nodes/ ({exc.strerror})") from exc
    api_dir = os.path.join(path, "api")
    api = load_api_dir(api_dir) if os.path.isdir(api_dir) else None
    notes = list(api.problems) if api else []
    nodes = []
    inside = os.path.realpath(nodes_dir)
    for name in names:
        root = os.path.join(nodes_dir, name)
        # A node folder that leads out of the snapshot (nodes/x -> /) would read this machine.
        if os.path.commonpath([inside, os.path.realpath(root)]) != inside:
            notes.append(f"nodes/{name} leads outside the snapshot ({os.path.realpath(root)}); skipped")
            continue
        nodes.append(NodeHandle(name, root))
    if not nodes:
        raise InputError(f"--snapshot {path}: nodes/ holds no node folders")
    return Cluster(nodes, api, f"snapshot {path}", notes)


def demo_path() -> str:
    """The bundled demo cluster (package data), usable after any install."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "cluster")
