"""Where nodes come from: this machine, a root directory, a cluster snapshot, or SSH."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from podaudit.cluster.api import ApiView, load_api_dir

if TYPE_CHECKING:
    from podaudit.kubelet.resolve import NodeView


class InputError(Exception):
    """Bad input from the user: a one-line message, exit code 2."""


USER_FILE_LIMIT = 16 << 20


def read_user_text(path: str, option: str) -> str:
    """A text file the user named (inventory, baseline): UTF-8, regular, at most 16 MiB;
    InputError naming the option and the file otherwise."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(f"{option} {path}: not a regular file")
        with open(path, "rb") as handle:
            return handle.read(USER_FILE_LIMIT).decode("utf-8")
    except OSError as exc:
        raise InputError(f"{option} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{option} {path}: not UTF-8 text") from exc


class NodeUnavailable(Exception):
    """A node that could not be audited; ``kind`` says why (unreachable, host-key-unknown, ...)."""

    def __init__(self, node: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.node, self.kind, self.message = node, kind, message


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

    def load(self) -> NodeView:
        """Collect and analyse the node; raises NodeUnavailable."""
        ...


@dataclass(frozen=True)
class NodeHandle:
    """A node whose root filesystem is readable here: this machine, --root, a snapshot."""

    name: str
    root: str
    only: bool = False
    node_ip: str | None = None

    def load(self) -> NodeView:
        from podaudit.collect.local import LocalNode
        from podaudit.kubelet.resolve import analyze_node

        node = LocalNode(self.root, label=self.name)
        view = analyze_node(node.snapshot, node, self.node_ip)
        view.collection = {"transport": "local", "root": self.root}
        return view


@dataclass
class Cluster:
    nodes: list[NodeSource]
    api: ApiView | None = None
    origin: str = "local"
    notes: list[str] = field(default_factory=list)

    def node(self, name: str) -> NodeSource | None:
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
    nodes: list[NodeSource] = []
    inside = os.path.realpath(nodes_dir)
    for name in names:
        root = os.path.join(nodes_dir, name)
        # A node folder that leads out of the snapshot (nodes/x -> /) would read this machine.
        if os.path.commonpath([inside, os.path.realpath(root)]) != inside:
            notes.append(f"nodes/{name} leads outside the snapshot ({os.path.realpath(root)}); skipped")
            continue
        api_node = next((n for n in api.nodes if n.name == name), None) if api else None
        nodes.append(NodeHandle(name, root, node_ip=api_node.addresses.get("InternalIP") if api_node else None))
    if not nodes:
        raise InputError(f"--snapshot {path}: nodes/ holds no node folders")
    return Cluster(nodes, api, f"snapshot {path}", notes)


def demo_path() -> str:
    """The bundled demo cluster (package data), usable after any install."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "cluster")
