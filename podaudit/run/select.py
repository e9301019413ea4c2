"""Which nodes a command reads, and the API view beside them, from the options given.

Exactly one source of nodes: ``--demo``, ``--snapshot DIR``, ``--root DIR``, an inventory
(``--nodes`` or ``--inventory``), ``node NODE`` naming a host, else the API's node list when
a cluster answers, else this machine. Nodes are reached over SSH, or with ``--via
kubectl-debug`` through a debug pod.

The API view: a snapshot's api/ folder, else the user's kubectl when the command wants it
(``find``, ``sweep``) and a kubeconfig exists; ``--no-api`` turns it off.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podaudit.api.view import ApiView, load_api_dir
from podaudit.collect.local import NodeHandle
from podaudit.errors import InputError
from podaudit.run.reach import api_node_facts, node_hints, reach

if TYPE_CHECKING:
    from podaudit.collect.source import NodeSource
    from podaudit.model import InventoryEntry
    from podaudit.transport.kubectl import KubectlOptions

# Per node, for the connection and for each command: generous, because a busy node (or many
# nodes sharing few cores) answers slowly; the whole-run --deadline bounds the sweep.
DEFAULT_TIMEOUT = 30.0
# An API server that does not answer in 10 s is down for our purposes: the node side goes on.
DEFAULT_API_TIMEOUT = 10.0
DEFAULT_DEBUG_IMAGE = "busybox:1.37"
# A snapshot's api/ folders of node proxy answers, one NODE.json each: /configz and /pods.
ANSWER_FOLDERS = ("configz", "kubelet-pods")


@dataclass
class Selection:
    """Every option that says where nodes come from and how to reach them."""

    snapshot: str | None = None
    root: str | None = None
    demo: bool = False
    nodes: str | None = None
    inventory: str | None = None
    address_type: str = "InternalIP"
    ssh_config: str | None = None
    known_hosts: str | None = None
    user: str | None = None
    identity: str | None = None
    sudo: bool = False
    accept_new_host_keys: bool = False
    concurrency: int = 32
    timeout: float = DEFAULT_TIMEOUT
    deadline: float | None = None
    kubeconfig: str | None = None
    context: str | None = None
    kubectl: str = "kubectl"
    no_api: bool = False
    api_timeout: float = DEFAULT_API_TIMEOUT
    via: str = "ssh"  # or "kubectl-debug"
    debug_image: str = DEFAULT_DEBUG_IMAGE
    debug_namespace: str | None = None
    # "paramiko" (built in) or "openssh": the system ssh binary with the user's own config.
    ssh_client: str = "paramiko"
    # Ansible host pattern (--limit): which of the inventory's hosts to read.
    limit: str | None = None

    def kubectl_options(self) -> KubectlOptions:
        from podaudit.transport.kubectl import KubectlOptions

        return KubectlOptions(self.kubeconfig, self.context, self.kubectl, self.api_timeout)


def select_cluster(sel: Selection, host: str | None = None, want_api: bool = False) -> Cluster:
    """The cluster to read; ``host`` is a node a command named (``podaudit node NODE``);
    ``want_api``: the command uses the API view (mirror pods), so ask kubectl for it."""
    ssh = sel.nodes is not None or sel.inventory is not None
    chosen = [name for name, given in (("--snapshot", sel.snapshot is not None), ("--root", sel.root is not None),
                                       ("--demo", sel.demo), ("--nodes/--inventory", ssh)) if given]
    if len(chosen) > 1:
        raise InputError(f"{' and '.join(chosen)} each name where to read nodes from; give only one")
    offline = sel.snapshot is not None or sel.root is not None or sel.demo
    if sel.via == "kubectl-debug" and offline:
        raise InputError(f"--via kubectl-debug reaches live nodes; it does not apply to {chosen[0]}")
    if sel.via == "kubectl-debug" and sel.no_api and not ssh and host is None:
        raise InputError("--via kubectl-debug with --no-api needs --nodes or --inventory: the API's node list is off")
    explicit = sel.kubeconfig is not None or sel.context is not None
    if explicit and (sel.demo or sel.snapshot is not None):
        raise InputError(f"{chosen[0]} carries its own API view (api/); --kubeconfig/--context do not apply")
    _check_limit(sel, None if ssh else host)
    if sel.demo or sel.snapshot is not None:
        cluster = snapshot_cluster(demo_path() if sel.demo else sel.snapshot or "", kubelet=not sel.no_api)
        cluster.nodes = _limit_nodes(cluster.nodes, sel.limit, cluster.origin)
        if sel.no_api:
            cluster.api = None
        return cluster
    asked = not sel.no_api and (explicit or (sel.root is None and (want_api or sel.via == "kubectl-debug")))
    api, notes = live_api(sel) if asked else (None, [])
    if sel.root is not None:
        cluster = local_cluster(sel.root)
    elif ssh or host is not None:
        cluster = remote_cluster(sel, api, host)
    elif api is not None and "nodes" in api.loaded and api.nodes:
        cluster = api_cluster(sel, api)
    elif sel.via == "kubectl-debug":
        raise InputError("--via kubectl-debug needs node names: the API did not list any"
                         f"{' (' + notes[-1] + ')' if notes else ''}; give --nodes")
    else:
        cluster = local_cluster("/")
        if asked:
            notes.append("reading this machine only: the API listed no nodes to reach")
    cluster.api = api
    cluster.selection = sel
    cluster.notes = notes + cluster.notes
    return cluster


def live_api(sel: Selection) -> tuple[ApiView | None, list[str]]:
    """The API view through kubectl, and lines for people about it (None: no view at all).

    Without any kubeconfig (none given, no KUBECONFIG, no ~/.kube/config, not in a pod) the
    API is out of scope, not broken: one note, no kubectl run.
    """
    import shutil

    from podaudit.api.kubectl import describe, load_api_view

    explicit = sel.kubeconfig is not None or sel.context is not None
    if not explicit and not _kubeconfig_present():
        return None, ["no API view: no kubeconfig (KUBECONFIG, ~/.kube/config, in-cluster); mirror pods not "
                      "checked (give --kubeconfig, or --no-api to say so)"]
    if shutil.which(sel.kubectl) is None:
        line = f"no API view: {sel.kubectl} not found; mirror pods not checked (install kubectl, or --no-api)"
        if not explicit:
            return None, [line]
        # Asked for by name: not having it is a failure of the run (PA905, exit 3), not a note.
        return ApiView(origin=describe(sel.kubectl_options()), problems=[line],
                       failed={"nodes": line, "pods": line, "namespaces": line}), [line]
    view = load_api_view(sel.kubectl_options())
    # Returned even when nothing could be read: the sweep reports that (PA905) and goes on.
    return view, list(view.problems)


def _kubeconfig_present() -> bool:
    if os.environ.get("KUBECONFIG") or os.environ.get("KUBERNETES_SERVICE_HOST"):
        return True
    return os.path.isfile(os.path.expanduser("~/.kube/config"))


def _check_limit(sel: Selection, host: str | None) -> None:
    """--limit chooses among nodes: with --root or ``node NODE`` there is one."""
    one = "--root" if sel.root is not None else f"node {host}" if host is not None else None
    if sel.limit is not None and one is not None:
        raise InputError(f"--limit picks among several nodes; {one} names one")


def _limit_nodes(nodes: list[NodeSource], limit: str | None, origin: str) -> list[NodeSource]:
    """A snapshot's (or the demo's) nodes that --limit selects, by node name."""
    from podaudit.inventory.patterns import select

    if limit is None:
        return nodes
    names = [n.name for n in nodes]
    chosen = set(select(limit, names, {"all": names}, origin))
    return [n for n in nodes if n.name in chosen]


def _pick(entries: list[InventoryEntry], wanted: list[InventoryEntry], inventory: str) -> list[InventoryEntry]:
    """``--inventory F --nodes a,b``: only those nodes of the inventory."""
    by_name = {e.name: e for e in entries}
    unknown = [w.name for w in wanted if w.name not in by_name]
    if unknown:
        raise InputError(f"--nodes {', '.join(unknown)}: not in the inventory {inventory} (or left out by --limit)")
    return [by_name[w.name] for w in wanted]


def remote_cluster(sel: Selection, api: ApiView | None, host: str | None = None) -> Cluster:
    """Nodes reached over SSH or kubectl debug: the inventory's, or the one host named."""
    from podaudit.inventory import checked, from_api_nodes, from_nodes_option, limited, load_inventory
    from podaudit.model import InventoryEntry

    if sel.inventory is not None:
        entries = load_inventory(sel.inventory, sel.address_type, sel.limit)
        if sel.nodes is not None:
            entries = _pick(entries, from_nodes_option(sel.nodes), sel.inventory)
    elif sel.nodes is not None:
        entries = from_nodes_option(sel.nodes)
        entries = entries if sel.limit is None else limited(entries, sel.limit, "--nodes")
    else:
        known = api.node(host or "") if api is not None else None
        entries = from_api_nodes([known], sel.address_type) if known else [
            checked(InventoryEntry(host or ""), "the command line")]
    origin = f"inventory {sel.inventory}" if sel.inventory else "--nodes" if sel.nodes else f"host {host}"
    single = host is not None and sel.inventory is None and sel.nodes is None
    return Cluster(reach(sel, entries, api, single and api is None), None, origin)


def api_cluster(sel: Selection, api: ApiView) -> Cluster:
    """Every node the API lists; this machine's own node is read here, without SSH."""
    from podaudit.inventory import from_api_nodes, limited

    reachable = [n for n in api.nodes if not _no_kubelet_files(n.labels)]
    entries = from_api_nodes(reachable, sel.address_type)
    if sel.limit is not None:
        entries = limited(entries, sel.limit, f"the API's nodes ({api.origin})")
    cluster = Cluster(reach(sel, entries, api), None, f"the API's nodes ({api.origin})")
    skipped = [n.name for n in api.nodes if n not in reachable]
    if skipped:
        cluster.notes.append(f"not read: {len(skipped)} nodes with no Linux kubelet to read (Windows, virtual "
                             f"kubelet, Fargate): {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    return cluster


def _no_kubelet_files(labels: dict[str, str]) -> bool:
    """Nodes that have no Linux kubelet with files to read (or no SSH to read them with)."""
    return (labels.get("kubernetes.io/os") == "windows" or labels.get("type") == "virtual-kubelet"
            or labels.get("eks.amazonaws.com/compute-type") == "fargate")


@dataclass
class Cluster:
    nodes: list[NodeSource]
    api: ApiView | None = None
    origin: str = "local"
    notes: list[str] = field(default_factory=list)
    # The selection, when the API view is live: the kubelets are asked through it.
    selection: Selection | None = None

    def node(self, name: str) -> NodeSource | None:
        return next((n for n in self.nodes if n.name == name), None)

    def about_to_read(self, nodes: Sequence[NodeSource]) -> list[NodeSource]:
        """``nodes``, each with its kubelet's word through the API's node proxy, asked now,
        just before they are read, and only of them (notes say whom it was not heard from)."""
        if self.api is None or self.selection is None:
            return list(nodes)
        from podaudit.run.reach import with_kubelet_words

        asked, notes = with_kubelet_words(self.selection, self.api, nodes)
        self.notes += notes
        return asked


def local_cluster(root: str) -> Cluster:
    """This machine (root '/') or one node's filesystem under --root."""
    if not root:
        raise InputError("--root is empty; give the path of a node's root filesystem (or / for this machine)")
    if not os.path.isdir(root):
        raise InputError(f"--root {root}: no such directory; give the path of a node's root filesystem")
    label = "localhost" if os.path.abspath(root) == "/" else os.path.basename(os.path.abspath(root))
    return Cluster([NodeHandle(label, root, only=True)], None, f"root {root}")


def snapshot_cluster(path: str, kubelet: bool = True) -> Cluster:
    """A cluster snapshot: nodes/<node>/ node roots and optional api/*.json. What the snapshot
    holds never chooses a path outside it: nodes/ must be a folder, not a link, and an api/
    that is (or holds) a link is not read. Each node the API lists gets its hints: its
    InternalIP and, unless ``kubelet`` is False (--no-api), its kubelet's recorded word
    (api/configz/, api/kubelet-pods/)."""
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
    every = api_node_facts(api) if api else ()
    for name in names:
        root = os.path.join(nodes_dir, name)
        # A node folder that leads out of the snapshot (nodes/x -> /) would read this machine.
        if os.path.commonpath([inside, os.path.realpath(root)]) != inside:
            notes.append(f"nodes/{name} leads outside the snapshot ({os.path.realpath(root)}); skipped")
            continue
        api_node = api.node(name) if api else None
        word = api.kubelet.get(name) if api and kubelet else None
        hints = node_hints(api, name, every, word if api_node else None) if api else None
        nodes.append(NodeHandle(name, root, hints=hints))
    if not nodes:
        raise InputError(f"--snapshot {path}: nodes/ holds no node folders")
    return Cluster(nodes, api, f"snapshot {path}", notes)


def _api_link(api_dir: str) -> str | None:
    """The first name load_api_dir would read that is a link: it would lead out of the snapshot."""
    if os.path.islink(api_dir):
        return "api"
    names = ["nodes.json", "pods.json", "namespaces.json", *ANSWER_FOLDERS]
    for folder in ANSWER_FOLDERS:
        inside = os.path.join(api_dir, folder)
        if os.path.isdir(inside) and not os.path.islink(inside):
            with contextlib.suppress(OSError):  # load_api_dir reports what it cannot read
                names += [f"{folder}/{n}" for n in sorted(os.listdir(inside))]
    return next((f"api/{n}" for n in names if os.path.islink(os.path.join(api_dir, n))), None)


def demo_path() -> str:
    """The bundled demo cluster (package data), usable after any install."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo", "cluster")
