"""How each node of a selection is reached: kubectl debug, this machine, or SSH."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, is_dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from podaudit.collect.local import NodeHandle
from podaudit.errors import InputError, NodeUnavailable
from podaudit.model import ApiNodeFacts, FailureKind, KubeletWord, NodeHints, Witness, WitnessSource, WitnessStatus

if TYPE_CHECKING:
    from podaudit.api.view import ApiNode, ApiView
    from podaudit.collect.source import NodeSource
    from podaudit.kubelet.nodeindex import ApiNodeIndex
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


def node_hints(api: ApiView, name: str, every: tuple[ApiNodeFacts, ...], word: KubeletWord | None = None
               ) -> NodeHints:
    """What the API knows of the node reached as ``name``: its InternalIP, its kubelet's word,
    its Node (kubeletVersion) and ``every`` Node (``api_node_facts``), so that its node name
    can be confirmed or corrected (kubelet/nodename.py)."""
    known = api.node(name)
    if known is None:  # only then are its addresses matched against every Node
        return NodeHints(None, word, None, every, "nodes" in api.loaded)
    # Its own Node says it all: no list to carry (it would be pickled for every worker chunk,
    # and scanned per node: quadratic in the fleet).
    facts = _facts(known)
    return NodeHints(known.addresses.get("InternalIP"), word, facts, (), "nodes" in api.loaded)


def _facts(node: ApiNode) -> ApiNodeFacts:
    return ApiNodeFacts(node.name, tuple(sorted(node.addresses.items())), node.kubelet_version)


def api_node_facts(api: ApiView) -> ApiNodeIndex:
    """Every Node's name, addresses and kubeletVersion, indexed by name and address: built once
    per run, shared by every node's hints (and sent once per worker process, not per chunk)."""
    from podaudit.kubelet.nodeindex import ApiNodeIndex

    return ApiNodeIndex(_facts(n) for n in api.nodes)


def reach(sel: Selection, entries: list[InventoryEntry], api: ApiView | None, check_host: bool = False
          ) -> list[NodeSource]:
    """How each node is read: kubectl debug, this machine, or SSH; each with the InternalIP
    the API gives it. The kubelets' word is asked later, of the nodes actually read
    (``with_kubelet_words``): ``find`` reads only the nodes a pod name points to."""
    only = len(entries) == 1
    every = api_node_facts(api) if api is not None else ()
    # Every entry, also one the API does not list by that name: its addresses may find its Node.
    hints = {e.name: node_hints(api, e.name, every) for e in entries} if api is not None else {}
    if sel.via == "kubectl-debug":
        return _debug_nodes(sel, entries, only, hints)
    here = _this_node(api) if os.geteuid() == 0 else None  # without root, SSH (with --sudo) reads more
    local: list[NodeSource] = [NodeHandle(e.name, "/", only, hints.get(e.name)) for e in entries if e.name == here]
    refused: list[NodeSource] = [RefusedNode(e.name, e.problem, only) for e in entries
                                 if e.problem is not None and e.name != here]
    remote = [e for e in entries if e.name != here and e.problem is None]
    nodes = ssh_nodes(sel, remote, only, hints, check_host) if remote else []
    order = {e.name: i for i, e in enumerate(entries)}
    return sorted(local + refused + nodes, key=lambda n: order[n.name])


def with_kubelet_words(sel: Selection, api: ApiView, nodes: Sequence[NodeSource]
                       ) -> tuple[list[NodeSource], list[str]]:
    """The nodes, each with its kubelet's word through the API's node proxy in its hints
    (also kept in ``api.kubelet`` and, for PA107, ``api.configz``), asked just before the
    nodes are read; and a note when some kubelets were not heard (never a PA9xx: nodes/proxy
    is often, rightly, not granted)."""
    if not api.origin.startswith("kubectl"):
        return list(nodes), []
    readable = [n for n in nodes if _hints_of(n) is not None]
    words, notes = _kubelet_words(sel, [n.name for n in readable], api)
    return [_with_word(n, words[n.name]) if n.name in words else n for n in nodes], notes


_NO_HINTS = NodeHints()


def _hints_of(node: NodeSource) -> NodeHints | None:
    """A node's hints (empty when it has none yet); None for a node that takes none
    (RefusedNode: never connected to)."""
    if not (is_dataclass(node) and hasattr(node, "hints")):
        return None
    hints = getattr(node, "hints")  # noqa: B009 - NodeSource does not declare it
    return hints if isinstance(hints, NodeHints) else _NO_HINTS


def _with_word(node: NodeSource, word: KubeletWord) -> NodeSource:
    hints = _hints_of(node) or _NO_HINTS
    # Every source that reads a node is a frozen dataclass with a ``hints`` field.
    return cast("NodeSource", replace(cast(Any, node), hints=replace(hints, kubelet=word)))


def _kubelet_words(sel: Selection, names: list[str], api: ApiView) -> tuple[dict[str, KubeletWord], list[str]]:
    """Ask the kubelets the API knows and calls Ready (its node proxy cannot reach one that
    is down); the others' word is absent, with why."""
    from podaudit.api.kubectl import WORD_CONCURRENCY, kubelet_words
    from podaudit.api.view import PROXY_VIA

    words: dict[str, KubeletWord] = {}
    ask: list[str] = []
    for name in names:
        known = api.node(name)
        if "nodes" not in api.loaded:
            why = "the API's node list could not be read"
        elif known is None:
            why = f"the API lists no node {name}"
        elif known.ready != "True":
            state = "NotReady" if known.ready == "False" else f"Ready={known.ready}"
            why = f"the API calls node {name} {state}: its node proxy cannot reach a kubelet that is down"
        else:
            ask.append(name)
            continue
        words[name] = KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.ABSENT, PROXY_VIA, f"{why}; not asked"))
    until = None if sel.deadline is None else time.monotonic() + sel.deadline
    heard = kubelet_words(sel.kubectl_options(), ask, until, max(1, min(sel.concurrency, WORD_CONCURRENCY)))
    words.update(heard)
    api.kubelet.update(words)
    api.configz.update({name: word.configz for name, word in heard.items() if word.configz is not None})
    unheard = [word.witness.detail for word in heard.values() if word.witness.status is not WitnessStatus.HEARD]
    if not unheard:
        return words, []
    details = list(dict.fromkeys(unheard))
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return words, [f"the kubelet witness (/configz and /pods through the API's node proxy) was not heard from "
                   f"{len(unheard)} of {len(ask)} nodes, so PA107 and the kubelet's pod list are not checked "
                   f"there: {details[0]}{more}"]


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


def _debug_nodes(sel: Selection, entries: list[InventoryEntry], only: bool, hints: dict[str, NodeHints]
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
    return [DebugNode(e.name, sel.kubectl_options(), debug, run_id, only, hints.get(e.name)) for e in entries]


def ssh_nodes(sel: Selection, entries: list[InventoryEntry], only: bool, hints: dict[str, NodeHints],
              check_host: bool = False) -> list[NodeSource]:
    from podaudit.collect.over_ssh import SshNode
    from podaudit.transport.ssh import SshError, SshOptions, load_ssh_config

    options = SshOptions(ssh_config=sel.ssh_config, known_hosts=sel.known_hosts, user=sel.user,
                         identity=sel.identity, accept_new_host_keys=sel.accept_new_host_keys, timeout=sel.timeout)
    if sel.ssh_client == "openssh":
        return _openssh_nodes(sel, entries, only, hints, options)
    try:
        config = load_ssh_config(sel.ssh_config)
        if check_host:
            _check_host(entries[0].name, options, config, sel.ssh_config)
    except SshError as exc:
        raise InputError(str(exc)) from exc
    _check_files(sel)
    return [SshNode(e, options, sel.sudo, only, hints.get(e.name), config=config) for e in entries]


def _openssh_nodes(sel: Selection, entries: list[InventoryEntry], only: bool, hints: dict[str, NodeHints],
                   options: SshOptions) -> list[NodeSource]:
    """--ssh-client openssh: the system ssh reads the user's config itself (not paramiko's
    parser); one private ControlPath folder for the run."""
    from podaudit.collect.over_ssh import SshNode
    from podaudit.transport.openssh import run_control_dir, ssh_binary

    if ssh_binary() is None:
        raise InputError("--ssh-client openssh: no ssh on PATH; install openssh-client, or use --ssh-client paramiko")
    if sel.ssh_config is not None and not os.path.isfile(os.path.expanduser(sel.ssh_config)):
        raise InputError(f"--ssh-config {sel.ssh_config}: no such file")
    _check_files(sel)
    options = replace(options, client="openssh", control_dir=run_control_dir())
    return [SshNode(e, options, sel.sudo, only, hints.get(e.name)) for e in entries]
