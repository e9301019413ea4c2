"""Plain data that crosses podaudit's boundaries.

A collector (this machine, --root, a snapshot or bundle, SSH, kubectl debug) produces a
``NodeSnapshot``: what it saw on one node, as raw bytes, stats and per-path errors. Everything
after it is pure functions over this data, reading it through the small ``NodeReader``
protocol. What went wrong travels as values too: a ``Problem`` the kubelet model found on a
node, a ``NodeFailure`` for a node that could not be read at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Protocol, get_args

# "denied": the path exists but this reader may not read it (the kubelet, as root, can).
FileKind = Literal["file", "dir", "other", "missing", "denied", "error", "uncollected"]

# The kubelet reads at most this many bytes of a manifest (maxConfigLength in
# pkg/kubelet/config/common.go); a larger file is rejected, not truncated.
MAX_FILE_BYTES = 10 * 1024 * 1024
# The reason recorded when this reader may not read a path that the kubelet (root) can.
DENIED = "permission denied (run as root, or with sudo)"
# The reason recorded for a path no system call can take (a NUL byte, undecodable characters).
INVALID_PATH = "not a valid path (it holds a NUL byte or undecodable characters)"


def go_sorted(names: Iterable[str]) -> list[str]:
    """Sorted as Go's sort.Strings sorts: by bytes (names may hold undecodable bytes)."""
    return sorted(names, key=lambda name: name.encode("utf-8", "surrogateescape"))


class Compact:
    """The base of the small records a fleet's views hold by the hundred per node (with
    ``@dataclass(slots=True)``): no ``__dict__`` per instance (about 100 bytes less each), and
    pickled as a call of the constructor, which a frozen class's slots can take (dataclasses'
    own frozen-with-slots ``__setstate__`` loops in Python, twice as slow to unpickle)."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        # dataclass(slots=True) lists every field, in the constructor's order, as __slots__.
        return type(self), tuple(map(self.__getattribute__, self.__slots__))


@dataclass(frozen=True, slots=True)
class FileRecord(Compact):
    """One path as the kubelet would see it: stat after following symlinks, and its bytes."""

    path: str
    kind: FileKind
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime: float | None = None
    size: int | None = None
    data: bytes | None = None
    error: str | None = None
    # Set when the path went through symbolic links: the path they finally led to.
    target: str | None = None
    # Set when the last component itself is a symbolic link: what it says.
    link: str | None = None
    # The inode of the last component itself (not followed): what ``mv`` would move.
    inode: int | None = None

    @property
    def readable(self) -> bool:
        return self.kind == "file" and self.data is not None


@dataclass(frozen=True)
class DirListing:
    """The names in one directory (unsorted, as read), or why they could not be read."""

    path: str
    names: tuple[str, ...] | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProcessRecord(Compact):
    """A kubelet-like process: exact argv from /proc/<pid>/cmdline, never ps text."""

    pid: int
    argv: tuple[str, ...]
    exe: str | None = None
    cwd: str | None = None
    start_time: float | None = None
    # The systemd unit whose cgroup holds it (from /proc/<pid>/cgroup), when known.
    unit: str | None = None


@dataclass(frozen=True)
class Interface:
    """A network interface and its addresses in CIDR form (``10.10.14.124/16``)."""

    name: str
    addresses: tuple[str, ...]


class NodeReader(Protocol):
    """What the kubelet model may ask of a node: one file or one directory at a time."""

    def file(self, path: str) -> FileRecord:
        """Stat (following symlinks) and read ``path``; never raises."""
        ...

    def listdir(self, path: str) -> DirListing:
        """List the names directly in ``path``; never raises."""
        ...


@dataclass
class NodeSnapshot:
    """Everything gathered from one node: the serialisable unit of a collection."""

    label: str
    hostname: str | None = None
    processes: list[ProcessRecord] = field(default_factory=list)
    files: dict[str, FileRecord] = field(default_factory=dict)
    dirs: dict[str, DirListing] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    # The interface of the default route, when known.
    default_route: str | None = None
    # What the node's kubelet and runtime said runs (None: not asked, e.g. a tree or an old bundle).
    witnesses: NodeWitnesses | None = None

    def file(self, path: str) -> FileRecord:
        return self.files.get(path) or FileRecord(path, "uncollected", error="not collected")

    def listdir(self, path: str) -> DirListing:
        return self.dirs.get(path) or DirListing(path, None, error="not collected")


@dataclass(frozen=True, slots=True)
class Step(Compact):
    """One link of a provenance chain: what was decided, and exactly where it was read."""

    what: str
    source: str
    line: int | None = None

    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


@dataclass(frozen=True, slots=True)
class Arg(Compact):
    """One kubelet command-line word and where it came from."""

    value: str
    origin: Step


@dataclass(frozen=True)
class InventoryEntry:
    """One node to reach: ``name``, the node as Kubernetes knows it (the mirror pod suffix),
    and ``address``, where SSH connects (None: the name itself, through the user's ssh_config)."""

    name: str
    address: str | None = None
    user: str | None = None
    port: int | None = None
    problem: str | None = None  # why this entry is not connected to: one line naming it and the bad value
    identity: str | None = None  # an inventory's ansible_ssh_private_key_file: beats --identity for this node
    sudo: bool | None = None  # an inventory's ansible_become: beats --sudo for this node (None: --sudo decides)


class ProblemKind(Enum):
    """What a problem on a node is about; rules and reports choose by it, never by wording."""

    COLLECTION = "collection"  # the collector's own notes (a bundle carries them as text)
    UNREADABLE = "unreadable"  # podaudit may not read what the kubelet reads: the answer may be incomplete
    KUBELET = "kubelet"  # which kubelet process (several, or none)
    NODE_NAME = "node-name"  # the kubelet's node name is doubtful or unusable
    CONFIG = "config"  # a KubeletConfiguration file or --config-dir the kubelet refuses or cannot list
    UNIT = "unit"  # what systemd refuses or ignores in the kubelet's unit, drop-ins and env files
    STATIC_POD_PATH = "static-pod-path"  # the static pod path itself (missing, not listable, crowded)
    RESTART_PENDING = "restart-pending"  # the running kubelet no longer matches its files
    CANNOT_START = "cannot-start"  # the kubelet exits at start with these settings: it runs no pod


@dataclass(frozen=True, slots=True)
class Problem(Compact):
    """One thing wrong on a node: what kind, the path it is about (when one), and why.

    ``form`` is how the path and the detail read as one line (``text()``): the words reports
    and JSON have always shown, kept exactly; nothing parses them back.
    """

    kind: ProblemKind
    path: str | None
    detail: str
    line: int | None = None  # the line of ``path`` it is about (a systemd unit's)
    form: str = "{path}: {detail}"

    def text(self) -> str:
        if self.path is None:
            return self.detail
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return self.form.format(path=where, detail=self.detail)


class FailureKind(Enum):
    """Why a node could not be audited at all; each kind is exactly one PA9xx rule."""

    UNREACHABLE = "unreachable"  # no connection (refused, no route, no such host, no cluster)
    TIMEOUT = "timeout"  # the node or the cluster did not answer in time
    DEADLINE = "deadline"  # the sweep's --deadline passed first
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM before the node finished
    HOST_KEY_UNKNOWN = "host-key-unknown"
    HOST_KEY_CHANGED = "host-key-changed"
    AUTH = "auth"  # the login (or the cluster's credentials) was refused
    SUDO = "sudo"  # sudo refused the read-only script, or root is needed here
    CONFIG = "config"  # a bad address, user, node name: never connected to
    GATHER = "gather"  # the node answered, but not with what podaudit reads (or more than a node may send)
    RBAC = "rbac"  # the cluster forbids this user the kubectl debug pods
    IMAGE = "image"  # the debug pod's image cannot be pulled or run
    ADMISSION = "admission"  # PodSecurity, a webhook or a policy refused (or unprivileged) the debug pod
    KUBECTL_MISSING = "kubectl-missing"  # kubectl is not there or cannot start
    KUBECTL = "kubectl"  # another kubectl request of the debug pod failed (its message says which)
    ERROR = "error"  # a bug in podaudit, on this node only


@dataclass(frozen=True)
class NodeFailure:
    """A node that could not be audited: its name, why, and one line for people that names it."""

    node: str
    kind: FailureKind
    message: str


class WitnessSource(Enum):
    """Who tells what runs on a node (issue 13): its files, its kubelet, its container runtime."""

    FILES = "files"  # the manifests the kubelet would load with its current settings
    KUBELET = "kubelet"  # the kubelet's own /pods and /configz (through the API's node proxy, or on the node)
    RUNTIME = "runtime"  # the CRI runtime's sandboxes and containers (crictl on the node)


class WitnessStatus(Enum):
    HEARD = "heard"  # it answered, and what it said is used
    REFUSED = "refused"  # it is there but would not tell (401/403, webhook authorization error, RBAC)
    ABSENT = "absent"  # nothing to ask (no crictl, no API, no kubelet listening, a tree or a bundle)
    FAILED = "failed"  # asked, but the answer was unusable (timeout, junk, a runtime that is down)


@dataclass(frozen=True, slots=True)
class Witness(Compact):
    """One witness on one node: who, whether it was heard, through what, and why not."""

    source: WitnessSource
    status: WitnessStatus
    via: str  # how it was asked: "api node proxy", "https://127.0.0.1:10250", "crictl unix:///run/...sock"
    detail: str = ""  # one line for people: why refused, absent or failed (empty when heard)


@dataclass(frozen=True, slots=True)
class ContainerRun(Compact):
    """One container of a pod as a witness saw it (the newest attempt)."""

    name: str
    state: str  # running, waiting, exited, created, unknown
    reason: str = ""  # CrashLoopBackOff, Error, OOMKilled, Completed ... as the witness says it
    exit_code: int | None = None  # of the last finished attempt
    restarts: int = 0  # restartCount (kubelet) or metadata.attempt (runtime)
    log_tail: tuple[str, ...] = ()  # the last lines of the newest attempt's log (runtime witness only)


@dataclass(frozen=True, slots=True)
class WitnessedPod(Compact):
    """A pod as the kubelet's /pods or the runtime's sandboxes show it.

    ``uid`` is the kubelet's pod UID; for a static pod it equals ``kubernetes.io/config.hash``
    (applyDefaults, pkg/kubelet/config/common.go), so the mirror pod's ``config.mirror``, the
    kubelet's pod and the runtime's sandbox all join on it. ``source`` is the
    ``kubernetes.io/config.source`` annotation: file, http or api.
    """

    namespace: str
    name: str  # the kubelet's pod name: <manifest name>-<lower-cased node name> for a static pod
    uid: str
    source: str
    ready: bool | None = None  # runtime: SANDBOX_READY; kubelet: the Ready condition; None: not said
    containers: tuple[ContainerRun, ...] = ()
    # The kubelet's status.phase and status.reason (Failed / OutOfcpu: refused at admission); "" from the runtime.
    phase: str = ""
    reason: str = ""


@dataclass(frozen=True)
class KubeletWord:
    """What a kubelet said of itself: its pods (/pods) and its running configuration (/configz).

    ``pods`` is None unless /pods was heard; ``configz`` is the ``kubeletconfig`` object, None
    unless /configz was heard (the read-only port 10255 has no /configz).
    """

    witness: Witness
    pods: tuple[WitnessedPod, ...] | None = None
    configz: dict[str, Any] | None = None
    # When it was heard (this machine's clock), when not in the same exec as the node's files:
    # a file written after that is too new for the kubelet's answer to judge.
    heard_at: float | None = None


@dataclass(frozen=True)
class RuntimeWord:
    """What the container runtime said: every pod sandbox, with its containers (None unless heard)."""

    witness: Witness
    sandboxes: tuple[WitnessedPod, ...] | None = None


@dataclass(frozen=True)
class NodeWitnesses:
    """What the node itself said about what runs, gathered with its files in the same exec."""

    kubelet: KubeletWord
    runtime: RuntimeWord


@dataclass(frozen=True)
class ApiNodeFacts:
    """One Node as the API lists it, for telling which one a machine is (kubelet/nodename.py):
    its name, its addresses (type, address: InternalIP, Hostname ...) and kubeletVersion."""

    name: str
    addresses: tuple[tuple[str, str], ...] = ()
    kubelet_version: str = ""


@dataclass(frozen=True)
class NodeHints:
    """What the API server knows about a node before it is read: its InternalIP (picks the
    node's own interface) and its kubelet's word through the node proxy (the running
    staticPodPath decides which folder is also read). ``api_node`` is the Node named as
    podaudit reached the machine (an inventory entry, a snapshot folder); ``api_nodes`` every
    Node the API lists (``loaded``: the list was read), so a machine reached by another name
    is found by its addresses: both confirm or correct the node name a cloud provider gives.
    run/reach.py hands one ``kubelet.nodeindex.ApiNodeIndex`` (a tuple, indexed by name and
    address) to every node, built once per run; a plain tuple is indexed when it is read."""

    node_ip: str | None = None
    kubelet: KubeletWord | None = None
    api_node: ApiNodeFacts | None = None
    api_nodes: tuple[ApiNodeFacts, ...] = ()
    nodes_loaded: bool = False


# The event kinds of ``podaudit watch`` (watch/events.py): here, at the bottom, because a
# baseline suppression may name one (audit/suppressions.py) as well as the watcher.
WatchEventKind = Literal[
    "watching",  # the first reading of a node: what is watched from now on
    "manifest-added",  # a file the kubelet reads appeared in the static pod path
    "manifest-changed",  # its bytes changed (sha256 and previous_sha256 say how)
    "manifest-removed",  # it is gone (or the kubelet no longer reads it)
    "settings-changed",  # the kubelet's static pod settings changed (detail: old/new path, restart pending)
    "kubelet-restarted",  # a new kubelet process (detail: old/new pid, argv changed)
    "findings-changed",  # findings appeared or cleared with no file event of their own
    "node-unreachable",  # the node could not be read (detail: the one-line reason)
    "node-back",  # a node that could not be read is read again
    "coalesced",  # more changes at once than events are worth (detail: counts); nothing is lost from the summary
]
WATCH_EVENT_KINDS: tuple[WatchEventKind, ...] = get_args(WatchEventKind)
