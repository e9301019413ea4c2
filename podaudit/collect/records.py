"""From gather records to a NodeSnapshot: the same records the local collector makes.

``remote.py`` reads the framed stream into a ``Raw`` bag of records; this module turns it
into files, listings, processes, hostname and network facts, and (with witnesses.py) the
witnesses' W records into ``NodeWitnesses``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from podaudit.collect.witnesses import WitnessRecords, text_of, witnesses_of
from podaudit.kubelet.network import parse_default_route, parse_ip_addr
from podaudit.kubelet.process import kubelet_kind
from podaudit.model import DENIED, MAX_FILE_BYTES, DirListing, FileRecord, Interface, NodeSnapshot, ProcessRecord

CLK_TCK = 100  # when the node cannot say (getconf missing)

_STRERROR = {
    "No such file or directory": "missing",
    "Not a directory": "missing",
    "Permission denied": DENIED,
    "Operation not permitted": DENIED,
    "Too many levels of symbolic links": "symbolic link loop",
    "Symbolic link loop": "symbolic link loop",
    "File name too long": "name too long",
    "Filename too long": "name too long",
}


class GatherError(Exception):
    """The gather stream is missing, truncated or corrupt (a one-line reason)."""


def describe_strerror(strerror: str) -> str:
    return _STRERROR.get(strerror, strerror or "error")


@dataclass
class Raw:
    """What one stream said, before it becomes a snapshot."""

    cap: int = MAX_FILE_BYTES
    files: dict[str, FileRecord] = field(default_factory=dict)
    dirs: dict[str, tuple[str, list[bytes] | None]] = field(default_factory=dict)  # path → (status, entries)
    procs: list[tuple[int, str, list[bytes]]] = field(default_factory=list)
    hostnames: list[tuple[str, bytes]] = field(default_factory=list)
    btime: float | None = None
    clk_tck: int = CLK_TCK
    root: tuple[int, str, str] | None = None
    commands: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    interfaces: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    discover: bool = False
    witness: WitnessRecords = field(default_factory=WitnessRecords)


def build_snapshot(raw: Raw, snapshot: NodeSnapshot) -> NodeSnapshot:
    if raw.discover or raw.witness.seen:
        snapshot.witnesses = witnesses_of(raw.witness)
    snapshot.files.update(raw.files)
    for path, (status, entries) in raw.dirs.items():
        snapshot.dirs[path] = _listing(path, status, entries, raw.files.get(path) or snapshot.files.get(path))
    if raw.discover:
        snapshot.processes = _processes(raw)
        snapshot.hostname = _hostname(raw)
        snapshot.interfaces = _interfaces(raw)
        snapshot.default_route = _default_route(raw)
    elif snapshot.hostname is None:
        snapshot.hostname = _hostname(raw)
    if raw.root is not None and raw.root[1] == "fail":
        why = describe_strerror(raw.root[2])
        raw.errors.append(f"/proc/{raw.root[0]}/root: {why}; reading the host's files instead")
    snapshot.errors += [e for e in raw.errors if e not in snapshot.errors]
    return snapshot


def _listing(path: str, status: str, entries: list[bytes] | None, record: FileRecord | None) -> DirListing:
    """The DirListing os.listdir would give, from the listing or the directory's F record."""
    if status == "list" and entries is not None:
        return DirListing(path, tuple(text_of(e.rpartition(b"/")[2]) for e in entries))
    if status == "deny":
        return DirListing(path, None, DENIED)
    if status == "fail":
        return DirListing(path, None, "could not be listed (find failed on the node)")
    if record is None:
        return DirListing(path, None, "not collected")
    if record.mode is None and record.error:  # the stat failed: listing fails the same way
        return DirListing(path, None, record.error)
    return DirListing(path, None, "missing")  # os.listdir on a non-directory: ENOTDIR


def _processes(raw: Raw) -> list[ProcessRecord]:
    found = []
    for pid, flags, (hex_argv, exe, cwd, stat, cgroup) in sorted(raw.procs, key=lambda p: p[0]):
        try:
            cmdline = bytes.fromhex(text_of(hex_argv))
        except ValueError:
            raise GatherError(f"bad cmdline hex for pid {pid}") from None
        if not cmdline or len(cmdline) >= 1 << 20:  # as find_kubelet_processes reads it
            continue
        argv = tuple(text_of(a) for a in cmdline.rstrip(b"\0").split(b"\0"))
        exe_text = text_of(exe) if "e" in flags else None
        if kubelet_kind(argv, exe_text) is None:
            continue
        found.append(ProcessRecord(
            pid, argv, exe_text, text_of(cwd) if "c" in flags else None,
            _start_time(stat, raw) if "s" in flags else None,
            cgroup_service(cgroup[: 1 << 16]) if "g" in flags else None,
        ))
    return found


def _start_time(stat: bytes, raw: Raw) -> float | None:
    """As local._start_time: boot time plus the start ticks, in the node's clock ticks."""
    ticks = start_ticks(stat) if raw.btime is not None and stat else None
    if ticks is None or raw.btime is None:
        return None
    try:
        return raw.btime + ticks / raw.clk_tck
    except OverflowError:  # a hostile node's 10**400 ticks
        return None


def _command(raw: Raw, name: str) -> str | None:
    rc, output = raw.commands.get(name, ("-", b""))
    return output.decode("utf-8", "replace") if rc == "0" else None


def _default_route(raw: Raw) -> str | None:
    """As LocalNode: the default route's interface from /proc/net/route (else from ip)."""
    for name in ("net-route", "ip-route"):
        text = _command(raw, name)
        if text:
            return parse_default_route(text)
    return None


def _interfaces(raw: Raw) -> list[Interface]:
    """As LocalNode (psutil, which sorts getifaddrs by family): interfaces with an IPv4
    address first, then IPv6-only ones, then the rest, each group in ifindex order; IPv4
    then IPv6 addresses in CIDR form. Without ``ip`` on the node: names only."""
    addresses = {i.name: tuple(_cidr(a) for a in i.addresses)
                 for i in parse_ip_addr(_command(raw, "ip-addr") or "")}
    index = {name: number for number, name in raw.interfaces}
    names = list(dict.fromkeys([*index, *addresses]))

    def order(name: str) -> tuple[int, int, int]:
        found = addresses.get(name, ())
        family = 0 if any(":" not in a for a in found) else 1 if found else 2
        return family, index.get(name, 1 << 33), names.index(name)

    return [Interface(name, addresses.get(name, ())) for name in sorted(names, key=order)]


def _cidr(address: str) -> str:
    try:
        return str(ipaddress.ip_interface(address))
    except ValueError:
        return address


def _hostname(raw: Raw) -> str | None:
    """As LocalNode._hostname: /proc/sys/kernel/hostname (host root only), then /etc/hostname."""
    proc_root = raw.root is not None and raw.root[1] == "proc"
    for source, text in raw.hostnames:
        if (source == "proc" and proc_root) or not text or len(text) >= 4096:
            continue
        name = text.decode("utf-8", "replace").strip()
        if name:
            return name
    return None


def cgroup_service(cgroup: bytes) -> str | None:
    """The innermost ``*.service`` in a ``/proc/<pid>/cgroup`` text's path (v1 name=systemd or
    v2), as the local collector and the gather stream's P record read it."""
    for line in cgroup.decode("utf-8", "replace").splitlines():
        hierarchy, _, path = line.partition(":")[2].partition(":")
        if hierarchy in {"", "name=systemd"}:
            services = [part for part in path.split("/") if part.endswith(".service")]
            return services[-1] if services else None
    return None


def start_ticks(stat: bytes) -> int | None:
    """A process's start time in clock ticks after boot: ``/proc/<pid>/stat`` field 22."""
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rpartition(b")")[2].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None
