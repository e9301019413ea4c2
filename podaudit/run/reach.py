"""How each node of a selection is reached: kubectl debug, this machine, or SSH."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podaudit.collect.local import NodeHandle
from podaudit.errors import InputError, NodeUnavailable
from podaudit.model import FailureKind

if TYPE_CHECKING:
    from podaudit.api.view import ApiView
    from podaudit.collect.source import NodeSource
    from podaudit.kubelet.resolve import NodeView
    from podaudit.model import InventoryEntry
    from podaudit.run.select import Selection
    from podaudit.transport import Shell
    from podaudit.transport.ssh import SSHConfigLike, SshOptions


@dataclass(frozen=True)
class RefusedNode:
    """An entry never connected to: its address, user or name failed the inventory's checks
    (``InventoryEntry.problem``). Reported like an unreachable node (PA901), so the rest of a
    sweep goes on and the exit code says some nodes were not audited."""

    name: str
    problem: str
    only: bool = False

    @property
    def root(self) -> str:
        return "/"

    def load(self) -> NodeView:
        raise NodeUnavailable(self.name, FailureKind.CONFIG, self.problem)

    def shell(self, sudo: bool = False) -> Shell:
        raise NodeUnavailable(self.name, FailureKind.CONFIG, f"{self.name}: podaudit cannot change files there")


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
    from podaudit.transport.files import is_dev_null
    from podaudit.userfiles import read_user_bytes

    for option, path in (("--known-hosts", sel.known_hosts), ("--identity", sel.identity)):
        if path is None:
            continue
        full = os.path.expanduser(path)
        if os.path.lexists(full) and not is_dev_null(full):
            read_user_bytes(full, option)


def reach(sel: Selection, entries: list[InventoryEntry], api: ApiView | None, check_host: bool = False
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

    from podaudit.collect.over_kubectl_debug import DebugNode
    from podaudit.names import valid_node_name
    from podaudit.transport.debug import DebugOptions
    from podaudit.transport.debug_pods import register_cleanup

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
