"""Which nodes a command reads, and the API view beside them, from the options given.

Exactly one source of nodes: ``--demo``, ``--snapshot DIR``, ``--root DIR``, an inventory
(``--nodes`` or ``--inventory``), ``node NODE`` naming a host, else the API's node list when
a cluster answers, else this machine. Nodes are reached over SSH, or with ``--via
kubectl-debug`` through a debug pod.

The API view: a snapshot's api/ folder, else the user's kubectl when the command wants it
(``find``, ``sweep``) and a kubeconfig exists; ``--no-api`` turns it off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podaudit.cluster.source import (
    Cluster,
    InputError,
    NodeHandle,
    NodeSource,
    NodeUnavailable,
    demo_path,
    local_cluster,
    snapshot_cluster,
)

if TYPE_CHECKING:
    from podaudit.cluster.api import ApiView
    from podaudit.cluster.inventory import InventoryEntry
    from podaudit.cluster.kubectl import KubectlOptions
    from podaudit.kubelet.resolve import NodeView
    from podaudit.transport.ssh import SSHConfigLike, SshOptions

# Per node, for the connection and for each command: generous, because a busy node (or many
# nodes sharing few cores) answers slowly; the whole-run --deadline bounds the sweep.
DEFAULT_TIMEOUT = 30.0
# An API server that does not answer in 10 s is down for our purposes: the node side goes on.
DEFAULT_API_TIMEOUT = 10.0
DEFAULT_DEBUG_IMAGE = "busybox:1.37"


@dataclass(frozen=True)
class RefusedNode:
    """An entry never connected to: its address, user or name failed the inventory's checks
    (``InventoryEntry.problem``). Reported like an unreachable node (PA901), so the rest of a
    sweep goes on and the exit code says some nodes were not audited."""

    name: str
    problem: str
    only: bool = False

    def load(self) -> NodeView:
        raise NodeUnavailable(self.name, "config", self.problem)


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

    def kubectl_options(self) -> KubectlOptions:
        from podaudit.cluster.kubectl import KubectlOptions

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
    if sel.demo or sel.snapshot is not None:
        cluster = snapshot_cluster(demo_path() if sel.demo else sel.snapshot or "")
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
    cluster.notes = notes + cluster.notes
    return cluster


def live_api(sel: Selection) -> tuple[ApiView | None, list[str]]:
    """The API view through kubectl, and lines for people about it (None: no view at all).

    Without any kubeconfig (none given, no KUBECONFIG, no ~/.kube/config, not in a pod) the
    API is out of scope, not broken: one note, no kubectl run.
    """
    import shutil

    from podaudit.cluster.api import ApiView
    from podaudit.cluster.kubectl import describe, load_api_view

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


def _pick(entries: list[InventoryEntry], wanted: list[InventoryEntry], inventory: str) -> list[InventoryEntry]:
    """``--inventory F --nodes a,b``: only those nodes of the inventory."""
    by_name = {e.name: e for e in entries}
    unknown = [w.name for w in wanted if w.name not in by_name]
    if unknown:
        raise InputError(f"--nodes {', '.join(unknown)}: not in the inventory {inventory}")
    return [by_name[w.name] for w in wanted]


def _check_host(host: str, options: SshOptions, config: SSHConfigLike, ssh_config: str | None) -> None:
    """``node NODE``: a name that is neither an ssh_config Host nor resolvable is a typo, not
    an unreachable node."""
    import socket

    from podaudit.transport.ssh import resolve_target

    target = resolve_target(host, options, config)
    if target.hostname != host or target.proxy_jump or target.proxy_command:
        return  # the config maps it somewhere
    try:
        socket.getaddrinfo(host, target.port)
    except (OSError, UnicodeError) as exc:
        where = ssh_config or "~/.ssh/config"
        raise InputError(f"{host}: not a Host in {where} and not a resolvable host name ({exc}); "
                         "check the name, or give --ssh-config or --nodes user@address") from exc


def _check_files(sel: Selection) -> None:
    """--known-hosts and --identity, once for the run: a FIFO, a device or a huge file is a
    usage error here, not the same failure for every node. A file not there yet is fine:
    accept-new creates known_hosts, and a missing key is reported with the keys tried."""
    from podaudit.cluster.source import read_user_bytes
    from podaudit.transport.files import is_dev_null

    for option, path in (("--known-hosts", sel.known_hosts), ("--identity", sel.identity)):
        if path is None:
            continue
        full = os.path.expanduser(path)
        if os.path.lexists(full) and not is_dev_null(full):
            read_user_bytes(full, option)


def remote_cluster(sel: Selection, api: ApiView | None, host: str | None = None) -> Cluster:
    """Nodes reached over SSH or kubectl debug: the inventory's, or the one host named."""
    from podaudit.cluster.inventory import InventoryEntry, checked, from_api_nodes, from_nodes_option, load_inventory

    if sel.inventory is not None:
        entries = load_inventory(sel.inventory, sel.address_type)
        if sel.nodes is not None:
            entries = _pick(entries, from_nodes_option(sel.nodes), sel.inventory)
    elif sel.nodes is not None:
        entries = from_nodes_option(sel.nodes)
    else:
        known = api.node(host or "") if api is not None else None
        entries = from_api_nodes([known], sel.address_type) if known else [
            checked(InventoryEntry(host or ""), "the command line")]
    origin = f"inventory {sel.inventory}" if sel.inventory else "--nodes" if sel.nodes else f"host {host}"
    single = host is not None and sel.inventory is None and sel.nodes is None
    return Cluster(_reach(sel, entries, api, check_host=single and api is None), None, origin)


def api_cluster(sel: Selection, api: ApiView) -> Cluster:
    """Every node the API lists; this machine's own node is read here, without SSH."""
    from podaudit.cluster.inventory import from_api_nodes

    reachable = [n for n in api.nodes if not _no_kubelet_files(n.labels)]
    entries = from_api_nodes(reachable, sel.address_type)
    cluster = Cluster(_reach(sel, entries, api), None, f"the API's nodes ({api.origin})")
    skipped = [n.name for n in api.nodes if n not in reachable]
    if skipped:
        cluster.notes.append(f"not read: {len(skipped)} nodes with no Linux kubelet to read (Windows, virtual "
                             f"kubelet, Fargate): {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    return cluster


def _no_kubelet_files(labels: dict[str, str]) -> bool:
    """Nodes that have no Linux kubelet with files to read (or no SSH to read them with)."""
    return (labels.get("kubernetes.io/os") == "windows" or labels.get("type") == "virtual-kubelet"
            or labels.get("eks.amazonaws.com/compute-type") == "fargate")


def _reach(sel: Selection, entries: list[InventoryEntry], api: ApiView | None, check_host: bool = False
           ) -> list[NodeSource]:
    """How each node is read: kubectl debug, this machine, or SSH."""
    only = len(entries) == 1
    node_ip = {n.name: n.addresses.get("InternalIP") for n in api.nodes} if api is not None else {}
    if sel.via == "kubectl-debug":
        return _debug_nodes(sel, entries, only, node_ip)
    here = _this_node(api) if os.geteuid() == 0 else None  # without root, SSH (with --sudo) reads more
    local: list[NodeSource] = [NodeHandle(e.name, "/", only, node_ip.get(e.name)) for e in entries if e.name == here]
    refused: list[NodeSource] = [RefusedNode(e.name, e.problem, only) for e in entries
                                 if e.problem is not None and e.name != here]
    remote = [e for e in entries if e.name != here and e.problem is None]
    nodes = ssh_nodes(sel, remote, only, node_ip, check_host) if remote else []
    order = {e.name: i for i, e in enumerate(entries)}
    return sorted(local + refused + nodes, key=lambda n: order[n.name])


def _this_node(api: ApiView | None) -> str | None:
    """This machine's node name, when the API lists a node by its host name (kubectl on a
    control-plane node): read it directly rather than over SSH to itself."""
    if api is None:
        return None
    import socket

    name = socket.gethostname().strip().lower()
    node = api.node(name)
    # A pod or container on that node shares its host name but not its files: only the
    # node's own /etc/machine-id (status.nodeInfo.machineID) says that "/" is the node's.
    if node is None or not node.machine_id or _machine_id() != node.machine_id:
        return None
    return name


def _machine_id() -> str:
    try:
        with open("/etc/machine-id", encoding="ascii") as handle:
            return handle.read(64).strip()
    except (OSError, ValueError):
        return ""


def _debug_nodes(sel: Selection, entries: list[InventoryEntry], only: bool, node_ip: dict[str, str | None]
                 ) -> list[NodeSource]:
    import uuid

    from podaudit.cluster.api import valid_node_name
    from podaudit.collect.over_kubectl_debug import DebugNode, DebugOptions, register_cleanup

    bad = [e.name for e in entries if not valid_node_name(e.name)]
    if bad:
        raise InputError(f"--via kubectl-debug: {', '.join(bad)}: not a node name (DNS-1123 subdomain)")
    register_cleanup()
    debug = DebugOptions(sel.debug_image, sel.debug_namespace, max(sel.timeout * 4, 60.0))
    run_id = uuid.uuid4().hex[:12]
    return [DebugNode(e.name, sel.kubectl_options(), debug, run_id, only, node_ip.get(e.name)) for e in entries]


def ssh_nodes(sel: Selection, entries: list[InventoryEntry], only: bool, node_ip: dict[str, str | None],
              check_host: bool = False) -> list[NodeSource]:
    from podaudit.collect.over_ssh import SshNode
    from podaudit.transport.ssh import SshError, SshOptions, load_ssh_config

    options = SshOptions(ssh_config=sel.ssh_config, known_hosts=sel.known_hosts, user=sel.user,
                         identity=sel.identity, accept_new_host_keys=sel.accept_new_host_keys, timeout=sel.timeout)
    try:
        config = load_ssh_config(sel.ssh_config)
        if check_host:
            _check_host(entries[0].name, options, config, sel.ssh_config)
    except SshError as exc:
        raise InputError(str(exc)) from exc
    _check_files(sel)
    return [SshNode(e, options, sel.sudo, only, node_ip.get(e.name), config=config) for e in entries]
