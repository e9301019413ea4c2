"""Where nodes come from: this machine, a root directory, a cluster snapshot, or SSH."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from podaudit.cluster.api import ApiView, _read_capped, load_api_dir

if TYPE_CHECKING:
    from podaudit.kubelet.resolve import NodeView


class InputError(Exception):
    """Bad input from the user: a one-line message, exit code 2."""


# Every file the user names (inventory, baseline, ssh_config and its Includes, known_hosts,
# identities): the largest real ones (a global known_hosts of tens of thousands of hosts) are a
# few MiB. A bigger file, /dev/zero or a FIFO is a mistake to report, not a reason to hang or
# to spend the machine's memory.
USER_FILE_LIMIT = 16 << 20


def read_user_bytes(path: str, option: str, limit: int = USER_FILE_LIMIT) -> bytes:
    """A file the user named: regular (never a device or a FIFO, which could block or never
    end) and at most ``limit`` bytes; InputError naming the option and the file otherwise."""
    try:
        data = _read_capped(path, limit)
    except OSError as exc:
        raise InputError(f"{option} {path}: {exc.strerror}") from exc
    except ValueError as exc:  # a NUL in the path
        raise InputError(f"{option} {path!r}: not a usable path") from exc
    if data is None:
        raise InputError(f"{option} {path}: not a regular file (a device, FIFO or directory)")
    if len(data) > limit:
        raise InputError(f"{option} {path}: larger than {limit >> 20} MiB; not read")
    return data


def read_user_text(path: str, option: str) -> str:
    """A text file the user named (inventory, baseline): UTF-8, see ``read_user_bytes``."""
    try:
        return read_user_bytes(path, option).decode("utf-8")
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
    """A cluster snapshot: nodes/<node>/ node roots and optional api/*.json. What the snapshot
    holds never chooses a path outside it: nodes/ must be a folder, not a link, and an api/
    that is (or holds) a link is not read."""
    nodes_dir = os.path.join(path, "nodes")
    if not path:
        raise InputError("--snapshot is empty; give the path of a cluster snapshot")
    if not os.path.isdir(path):
        raise InputError(f"--snapshot {path}: no such directory")
    if os.path.islink(nodes_dir):
        raise InputError(f"--snapshot {path}: nodes/ is a link ({os.readlink(nodes_dir)}); a cluster snapshot "
                         "holds its nodes/<node>/ folders itself: copy them in")
    if not os.path.isdir(nodes_dir):
        raise InputError(f"--snapshot {path}: no nodes/ folder; a cluster snapshot holds nodes/<node>/ "
                         "(docs/snapshot-format.md)")
    try:
        names = sorted(n for n in os.listdir(nodes_dir) if os.path.isdir(os.path.join(nodes_dir, n)))
    except OSError as exc:
        raise InputError(f"--snapshot {path}: cannot list nodes/ ({exc.strerror})") from exc
    api_dir = os.path.join(path, "api")
    link = _api_link(api_dir)
    api = load_api_dir(api_dir) if os.path.isdir(api_dir) and link is None else None
    notes = list(api.problems) if api else []
    if link is not None:
        notes.append(f"{link} is a link; the API view is not read (a snapshot's api/ holds plain files)")
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


def _api_link(api_dir: str) -> str | None:
    """The first name load_api_dir would read that is a link: it would lead out of the snapshot."""
    if os.path.islink(api_dir):
        return "api"
    names = ["nodes.json", "pods.json", "namespaces.json", "configz"]
    configz = os.path.join(api_dir, "configz")
    if os.path.isdir(configz) and not os.path.islink(configz):
        with contextlib.suppress(OSError):  # load_api_dir reports what it cannot read
            names += [f"configz/{n}" for n in sorted(os.listdir(configz))]
    return next((f"api/{n}" for n in names if os.path.islink(os.path.join(api_dir, n))), None)


def demo_path() -> str:
    """The bundled demo cluster (package data), usable after any install."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "cluster")
