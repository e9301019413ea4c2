"""Which nodes a command reads, from the options the user gave.

Exactly one source: ``--demo``, ``--snapshot DIR``, ``--root DIR``, SSH (``--nodes`` or
``--inventory``, or ``node NODE`` naming a host), or else this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from podaudit.cluster.source import Cluster, InputError, NodeSource, demo_path, local_cluster, snapshot_cluster

if TYPE_CHECKING:
    from podaudit.cluster.inventory import InventoryEntry
    from podaudit.transport.ssh import SSHConfigLike, SshOptions

# Per node, for the connection and for each command: generous, because a busy node (or many
# nodes sharing few cores) answers slowly; the whole-run --deadline bounds the sweep.
DEFAULT_TIMEOUT = 30.0


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


def select_cluster(sel: Selection, host: str | None = None) -> Cluster:
    """The cluster to read; ``host`` is a node a command named (``podaudit node NODE``)."""
    ssh = sel.nodes is not None or sel.inventory is not None
    chosen = [name for name, given in (("--snapshot", sel.snapshot is not None), ("--root", sel.root is not None),
                                       ("--demo", sel.demo), ("--nodes/--inventory", ssh)) if given]
    if len(chosen) > 1:
        raise InputError(f"{' and '.join(chosen)} each name where to read nodes from; give only one")
    if sel.demo:
        return snapshot_cluster(demo_path())
    if sel.snapshot is not None:
        return snapshot_cluster(sel.snapshot)
    if sel.root is not None:
        return local_cluster(sel.root)
    if ssh or host is not None:
        return ssh_cluster(sel, host)
    return local_cluster("/")


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


def ssh_cluster(sel: Selection, host: str | None = None) -> Cluster:
    """Nodes reached over SSH: the inventory's, or the one host named."""
    from podaudit.cluster.inventory import InventoryEntry, from_nodes_option, load_inventory
    from podaudit.collect.over_ssh import SshNode
    from podaudit.transport.ssh import SshError, SshOptions, load_ssh_config

    if sel.inventory is not None:
        entries = load_inventory(sel.inventory, sel.address_type)
        if sel.nodes is not None:
            entries = _pick(entries, from_nodes_option(sel.nodes), sel.inventory)
    elif sel.nodes is not None:
        entries = from_nodes_option(sel.nodes)
    else:
        entries = [InventoryEntry(host or "")]
    options = SshOptions(ssh_config=sel.ssh_config, known_hosts=sel.known_hosts, user=sel.user,
                         identity=sel.identity, accept_new_host_keys=sel.accept_new_host_keys, timeout=sel.timeout)
    try:
        config = load_ssh_config(sel.ssh_config)
    except SshError as exc:
        raise InputError(str(exc)) from exc
    if host is not None and sel.inventory is None and sel.nodes is None:
        _check_host(host, options, config, sel.ssh_config)
    only = len(entries) == 1
    nodes: list[NodeSource] = [SshNode(entry, options, sel.sudo, only, config=config) for entry in entries]
    origin = f"inventory {sel.inventory}" if sel.inventory else "--nodes" if sel.nodes else f"host {host}"
    return Cluster(nodes, None, origin)
