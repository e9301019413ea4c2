"""MicroK8s: ``kubelite`` runs the kubelet in-process with the words of ``--kubelet-args-file``.

Mirrors canonical/microk8s (d099c907): kubelite's ``ReadArgsFromFile`` (the kubelite patch,
cmd/kubelite/app/options/options.go L50-79, the same from v1.27 to v1.36) and, before it, the
``run-kubelite-with-args`` wrapper's ``sanitise_args_kubelet`` (actions/common/utils.sh
L269-308), which deletes lines for flags the kubelet no longer has at every start.
"""

from __future__ import annotations

import posixpath
import re

from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.gojson import go_trim_space
from podaudit.kubelet.launch import Launch, go_expand
from podaudit.model import Arg, NodeReader, Problem, ProblemKind, Step

SNAP = "/snap/microk8s/current"
SNAP_DATA = "/var/snap/microk8s/current"
SNAP_COMMON = "/var/snap/microk8s/common"
# snapd's variables in kubelite's environment; any other name is unknown here.
SNAP_ENV = {"SNAP": SNAP, "SNAP_DATA": SNAP_DATA, "SNAP_COMMON": SNAP_COMMON,
            "SNAP_NAME": "microk8s", "SNAP_INSTANCE_NAME": "microk8s"}
DEFAULT_ARGS_FILE = f"{SNAP_DATA}/args/kubelet"  # options.go NewOptions
NO_SANITISE = "var/lock/no-arg-sanitisation"  # under $SNAP_DATA
MAX_LINE = 64 * 1024  # bufio.MaxScanTokenSize: a longer line stops the scanner
MAX_SHOWN = 200  # characters of a line repeated in the origin of each of its words
# sanitise_args_kubelet's list: remove_args deletes every line matching "--<name>[= ]".
SANITISED = (
    "log-dir", "log-file", "log-flush-frequency", "logtostderr", "alsologtostderr", "one-output",
    "stderrthreshold", "log-file-max-size", "skip-log-headers", "add-dir-header", "skip-headers",
    "log-backtrace-at", "docker-endpoint", "image-pull-progress-deadline", "network-plugin",
    "cni-conf-dir", "cni-bin-dir", "cni-cache-dir", "network-plugin-mtu",
    "experimental-kernel-memcg-notification", "pod-infra-container-image",
    "experimental-dockershim-root-directory", "non-masquerade-cidr", "container-runtime",
)
_SANITISED = re.compile("--(?:" + "|".join(re.escape(name) for name in SANITISED) + ")[= ]")


def kubelite_launch(words: tuple[Arg, ...], reader: NodeReader) -> Launch:
    """The kubelet's words as kubelite builds them from its ``--kubelet-args-file``."""
    flag = parse_args([w.value for w in words]).get("kubelet-args-file")
    path = posixpath.normpath(go_expand(flag.value if flag else DEFAULT_ARGS_FILE, _env))
    step = Step(f"kubelite reads kubelet flags from {path} (ReadArgsFromFile)", path)
    record = reader.file(path)
    if record.data is None:
        return Launch((), (step, Step(f"cannot read {path}: {record.error or record.kind}", path)),
                      _unopened(path, record.kind))
    too_long = _first_long_line(record.data)
    if too_long is not None:
        # scanner.Err() -> klog.Fatalf: kubelite exits before it starts the kubelet.
        why = ("the kubelet cannot start: kubelite fails: Failed to read arguments file bufio.Scanner: "
               f"token too long (line {too_long} is {MAX_LINE} bytes or more)")
        return Launch((), (step,), (Problem(ProblemKind.CANNOT_START, path, why, too_long),))
    lines, removed = _sanitise(record.data.decode("utf-8", "replace"), reader, path)
    args = [arg for number, raw in lines for arg in _line_words(raw.removesuffix("\r"), path, number)]
    return Launch(tuple(args), (step, *removed))


def _first_long_line(data: bytes) -> int | None:
    """bufio.Scanner holds at most MAX_LINE bytes: a line (its "\r" included) that fills them fails."""
    for number, line in enumerate(data.split(b"\n"), start=1):
        if len(line) >= MAX_LINE:
            return number
    return None


def _unopened(path: str, kind: str) -> tuple[Problem, ...]:
    """os.Open or the first read fails -> klog.Fatalf: kubelite, and its kubelet, never start."""
    if kind == "missing":
        why = f"Failed to open arguments file open {path}: no such file or directory"
    elif kind == "dir":
        why = f"Failed to read arguments file read {path}: is a directory"
    else:
        return ()  # not read here: whether kubelite can read it is unknown
    return (Problem(ProblemKind.CANNOT_START, path, f"the kubelet cannot start: kubelite fails: {why}"),)


def _sanitise(text: str, reader: NodeReader, path: str) -> tuple[list[tuple[int, str]], list[Step]]:
    """The file's lines (bufio.ScanLines splits at "\\n" only) after the wrapper's sed edits, which
    touch $SNAP_DATA/args/kubelet only (not another --kubelet-args-file)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    numbered = list(enumerate(lines, start=1))
    snap_data = posixpath.dirname(posixpath.dirname(path))
    # $SNAP_DATA is /var/snap/microk8s/<revision> ("current" links to it).
    if path.removeprefix(snap_data) != "/args/kubelet" or posixpath.dirname(snap_data) != "/var/snap/microk8s":
        return numbered, []
    lock = f"{snap_data}/{NO_SANITISE}"
    if reader.file(lock).kind in {"file", "dir", "other"}:
        return numbered, [Step(f"{lock} exists: run-kubelite-with-args leaves the file as it is", lock)]
    kept: list[tuple[int, str]] = []
    removed: list[Step] = []
    for number, line in numbered:
        hit = _SANITISED.search(line)
        if hit is not None:
            why = (f"removed at the next start: sanitise_args_kubelet deletes lines with {hit[0].strip()!r}: "
                   f"{line.strip()}")
            removed.append(Step(why, path, number))
            continue
        kept.append((number, line.replace("DevicePlugins=true", "", 1)))
    return kept, removed


def line_parts(raw: str) -> list[str]:
    """One line's words as ReadArgsFromFile splits them, before os.ExpandEnv: TrimSpace, skip
    "" and "#...", delete every quote, split at each single space."""
    line = go_trim_space(raw)
    if not line or line.startswith("#"):
        return []
    return line.replace('"', "").replace("'", "").split(" ")


def _line_words(raw: str, path: str, number: int) -> list[Arg]:
    """One line as ReadArgsFromFile reads it: its parts (line_parts), each os.ExpandEnv'd."""
    parts = line_parts(raw)
    if not parts:
        return []
    line = go_trim_space(raw)
    # Each word of a long line shows it cut: a 64 KiB line of spaces is 32768 words (bounded work).
    shown = line if len(line) <= MAX_SHOWN else f"{line[:MAX_SHOWN]}..."
    words = []
    for index, part in enumerate(parts, start=1):
        unknown: list[str] = []
        word = go_expand(part, _Env(unknown))
        what = line if len(parts) == 1 else f"{shown} (word {index} of {len(parts)})"
        if unknown:
            what += f"; ${', $'.join(unknown)} not known here: taken as empty"
        words.append(Arg(word, Step(what, path, number)))
    return words


def _env(name: str) -> str:
    return SNAP_ENV.get(name, "")


class _Env:
    """os.Getenv in kubelite's environment, noting the names not known here (read as "")."""

    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown

    def __call__(self, name: str) -> str:
        if name not in SNAP_ENV:
            self.unknown.append(name)
        return _env(name)
