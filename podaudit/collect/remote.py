"""The remote collector: one POSIX sh script run on the node, one framed byte stream back.

The gather script (package data: the pieces in ``podaudit/collect/gather/``, joined in
``PIECES`` order into one script, so a pass is still one exec) runs under ``sh -s`` (or
``sudo -n sh -s``) on a node that has no Python, and prints everything the kubelet model may
need; ``parse_gather`` turns that stream into the ``NodeSnapshot`` the local collector
(``LocalNode("/")``) would have built. A first pass guesses what to gather from the running
kubelet's command line and the usual files; passes.py then runs the model over the snapshot,
names what it asked for but was not gathered, and ``gather_script(paths, dirs)`` gathers
exactly that.

Stream grammar (all header tokens ASCII, ``STR`` is bytes without NUL, then one NUL)::

    stream  = "PODAUDIT-GATHER 1\\n" record* "END\\n"
    M mode cap                      how the script ran; cap = the size cap it used
    F ok MODEHEX UID GID SEC NSEC SIZE INO L T DATA
         STR(path) [STR(link) if L=1] [STR(physical path) if T=1] then, by DATA:
         raw: exactly SIZE raw bytes | hex: STR(hex digits and blanks) | big, deny, none: nothing
    F err STR(path) STR(strerror)
    V STR(path)                     the data of the last F record for path could not be read
    D list STR(path) STR(entry)* STR("")      entries as find prints them (dir/name)
    D none|deny|fail STR(path)      not a directory (see its F record) / not readable /
                                    the listing above it is void (find failed)
    P PID FLAGS STR(cmdline hex) STR(exe) STR(cwd) STR(stat) STR(cgroup)
                                    FLAGS: letters e c s g for the fields read, or "-"
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
collector): witnesses.py turns them into ``snapshot.witnesses``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib import resources

from podaudit.collect.records import GatherError, Raw, build_snapshot, describe_strerror
from podaudit.collect.rootfs import failed_record, normalize
from podaudit.collect.witnesses import (
    INSPECT_CAP,
    LOG_CAP,
    MAX_INSPECTED,
    WITNESS_BUDGET,
    WITNESS_CAP,
    WitnessRecordError,
    add_witness,
    command_seconds,
    text_of,
)
from podaudit.kubelet.crictl import MAX_LOG_LINES
from podaudit.kubelet.invocation import KUBELET_UNITS
from podaudit.kubelet.unitfiles import UNIT_DIRS
from podaudit.model import (
    DENIED,
    MAX_FILE_BYTES,
    FileRecord,
    NodeSnapshot,
)
from podaudit.shell import printf_word, speakable
from podaudit.transport import MARKER as MARKER_PREFIX

GATHER_VERSION = 1
MARKER = MARKER_PREFIX + f"{GATHER_VERSION}\n".encode()
# The gather script's pieces (podaudit/collect/gather/), in the order they are joined: the
# prelude (parameters, state, helpers) first, main.sh (whose last line runs it all) last.
PIECES = ("prelude.sh", "files.sh", "directories.sh", "units.sh", "processes.sh", "kubelet.sh",
          "distro.sh", "network.sh", "witnesses.sh", "witness_kubelet.sh", "main.sh")
# Where tests may have the witness piece ask the kubelet instead of where its settings say
# (the piece still asks only ports the kubelet opens and holds).
_LOCAL_URL = re.compile(r"(https://|http://)(127\.0\.0\.1|\[::1\]|localhost):[0-9]{1,5}")
# A word the script may carry unquoted (the unit directories and names, all constants).
_WORD = re.compile(r"[A-Za-z0-9/._@:\\-]+")
_MAX_HEADER = 512


@functools.cache
def script_template() -> str:
    """The gather script with its parameters (``__CAP__`` and the others) not filled in."""
    folder = resources.files("podaudit.collect").joinpath("gather")
    return "\n".join(folder.joinpath(name).read_text("ascii") for name in PIECES)


def gather_script(paths: Sequence[str] = (), dirs: Sequence[str] = (), cap: int = MAX_FILE_BYTES,
                  *, kubelet_pid: int | None = None, witnesses_only: bool = False,
                  kubelet_urls: tuple[str, str] | None = None, witness_budget: int = WITNESS_BUDGET) -> bytes:
    """The sh script to feed to ``sh -s`` on the node.

    With no ``paths`` and no ``dirs``: the first pass, which finds the kubelet, gathers
    what it probably needs and asks the witnesses. Otherwise exactly those files (stat and
    content) and, for each directory, its stat, listing and every entry. ``kubelet_pid``
    (the snapshot's chosen kubelet) spares the script finding it again to read through its
    root. ``witnesses_only``: only the witnesses (W records); ``kubelet_urls``: where to
    ask the kubelet's secure and read-only ports instead of where its settings say (tests
    run their own); ``witness_budget``: seconds within which every witness command must end
    (witnesses.witness_budget of the node's timeout).
    """
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ValueError(f"cap must be a positive integer, not {cap!r}")
    if kubelet_pid is not None and (isinstance(kubelet_pid, bool) or kubelet_pid < 1):
        raise ValueError(f"kubelet_pid must be a positive integer, not {kubelet_pid!r}")
    for word in (*UNIT_DIRS, *KUBELET_UNITS):
        if not _WORD.fullmatch(word):  # never true: they are constants; guards the quoting
            raise ValueError(f"unit directory or name {word!r} cannot be embedded")
    if kubelet_urls is not None and (len(kubelet_urls) != 2 or not all(_LOCAL_URL.fullmatch(u) for u in kubelet_urls)):
        raise ValueError(f"kubelet URLs must be http(s)://127.0.0.1:PORT, not {kubelet_urls!r}")
    if isinstance(witness_budget, bool) or not isinstance(witness_budget, int) or witness_budget < 1:
        raise ValueError(f"witness_budget must be a positive integer, not {witness_budget!r}")
    urls = kubelet_urls or ("", "")
    # Each path travels as two printf formats (podaudit.shell.printf_word): the script stays ASCII.
    wants = [f"want_file {printf_word(p)} {printf_word(normalize(p))}" for p in dict.fromkeys(paths)
             if speakable(p)]
    wants += [f"want_dir {printf_word(d)} {printf_word(normalize(d))}" for d in dict.fromkeys(dirs)
              if speakable(d)]
    mode = "witnesses" if witnesses_only else "paths" if paths or dirs else "discover"
    filled = (script_template().replace("__CAP__", str(cap))
              .replace("__MODE__", mode)
              .replace("__WCAP__", str(WITNESS_CAP)).replace("__WICAP__", str(INSPECT_CAP))
              .replace("__WLOG__", str(LOG_CAP)).replace("__WSECS__", str(command_seconds(witness_budget)))
              .replace("__WBUDGET__", str(witness_budget))
              .replace("__WMAX__", str(MAX_INSPECTED)).replace("__WLINES__", str(MAX_LOG_LINES))
              .replace("__KUBELET_HTTPS__", urls[0]).replace("__KUBELET_HTTP__", urls[1])
              .replace("__KPID__", str(kubelet_pid) if kubelet_pid is not None else "")
              .replace("__UNIT_DIRS__", " ".join(UNIT_DIRS))
              .replace("__KUBELET_UNITS__", " ".join(KUBELET_UNITS))
              .replace("__MARKER__", MARKER.decode("ascii").rstrip("\n"))
              .replace("__WANTS__", "\n".join(wants)))
    return filled.encode("ascii")


# --- parsing -----------------------------------------------------------------------------


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

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
    if len(words) < 2 or words[1] not in ("ok", "err"):
        raise GatherError("F record neither ok nor err")
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
    if data_kind == "none":
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


def _read_p(cur: _Cursor, words: list[str], raw: Raw) -> None:
    _arity(words, 3)
    pid = _int(words[1], 1, (1 << 31) - 1, "pid")
    if not set(words[2]) <= set("ecsg-"):
        raise GatherError(f"bad process flags {words[2][:20]!r}")
    raw.procs.append((pid, words[2], [cur.string() for _ in range(5)]))


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
    "W": _read_w,
}
