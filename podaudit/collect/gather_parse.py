"""Parsing the gather stream (remote.py's script's output) into a NodeSnapshot.

Stream grammar (all header tokens ASCII, ``STR`` is bytes without NUL, then one NUL)::

    stream  = "PODAUDIT-GATHER 3\\n" record* "END\\n"
    M mode cap                      how the script ran; cap = the size cap it used
    F ok MODEHEX UID GID SEC NSEC SIZE INO L T DATA
         STR(path) [STR(link) if L=1] [STR(physical path) if T=1] then, by DATA:
         raw: exactly SIZE raw bytes | hex: STR(hex digits and blanks) | big, deny, none: nothing
         | cat: SIZE bytes in the next X record
    X NONCE COUNT TOTAL             the bytes of the last COUNT "cat" F records, one after the
         other (TOTAL: the sum of their sizes, at most), then the line "X NONCE same|changed";
         NONCE: a random UUID the node drew, so no file's bytes can forge that line; changed:
         a file's inode, size or ctime after the cat is not what stat saw. When the line is
         not TOTAL bytes on, or says changed, the COUNT files are void, and the stream goes
         on after it.
    F err STR(path) STR(strerror)
    F no STR(path)                  missing (no such file, or a parent is not a directory)
    V STR(path)                     the data of the last F record for path could not be read
    L COUNT (STR(path) STR(dir))*COUNT STR(entry)* STR("")
                                    the listings of COUNT directories by one find: each
                                    entry is "dir/name", the path's whose dir precedes its
                                    last slash
    D list STR(path) STR(entry)* STR("")      entries as find prints them (dir/name)
    D none|deny|fail STR(path)      not a directory (see its F record) / not readable /
                                    the listing above it is void (find failed)
    P PID FLAGS STR(cmdline) STR(exe) STR(cwd) STR(stat) STR(cgroup)
                                    FLAGS: letters e c s g for the fields read, or "-";
                                    t: cmdline is its arguments one a line (tr's, when no
                                    argument holds a newline), else od's hex of its bytes
    H proc|etc STR(text)            /proc/sys/kernel/hostname, /etc/hostname
    B BTIME|-                       K CLK_TCK|-
    R PID host|proc|fail STR(reason)
    I IFINDEX STR(name)             a network interface (/sys/class/net)
    C NAME RC STR(output)           net-route (/proc/net/route), ip-addr (ip -o addr show),
                                    ip-route (ip route show default, when /proc/net/route is not readable)
    W none runtime|kubelet|https|readonly|configz STR(why)
                                    a witness (or the kubelet's secure port, its read-only
                                    port, its /configz) not asked, and why
    W cri WHAT RC STR(arg) STR(stdout) STR(stderr)
                                    crictl WHAT (pods, ps, inspect, logs) and its exit status;
                                    arg: the endpoint, or the container ID (inspect, logs)
    W http WHAT RC CODE STR(url) STR(via) STR(body) STR(error)
                                    GET the kubelet's /pods or /configz: curl's (wget's) exit
                                    status, the HTTP status (0: none), the certificate used
    E STR(message)

The W records come from the discover pass (and the witnesses-only script of the local
collector): witnesses.py turns them into ``snapshot.witnesses``. Every malformed, truncated
or unknown input raises GatherError, never anything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace

from podaudit.collect.records import GatherError, Raw, build_snapshot, describe_strerror
from podaudit.collect.rootfs import failed_record, normalize
from podaudit.collect.witnesses import WitnessRecordError, add_witness, text_of
from podaudit.model import DENIED, FileRecord, NodeSnapshot
from podaudit.transport import MARKER as MARKER_PREFIX

# 3: the P record's cmdline may be lines (flag t), not hex (issue 17: one program fewer a kubelet).
GATHER_VERSION = 3
MARKER = MARKER_PREFIX + f"{GATHER_VERSION}\n".encode()
_MAX_HEADER = 512
# An X record's closing line: "X" and the node's random UUID.
_NONCE = re.compile(r"[0-9a-f-]{36}")
CHANGED = "the file changed while it was read"

class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.pending: list[tuple[str, int]] = []  # "cat" F records awaiting their X record

    def line(self) -> list[str]:
        end = self.data.find(b"\n", self.pos, self.pos + _MAX_HEADER)
        if end < 0:
            what = "truncated" if len(self.data) - self.pos < _MAX_HEADER else "overlong header"
            raise GatherError(f"{what} at byte {self.pos} (no END record)")
        raw = self.data[self.pos:end]
        self.pos = end + 1
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise GatherError(f"non-ASCII record header at byte {self.pos}") from None
        words = text.split(" ")
        if not words[0] or any(not w or not w.isprintable() for w in words):
            raise GatherError(f"malformed record header {text[:60]!r}")
        return words

    def string(self) -> bytes:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise GatherError(f"truncated string at byte {self.pos}")
        value = self.data[self.pos:end]
        self.pos = end + 1
        return value

    def raw(self, size: int) -> bytes:
        if len(self.data) - self.pos < size:
            raise GatherError(f"truncated data at byte {self.pos} ({size} bytes announced)")
        value = self.data[self.pos:self.pos + size]
        self.pos += size
        return value


def _int(token: str, low: int, high: int, what: str) -> int:
    if not re.fullmatch(r"-?[0-9]{1,22}", token):
        raise GatherError(f"bad {what} {token[:30]!r}")
    value = int(token)
    if not low <= value <= high:
        raise GatherError(f"{what} {value} out of range")
    return value


def _arity(words: list[str], n: int) -> None:
    if len(words) != n:
        raise GatherError(f"{words[0]} record with {len(words) - 1} fields, not {n - 1}")


def parse_gather(stream: bytes, label: str, into: NodeSnapshot | None = None) -> NodeSnapshot:
    """The snapshot a gather stream describes; merged into ``into`` (a later pass) if given.

    Raises GatherError when the stream does not start with the marker (the script did not
    run: sudo refused, no sh) or is truncated or corrupt; never anything else.
    """
    if not isinstance(stream, (bytes, bytearray)):
        raise GatherError("the gather output is not bytes")
    stream = bytes(stream)
    if not stream.startswith(MARKER):
        if stream.startswith(MARKER_PREFIX):
            start = len(MARKER_PREFIX)
            version = stream[start:stream.find(b"\n", start, start + 24)].decode("ascii", "replace")
            raise GatherError(f"gather script version {version[:20]!r}, expected {GATHER_VERSION}")
        raise GatherError("no PODAUDIT-GATHER marker: the script did not run (sudo refused, or no sh?)")
    raw = _read_records(_Cursor(stream))
    return build_snapshot(raw, into if into is not None else NodeSnapshot(label))


def _read_records(cur: _Cursor) -> Raw:
    cur.pos = len(MARKER)
    raw = Raw()
    while True:
        words = cur.line()
        kind = words[0]
        if kind == "END":
            _arity(words, 1)
            if cur.pending:
                raise GatherError(f"{len(cur.pending)} files without their X record")
            if cur.pos != len(cur.data):
                raise GatherError(f"{len(cur.data) - cur.pos} bytes after END")
            return raw
        reader = _READERS.get(kind)
        if reader is None:
            raise GatherError(f"unknown record type {kind[:20]!r}")
        reader(cur, words, raw)


def _read_m(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 3)
    raw.discover = words[1] == "discover"
    raw.cap = _int(words[2], 1, 1 << 40, "cap")


def _read_f(cur: _Cursor, words: list[str], raw: Raw) -> None:
    if len(words) < 2 or words[1] not in ("ok", "err", "no"):
        raise GatherError("F record neither ok nor err")
    if words[1] == "no":  # the stat would fail with ENOENT or ENOTDIR: as os.stat says either
        _arity(words, 2)
        path = text_of(cur.string())
        raw.files[path] = failed_record(path, "missing")
        return
    if words[1] == "err":
        _arity(words, 2)
        path = text_of(cur.string())
        raw.files[path] = failed_record(path, describe_strerror(text_of(cur.string())))
        return
    _arity(words, 12)
    _, _, mode_hex, uid, gid, sec, nsec, size, ino, has_link, has_target, data_kind = words
    if not re.fullmatch(r"[0-9a-f]{1,8}", mode_hex):
        raise GatherError(f"bad mode {mode_hex[:20]!r}")
    if has_link not in ("0", "1") or has_target not in ("0", "1"):
        raise GatherError("bad link or target flag in F record")
    mode = int(mode_hex, 16)
    seconds = _int(sec, -(1 << 62), 1 << 62, "mtime")
    nanos = int(nsec.ljust(9, "0")[:9]) if nsec.isdigit() else 0
    path = text_of(cur.string())
    link = text_of(cur.string()) if has_link == "1" else None
    physical = text_of(cur.string()) if has_target == "1" else None
    meta = {
        "mode": mode & 0o7777,
        "uid": _int(uid, 0, (1 << 32) - 1, "uid"),
        "gid": _int(gid, 0, (1 << 32) - 1, "gid"),
        # As os.stat computes st_mtime: seconds + nanoseconds * 1e-9, in floating point.
        "mtime": seconds + nanos * 1e-9,
        "size": _int(size, 0, 1 << 62, "size"),
        "target": physical if physical is not None and physical != normalize(path) else None,
        "link": link,
        "inode": _int(ino, 0, 1 << 64, "inode"),
    }
    file_type = mode & 0o170000
    if file_type != 0o100000 and data_kind != "none":
        raise GatherError(f"data kind {data_kind[:20]!r} for a file that is not regular")
    if file_type == 0o040000:
        raw.files[path] = FileRecord(path, "dir", **meta)  # type: ignore[arg-type]
    elif file_type != 0o100000:
        raw.files[path] = FileRecord(path, "other", **meta)  # type: ignore[arg-type]
    else:
        data, error = _file_data(cur, data_kind, meta["size"], raw.cap, path)  # type: ignore[arg-type]
        if data_kind == "cat":
            cur.pending.append((path, meta["size"]))  # type: ignore[arg-type]
        kind = "denied" if error == DENIED else "file"
        raw.files[path] = FileRecord(path, kind, data=data, error=error, **meta)  # type: ignore[arg-type]


def _file_data(cur: _Cursor, data_kind: str, size: int, cap: int, path: str) -> tuple[bytes | None, str | None]:
    """A regular file's bytes, or why they are not there (as rootfs._read_capped says it)."""
    if data_kind == "raw":
        return cur.raw(size), None
    if data_kind == "hex":
        try:
            data = bytes.fromhex(text_of(cur.string()))
        except ValueError:
            raise GatherError(f"bad hex data for {path[:60]!r}") from None
        if len(data) >= cap:
            return None, f"too large: the kubelet refuses files of {cap} bytes or more"
        return data, None
    if data_kind == "big":
        return None, f"too large: {size} bytes; the kubelet refuses files of {cap} bytes or more"
    if data_kind == "deny":
        return None, DENIED
    if data_kind in ("none", "cat"):  # cat: the bytes come in the next X record
        return None, None
    raise GatherError(f"bad data kind {data_kind[:20]!r}")


def _read_v(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 1)
    path = text_of(cur.string())
    record = raw.files.get(path)
    if record is not None and record.kind == "file":
        raw.files[path] = replace(record, data=None, error="the file could not be read")


def _read_d(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 2)
    if words[1] not in ("list", "none", "deny", "fail"):
        raise GatherError(f"bad D status {words[1][:20]!r}")
    path = text_of(cur.string())
    entries: list[bytes] | None = None
    if words[1] == "list":
        entries = []
        while entry := cur.string():
            entries.append(entry)
    raw.dirs[path] = (words[1], entries)


def _read_x(cur: _Cursor, words: list[str], raw: Raw) -> None:
    """The bytes of the pending "cat" files, one after the other, closed by "X NONCE same"
    (every file still the inode, size and ctime stat saw) or "X NONCE changed"."""
    _arity(words, 4)
    if not _NONCE.fullmatch(words[1]):
        raise GatherError(f"bad X nonce {words[1][:40]!r}")
    count = _int(words[2], 1, 1 << 31, "X count")
    total = _int(words[3], 0, 1 << 62, "X total")
    pending, cur.pending = cur.pending, []
    if count != len(pending) or total != sum(size for _, size in pending):
        raise GatherError(f"X record for {count} files of {total} bytes, not the {len(pending)} announced")
    closing = b"X " + words[1].encode("ascii") + b" "
    end = cur.pos + total
    # The node drew the nonce after the files were chosen and never wrote it anywhere but
    # here, so no file's bytes hold it: the first closing line is the real one.
    found = cur.data.find(closing, cur.pos)
    if found < 0:
        raise GatherError(f"truncated X record at byte {cur.pos}")
    start = cur.pos
    cur.pos = found + len(closing)
    verdict = cur.line()
    if verdict not in (["same"], ["changed"]):
        raise GatherError(f"bad X verdict {' '.join(verdict)[:30]!r}")
    whole = found == end and verdict == ["same"]
    # Otherwise a file grew, shrank or was replaced between stat and cat: no file's bytes are
    # surely its own, and all of them are void.
    for path, size in pending:
        record = raw.files.get(path)
        if record is not None and record.kind == "file":
            data = cur.data[start:start + size] if whole else None
            raw.files[path] = replace(record, data=data, error=record.error if whole else CHANGED)
        start += size


def _read_l(cur: _Cursor, words: list[str], raw: Raw) -> None:
    """Several directories' listings, made by one find: each entry is "dir/name"."""
    _arity(words, 2)
    count = _int(words[1], 1, 1 << 20, "L count")
    paths: dict[bytes, list[str]] = {}
    for _ in range(count):
        path = text_of(cur.string())
        paths.setdefault(cur.string().rstrip(b"/"), []).append(path)
    found: dict[bytes, dict[bytes, None]] = {key: {} for key in paths}
    while entry := cur.string():
        entries = found.get(entry.rpartition(b"/")[0].rstrip(b"/"))
        if entries is None:
            raise GatherError(f"listing entry {text_of(entry)[:60]!r} of no directory asked")
        entries[entry] = None  # a directory holds a name once: one listed twice is not doubled
    for key, reports in paths.items():
        for path in reports:
            raw.dirs[path] = ("list", list(found[key]))


def _read_p(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 3)
    pid = _int(words[1], 1, (1 << 31) - 1, "pid")
    flags = words[2]
    if not set(flags) <= set("tecsg-"):
        raise GatherError(f"bad process flags {flags[:20]!r}")
    fields = [cur.string() for _ in range(5)]
    if "t" in flags:  # the arguments one a line: the bytes od would have sent, as hex
        fields[0] = (fields[0].replace(b"\n", b"\0") + b"\0").hex().encode("ascii")
        flags = flags.replace("t", "") or "-"
    raw.procs.append((pid, flags, fields))


def _read_h(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 2)
    raw.hostnames.append((words[1], cur.string()))


def _read_b(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 2)
    try:
        boot = float(words[1]) if words[1] != "-" else None
    except ValueError:
        boot = None
    raw.btime = boot if boot is not None and math.isfinite(boot) else None


def _read_k(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 2)
    if words[1].isdigit() and 0 < len(words[1]) < 10 and int(words[1]) > 0:
        raw.clk_tck = int(words[1])


def _read_r(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 3)
    pid = _int(words[1], 1, (1 << 31) - 1, "pid")
    raw.root = (pid, words[2], text_of(cur.string()))


def _read_c(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 3)
    if not re.fullmatch(r"[a-z0-9-]{1,40}", words[1]):
        raise GatherError(f"bad command name {words[1][:20]!r}")
    raw.commands[words[1]] = (words[2], cur.string())


def _read_i(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 2)
    raw.interfaces.append((_int(words[1], 0, 1 << 32, "ifindex"), text_of(cur.string())))


def _read_e(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 1)
    raw.errors.append("gather: " + text_of(cur.string()))


def _read_w(cur: _Cursor, words: list[str], raw: Raw) -> None:
    try:
        add_witness(raw.witness, words, cur.string, lambda token, what: _int(token, 0, 999, what))
    except WitnessRecordError as exc:
        raise GatherError(str(exc)) from None


_READERS: dict[str, Callable[[_Cursor, list[str], Raw], None]] = {
    "M": _read_m, "F": _read_f, "V": _read_v, "D": _read_d, "P": _read_p, "H": _read_h,
    "B": _read_b, "K": _read_k, "R": _read_r, "C": _read_c, "I": _read_i, "E": _read_e,
    "W": _read_w, "X": _read_x, "L": _read_l,
}
