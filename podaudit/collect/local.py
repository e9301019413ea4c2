"""The local collector: this machine, or a node's root filesystem under ``--root DIR``.

It reads procfs for kubelet processes (exact argv from ``proc/<pid>/cmdline``), then serves
the kubelet model file by file, reading through the chosen kubelet's own root
(``proc/<pid>/root``) so a kubelet in a container or another mount namespace is read as it
sees its files. Everything read is recorded in a ``NodeSnapshot``.

Only a live root (``/``, or a host whose procfs is mounted under the root: rootfs.live_procfs)
is read with this machine's facts: the kernel's ``proc/<pid>/root`` magic link, psutil's
interfaces. A tree is a tree whatever its ``proc/`` says: its ``proc/<pid>/root``, ``cwd``
and ``exe`` are links like any other, resolved inside it.

The witnesses (what the kubelet and the runtime say runs) are asked on this machine's own
node only ("/"), by the gather script's witness piece; a tree has those its side file kept
(a bundle's), or none.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podaudit.collect.meta import load_meta
from podaudit.collect.records import GatherError, cgroup_service, start_ticks
from podaudit.collect.remote import gather_script, parse_gather
from podaudit.collect.rootfs import RootFS, describe_oserror, live_procfs
from podaudit.collect.witnesses import witness_budget
from podaudit.errors import NodeUnavailable
from podaudit.kubelet.network import parse_default_route
from podaudit.kubelet.process import choose_kubelet, kubelet_kind
from podaudit.model import (
    DirListing,
    FileRecord,
    Interface,
    KubeletWord,
    NodeHints,
    NodeSnapshot,
    NodeWitnesses,
    ProcessRecord,
    RuntimeWord,
    Witness,
    WitnessSource,
    WitnessStatus,
)
from podaudit.transport.local import LOCAL_TIMEOUT, LocalShell

if TYPE_CHECKING:
    from podaudit.kubelet.resolve import NodeView


@dataclass(frozen=True)
class NodeHandle:
    """A node whose root filesystem is readable here: this machine, --root, a snapshot."""

    name: str
    root: str
    only: bool = False
    hints: NodeHints | None = None

    def load(self) -> NodeView:
        from podaudit.kubelet.resolve import analyze_node

        node = LocalNode(self.root, label=self.name)
        view = analyze_node(node.snapshot, node, self.hints)
        view.collection = {"transport": "local", "root": self.root}
        return view

    def shell(self, sudo: bool = False) -> LocalShell:
        """sh here, under the node's root (``sudo -n`` with ``sudo`` on this machine's own node)."""
        return LocalShell(self.name, self.root, sudo)


class LocalNode:
    """A NodeReader over a root directory that records what it reads."""

    def __init__(self, root: str = "/", label: str | None = None) -> None:
        self.host = RootFS(root)
        self.live = self.host.kernel or live_procfs(root)
        self.snapshot = NodeSnapshot(label or (os.path.basename(os.path.abspath(root)) or "localhost"))
        self.meta = load_meta(self.host, self.live)
        self.snapshot.errors += self.meta.problems
        self.snapshot.processes = find_kubelet_processes(self.host)
        chosen = choose_kubelet(self.snapshot.processes)
        self.view = self._process_root(chosen.pid) if chosen else self.host
        self.snapshot.hostname = self._hostname()
        self.snapshot.interfaces, self.snapshot.default_route = self._network()
        # This machine's own kubelet and runtime are asked; a tree says only what its side
        # file kept (a bundle's parsed witnesses), or nothing.
        self.snapshot.witnesses = local_witnesses(self.snapshot.label) if self.host.kernel else self.meta.witnesses

    def file(self, path: str) -> FileRecord:
        cached = self.snapshot.files.get(path)
        if cached is None:
            cached = self.meta.apply(self.view.read(path))
            self.snapshot.files[path] = cached
        return cached

    def listdir(self, path: str) -> DirListing:
        cached = self.snapshot.dirs.get(path)
        if cached is None:
            cached = self.view.listdir(path)
            self.snapshot.dirs[path] = cached
        return cached

    def _network(self) -> tuple[list[Interface], str | None]:
        """Interfaces: psutil on a live root, the side file's in a tree."""
        route = self.host.read("/proc/net/route", limit=1 << 20).data
        default = parse_default_route(route.decode("utf-8", "replace")) if route else None
        # A live host mounted at the root (the DaemonSet's /host, with hostNetwork) is read
        # like this machine; a tree has only what its side file says.
        if not self.live:
            return self.meta.interfaces, self.meta.default_route or default
        import psutil

        interfaces = [
            Interface(name, tuple(_cidr(a.address, a.netmask) for a in addrs if a.family in (2, 10) and a.netmask))
            for name, addrs in psutil.net_if_addrs().items()
        ]
        return interfaces, default

    def _process_root(self, pid: int) -> RootFS:
        """The root the kubelet sees: this root, or the process's own (a container's). In a
        tree, proc/<pid>/root is a link like any other: wherever it points, inside the tree."""
        if self.live:
            return self._live_process_root(pid)
        try:
            resolved = self.host.resolve(f"/proc/{pid}/root")
        except OSError:
            return self.host
        if not os.path.isdir(resolved.host_path) or resolved.node_path == "/":
            return self.host
        return RootFS(resolved.host_path)

    def _live_process_root(self, pid: int) -> RootFS:
        """Live procfs: read through the magic link when the kubelet lives in another mount
        namespace (kind, minikube, RKE1) or root; its links are resolved inside that root."""
        proc = os.path.join(self.host.root, "proc")
        try:
            theirs = os.readlink(f"{proc}/{pid}/ns/mnt")
            ours = os.readlink("/proc/self/ns/mnt")
            same_root = os.path.samefile(f"{proc}/{pid}/root", self.host.root)
        except OSError:
            return self.host
        if theirs == ours and same_root:
            return self.host
        link = f"{proc}/{pid}/root"
        try:
            os.listdir(link)
        except OSError as exc:
            self.snapshot.errors.append(f"{link}: {describe_oserror(exc)}; reading the host's files instead")
            return self.host
        return RootFS(link)

    def _hostname(self) -> str | None:
        sources = ["/etc/hostname"] if self.view is not self.host else ["/proc/sys/kernel/hostname", "/etc/hostname"]
        for path in sources:
            record = self.view.read(path, limit=4096)
            if record.data:
                name = record.data.decode("utf-8", "replace").strip()
                if name:
                    return name
        return None


def local_witnesses(name: str) -> NodeWitnesses:
    """What this machine's kubelet and runtime say: the gather script's witness piece, run
    here under ``sh -s`` (the local Shell, which bounds its time and output) as the user
    podaudit runs as. A failure to run it is both witnesses failed, with its one line."""
    try:
        script = gather_script(witnesses_only=True, witness_budget=witness_budget(LOCAL_TIMEOUT))
        stream = LocalShell(name, "/", what="witness script").run(script)
        found = parse_gather(stream, name).witnesses
    except NodeUnavailable as exc:
        why = exc.message
    except GatherError as exc:
        why = f"the witness script's answer is corrupt ({exc})"
    else:
        if found is not None:
            return found
        why = "the witness script said nothing"
    why = why.removeprefix(f"{name}: ")
    return NodeWitnesses(KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.FAILED, "node", why)),
                         RuntimeWord(Witness(WitnessSource.RUNTIME, WitnessStatus.FAILED, "crictl", why)))


def _cidr(address: str, netmask: str) -> str:
    """'10.0.0.5' and '255.255.0.0' → '10.0.0.5/16' (IPv6 scope suffixes dropped)."""
    address = address.split("%", maxsplit=1)[0]
    try:
        prefix = bin(int(ipaddress.ip_address(netmask))).count("1")
        return str(ipaddress.ip_interface(f"{address}/{prefix}"))
    except ValueError:
        return address


def find_kubelet_processes(host: RootFS) -> list[ProcessRecord]:
    """Every kubelet-like process under ``proc/``, with exact argv, exe, cwd and start time."""
    listing = host.listdir("/proc")
    boot = _boot_time(host)
    found = []
    for name in sorted(listing.names or (), key=lambda n: (len(n), n)):
        if not name.isdigit():
            continue
        record = host.read(f"/proc/{name}/cmdline", limit=1 << 20)
        if not record.data:
            continue
        argv = tuple(a.decode("utf-8", "surrogateescape") for a in record.data.rstrip(b"\0").split(b"\0"))
        exe = host.readlink(f"/proc/{name}/exe")
        if kubelet_kind(argv, exe) is None:
            continue
        found.append(ProcessRecord(int(name), argv, exe, host.readlink(f"/proc/{name}/cwd"),
                                   _start_time(host, name, boot), _unit(host, name)))
    return found


def _unit(host: RootFS, pid: str) -> str | None:
    record = host.read(f"/proc/{pid}/cgroup", limit=1 << 16)
    return cgroup_service(record.data or b"")


def _boot_time(host: RootFS) -> float | None:
    record = host.read("/proc/stat", limit=1 << 20)
    for line in (record.data or b"").splitlines():
        if line.startswith(b"btime "):
            try:
                boot = float(line.split()[1])
            except (IndexError, ValueError):
                return None
            return boot if math.isfinite(boot) else None
    return None


def _start_time(host: RootFS, pid: str, boot: float | None) -> float | None:
    record = host.read(f"/proc/{pid}/stat", limit=1 << 16)
    if boot is None or not record.data or not math.isfinite(boot):
        return None
    ticks = start_ticks(record.data)
    return None if ticks is None else boot + ticks / os.sysconf("SC_CLK_TCK")
