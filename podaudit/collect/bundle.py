"""Bundles: what `podaudit collect` writes and `podaudit analyze` reads.

A bundle is a tar.gz of a cluster snapshot (docs/snapshot-format.md): ``nodes/<node>/``, one
node snapshot tree per node (the files the kubelet model read, at their node paths; links as
links; ``proc/<pid>/`` for the kubelet; ``podaudit.meta.json`` with modes, owners, mtimes,
network facts, what could not be read and what the node's kubelet and runtime said),
``bundle.json`` (format, podaudit version, time),
and ``checksums.json`` (the sha256 of every file in it), checked before anything is used.

A tree is written only inside its own folder: a parent that is a link is never followed, so
a hostile snapshot cannot make podaudit write elsewhere. Reading refuses anything but plain
files, folders and links inside ``nodes/<node>/``, names with ``..``, and members beyond the
size limits, then unpacks with podaudit's own code (podaudit/collect/untar.py), never
tarfile's extraction and its filter bypasses: links that stay inside their node, made last,
nothing written through a link.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import tarfile
import time
import zlib
from collections.abc import Iterable
from typing import Any

from podaudit.collect.meta import META_FILE, witnesses_to_json
from podaudit.collect.redact import redact_argv, redact_manifest, redact_text, redact_witnesses
from podaudit.collect.untar import MAX_DEPTH, BoundedTarInfo, Refused, extract
from podaudit.model import FileRecord, NodeSnapshot

FORMAT = 1
CHECKSUMS = "checksums.json"
BUNDLE_INFO = "bundle.json"
BEGIN, END = "-----BEGIN PODAUDIT BUNDLE", "-----END PODAUDIT BUNDLE-----"
MAX_BUNDLE = 1 << 30  # bytes read of one input; a node's bundle is a few hundred KiB
CLK_TCK = os.sysconf("SC_CLK_TCK")  # as the reader divides proc/<pid>/stat's ticks (btime 0)


class BundleError(Exception):
    """A bundle that cannot be used: one line naming the file and what to do."""


# -- writing -----------------------------------------------------------------------------------
def write_tree(snapshot: NodeSnapshot, dest: str, manifests: Iterable[str] = (), redact: bool = False) -> None:
    """A node snapshot folder at ``dest`` from what was gathered; ``manifests`` are the
    static pod files (redacted with ``redact``)."""
    os.makedirs(dest, exist_ok=True)
    meta: dict[str, Any] = {"format": 1, "paths": {}, "unread": {}, "problems": list(snapshot.errors),
                            "interfaces": {i.name: list(i.addresses) for i in snapshot.interfaces},
                            "default_route": snapshot.default_route}
    to_redact = set(manifests) if redact else set()
    # Links first: a linked folder (manifests -> /data/manifests) stays a link, and what is
    # below it goes where the link leads (the records' targets), never through it.
    for record in sorted(snapshot.files.values(), key=lambda r: r.path):
        if record.link is not None and record.kind not in {"denied", "error", "uncollected", "missing"}:
            _symlink(dest, record.path, record.link)
    for listing in snapshot.dirs.values():
        if listing.names is not None:
            _mkdir(dest, _listed_at(snapshot, listing.path))
    for record in sorted(snapshot.files.values(), key=lambda r: r.path):
        # None: as it is; True: a manifest; False: any other file, redacted as text.
        _put_record(dest, record, meta, (record.path in to_redact) if redact else None)
    # Names listed but never read (dot-files the kubelet skips, non-.conf files in a drop-in
    # folder) stay in the listing as empty files: the analysis sees the same directory.
    for listing in snapshot.dirs.values():
        for name in listing.names or ():
            path = listing.path.rstrip("/") + "/" + name
            if path not in snapshot.files:
                _write(dest, _listed_at(snapshot, listing.path).rstrip("/") + "/" + name, b"")
    _put_processes(dest, snapshot, redact)
    if snapshot.hostname:
        _write(dest, "/proc/sys/kernel/hostname", snapshot.hostname.encode() + b"\n")
    if snapshot.witnesses is not None:  # what the node's kubelet and runtime said, parsed
        meta["witnesses"] = witnesses_to_json(redact_witnesses(snapshot.witnesses) if redact else snapshot.witnesses)
    with open(os.path.join(dest, META_FILE), "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=1, sort_keys=True)


def _listed_at(snapshot: NodeSnapshot, path: str) -> str:
    """Where a listed folder really is: its record's target when links led elsewhere."""
    record = snapshot.files.get(path)
    return record.target if record is not None and record.kind == "dir" and record.target else path


def _put_record(dest: str, record: FileRecord, meta: dict[str, Any], redact: bool | None) -> None:
    if record.kind in {"denied", "error", "uncollected"}:
        meta["unread"][record.path] = {"kind": record.kind, "error": record.error or record.kind}
        return
    if record.kind == "missing":
        return
    if _too_deep(record.target or record.path):  # said, not dropped: the analysis shows it unread
        meta["unread"][record.path] = {"kind": "error", "error": f"nested in more than {NODE_DEPTH} folders: "
                                       "not kept in a bundle"}
        return
    where = record.target or record.path
    if record.kind == "dir":
        _mkdir(dest, where)
    elif record.kind == "file" and record.data is not None:
        data = record.data if redact is None else redact_manifest(record.data) if redact else redact_text(record.data)
        _write(dest, where, data)
    if record.kind in {"file", "dir", "other"} and record.mode is not None:
        meta["paths"][where] = {"mode": f"{record.mode:04o}", "uid": record.uid, "gid": record.gid,
                                "mtime": record.mtime}


def _put_processes(dest: str, snapshot: NodeSnapshot, redact: bool) -> None:
    if not snapshot.processes:
        return
    _write(dest, "/proc/stat", b"btime 0\n")
    for process in snapshot.processes:
        base = f"/proc/{process.pid}"
        argv = redact_argv(process.argv) if redact else process.argv
        _write(dest, f"{base}/cmdline", b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in argv))
        if process.start_time is not None:
            # Field 22 (starttime, ticks since boot): the 20th word after "(comm)".
            ticks = round(process.start_time * CLK_TCK)
            _write(dest, f"{base}/stat", f"{process.pid} (kubelet) S 1{' 0' * 17} {ticks} 0\n".encode())
        if process.unit:
            _write(dest, f"{base}/cgroup", f"0::/system.slice/{process.unit}\n".encode())
        for name, target in (("cwd", process.cwd), ("exe", process.exe)):
            if target:
                _symlink(dest, f"{base}/{name}", target)


# Names in a node's path that a bundle keeps: its members are nodes/<node>/<path>, and
# analyze refuses a bundle nested deeper (untar.MAX_DEPTH).
NODE_DEPTH = MAX_DEPTH - 2


def _parts(node_path: str) -> list[str]:
    return [p for p in node_path.split("/") if p and p not in {".", ".."}]


def _too_deep(node_path: str) -> bool:
    return len(_parts(node_path)) > NODE_DEPTH


def _inside(dest: str, node_path: str) -> str | None:
    """Where ``node_path`` goes under ``dest``; None when a parent there is a link (or not a
    folder): never write through one; None too when nested deeper than a bundle keeps."""
    parts = _parts(node_path)
    if not parts or len(parts) > NODE_DEPTH:
        return None
    current = dest
    for part in parts[:-1]:
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current)
            continue
        if not stat.S_ISDIR(st.st_mode):
            return None
    return os.path.join(current, parts[-1])


def _mkdir(dest: str, node_path: str) -> None:
    where = _inside(dest, node_path)
    if where is not None and not os.path.lexists(where):
        os.mkdir(where)


def _write(dest: str, node_path: str, data: bytes) -> None:
    where = _inside(dest, node_path)
    if where is not None and not os.path.lexists(where):
        with open(where, "wb") as handle:
            handle.write(data)


def _symlink(dest: str, node_path: str, target: str) -> None:
    where = _inside(dest, node_path)
    if where is not None and not os.path.lexists(where):
        os.symlink(target, where)


def pack(folder: str, version: str, redacted: bool) -> bytes:
    """The tar.gz of a cluster snapshot folder, with bundle.json and checksums.json."""
    info = {"format": FORMAT, "podaudit": version, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "redacted": redacted}
    checksums: dict[str, str] = {}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for top, dirs, files in os.walk(folder):
            dirs.sort()
            if top != folder:
                tar.add(top, arcname=os.path.relpath(top, folder), recursive=False)
            # os.walk does not enter linked folders; they go in as the links they are.
            for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(top, d))):
                path = os.path.join(top, name)
                rel = os.path.relpath(path, folder)
                if not os.path.islink(path):
                    with open(path, "rb") as handle:
                        checksums[rel] = hashlib.sha256(handle.read()).hexdigest()
                tar.add(path, arcname=rel, recursive=False)
        _add_bytes(tar, BUNDLE_INFO, json.dumps(info, indent=1).encode())
        _add_bytes(tar, CHECKSUMS, json.dumps(checksums, indent=1, sort_keys=True).encode())
    return out.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size, member.mtime, member.mode = len(data), int(time.time()), 0o600
    tar.addfile(member, io.BytesIO(data))


def armor(name: str, data: bytes) -> str:
    """A bundle as text for logs (kubectl logs): base64 between BEGIN and END lines."""
    encoded = base64.b64encode(data).decode()
    lines = [encoded[i:i + 76] for i in range(0, len(encoded), 76)]
    return "\n".join([f"{BEGIN} {name}-----", *lines, END]) + "\n"


# -- reading -----------------------------------------------------------------------------------
def read_inputs(path: str) -> list[bytes]:
    """The bundles in one input: a tar.gz, or text holding armored bundles (``-``: stdin)."""
    import sys

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_BUNDLE + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BUNDLE + 1)
    except OSError as exc:
        raise BundleError(f"{path}: {exc.strerror}") from exc
    if len(data) > MAX_BUNDLE:
        raise BundleError(f"{path}: larger than {MAX_BUNDLE} bytes; not a podaudit bundle")
    if data[:2] == b"\x1f\x8b":
        return [data]
    found = []
    for number, block in enumerate(_armored_blocks(data.decode("utf-8", "replace")), start=1):
        try:
            found.append(base64.b64decode("".join(block), validate=True))
        except ValueError as exc:
            raise BundleError(f"{path}: armored bundle {number} is not valid base64 ({exc}); was the log cut?"
                              ) from exc
    if not found:
        raise BundleError(f"{path}: neither a tar.gz bundle nor text with '{BEGIN} ...' blocks "
                          "(podaudit collect writes them)")
    return found


def _armored_blocks(text: str) -> list[list[str]]:
    """The base64 lines of each BEGIN..END block. Log lines may carry a prefix (kubectl logs
    --timestamps or --prefix) and CRLF endings: base64 has no spaces, so the last word of each
    line is the data."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if BEGIN in line:
            current = []
        elif END in line and current is not None:
            blocks.append(current)
            current = None
        elif current is not None and line.split():
            current.append(line.split()[-1])
    return blocks


def unpack(data: bytes, where: str, into: str) -> list[str]:
    """Extract one bundle's nodes into the cluster folder ``into``; the node names. Checks
    every file against checksums.json first; BundleError on anything amiss."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz", tarinfo=BoundedTarInfo) as tar:
            members = _safe_members(tar, where)
            sums = _json_member(tar, CHECKSUMS, where)
            _check_sums(tar, members, sums, where)
            nodes = sorted({m.name.split("/")[1] for m in members if m.name.startswith("nodes/") and
                            m.name.count("/") >= 1 and m.name.split("/")[1]})
            clash = [n for n in nodes if os.path.lexists(os.path.join(into, "nodes", n))]
            if clash:
                raise BundleError(f"{where}: node {', '.join(clash)} is also in another bundle; give each node once")
            wanted = [m for m in members if m.name.split("/")[0] in {"nodes", "api"}]
            extract(tar, wanted, into)
    except Refused as exc:
        raise BundleError(f"{where}: {exc}: not a bundle podaudit wrote; refused") from exc
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleError(f"{where}: not a readable bundle ({exc})") from exc
    return nodes


MAX_MEMBER = 64 << 20  # one file: manifests and configs are KiB; the gather caps files at 10 MiB
MAX_TOTAL = 2 << 30  # everything unpacked
MAX_MEMBERS = 500_000


def _safe_members(tar: tarfile.TarFile, where: str) -> list[tarfile.TarInfo]:
    """Every member, refused unless it is a plain file, folder or (inside nodes/<node>/) a
    link, with a name of plain components, within the size limits (a gzip bomb declares its
    sizes in the headers: nothing is unpacked before they are checked)."""
    members: list[tarfile.TarInfo] = []
    total = 0
    for member in tar:
        members.append(member)
        parts = member.name.split("/")
        if member.name.startswith("/") or any(p in {"", ".", ".."} for p in parts):
            bad = "has an absolute, empty, '.' or '..' component"
        elif not (member.isfile() or member.isdir() or member.issym()):
            bad = "is a device, FIFO or hard link"
        elif member.issym() and not (len(parts) > 2 and parts[0] == "nodes"):
            bad = "is a link outside nodes/<node>/"
        else:
            bad = "is too large" if member.size > MAX_MEMBER else ""
        if bad:
            raise BundleError(f"{where}: member {member.name!r} {bad}: not a bundle podaudit wrote; refused")
        total += member.size
        if total > MAX_TOTAL or len(members) > MAX_MEMBERS:
            raise BundleError(f"{where}: more than {MAX_TOTAL >> 30} GiB or {MAX_MEMBERS} members unpacked; refused")
    return members


def _json_member(tar: tarfile.TarFile, name: str, where: str) -> dict[str, Any]:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise BundleError(f"{where}: no {name}: not a podaudit bundle (podaudit collect writes them)")
    try:
        doc = json.loads(handle.read(64 << 20))
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{where}: {name} is not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise BundleError(f"{where}: {name} is not a JSON object")
    return doc


def _check_sums(tar: tarfile.TarFile, members: list[tarfile.TarInfo], sums: dict[str, Any], where: str) -> None:
    files = {m.name: m for m in members if m.isfile() and m.name not in {CHECKSUMS, BUNDLE_INFO}}
    missing = sorted(set(files) ^ set(sums))
    if missing:
        raise BundleError(f"{where}: checksums.json and the files disagree ({missing[0]!r}, {len(missing)} in "
                          "all): the bundle is damaged or was changed; collect it again")
    for name, member in files.items():
        handle = tar.extractfile(member)
        digest = hashlib.sha256()
        while handle is not None and (chunk := handle.read(1 << 20)):
            digest.update(chunk)
        if handle is None or digest.hexdigest() != sums[name]:
            raise BundleError(f"{where}: {name!r} does not match its checksum: the bundle is damaged or was "
                              "changed; collect it again")
