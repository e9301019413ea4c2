"""Resolve a node's static pod source the way its kubelet does, with provenance.

Order (cmd/kubelet/app/server.go NewKubeletCommand): flags; ``--config`` replaces the
flag-built config; ``--config-dir`` drop-ins are merged over it; then the flags given on the
command line are applied again (kubeletConfigFlagPrecedence), so a flag beats both files.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from podaudit.kubelet.config import (
    ConfigDoc,
    MergedConfig,
    absolutize_paths,
    dropin_files,
    load_config_doc,
    merge_config,
)
from podaudit.kubelet.flags import BOOL_FLAGS, ParsedArgs, parse_args
from podaudit.kubelet.invocation import Invocation, find_invocation
from podaudit.kubelet.manifests import ManifestEntry, read_static_pod_path
from podaudit.kubelet.network import NetworkFacts, network_facts
from podaudit.kubelet.nodename import NodeName, resolve_node_name
from podaudit.kubelet.reconcile import Inputs, Reconciliation, reconcile
from podaudit.kubelet.running import merge_kubelet_words, path_differs, running_path
from podaudit.kubelet.staleness import restart_pending
from podaudit.kubelet.startup import Startup, kubelet_startup
from podaudit.model import (
    DENIED,
    Arg,
    Compact,
    FileRecord,
    NodeHints,
    NodeReader,
    NodeSnapshot,
    Problem,
    ProblemKind,
    Step,
)

PathSource = Literal["flag", "config", "config-dir", "distro-default", "url", "none"]


@dataclass(frozen=True, slots=True)
class Setting(Compact):
    """A resolved setting, what decided it, and the chain that led there."""

    value: str | None
    source: PathSource
    provenance: tuple[Step, ...]


@dataclass(frozen=True)
class StaticPod:
    """A pod the kubelet runs from a file, and every other file that claims it."""

    namespace: str
    name: str
    mirror_name: str
    manifest_path: str
    shadowed_paths: tuple[str, ...]
    spec: dict[str, Any]
    # Inode of each file above (path → inode), so a name no shell can type can still be moved.
    inodes: dict[str, int] = field(default_factory=dict)


@dataclass
class NodeView:
    """One node as its kubelet sees it: settings with provenance and the fate of each file.

    ``node_name`` is the kubelet's own resolved name (the mirror pod suffix); the name the
    run calls the node by is its ``NodeResult.node`` (collect/source.py).
    """

    node_name: NodeName
    hostname: str | None
    invocation: Invocation
    # The kubelet's flags as parsed from ``invocation.args``: rules read them, never argv.
    flags: ParsedArgs
    config_file: str | None
    config_dir: str | None
    config: dict[str, Any]
    static_pod_path: Setting
    static_pod_url: Setting
    entries: list[ManifestEntry]
    problems: list[Problem] = field(default_factory=list)
    restart_pending: list[Problem] = field(default_factory=list)
    # What podaudit could not read but the kubelet can (kind UNREADABLE): the answer may be incomplete.
    incomplete: list[Problem] = field(default_factory=list)
    network: NetworkFacts | None = None
    # How the node was read: transport, execs, logins, seconds (set by the collector).
    collection: dict[str, Any] = field(default_factory=dict)
    # Every path read while analysing (stat and bytes), for the audit rules: the static pod
    # path and each of its parents, the config files, units and env files, the manifests.
    records: dict[str, FileRecord] = field(default_factory=dict, compare=False, repr=False)
    # The --config file and the drop-ins as decoded, in merge order (rules read fields from
    # them without decoding the files again).
    config_docs: tuple[ConfigDoc, ...] = field(default=(), compare=False, repr=False)
    # What was gathered, for `podaudit collect` to write as a bundle.
    snapshot: NodeSnapshot | None = field(default=None, compare=False, repr=False)
    # The entries of the folder the running kubelet reads (its /configz), when that is not
    # ``static_pod_path``; judged as ``entries`` are, kept apart from them.
    running_entries: list[ManifestEntry] = field(default_factory=list)
    # Files, kubelet and runtime reconciled (kubelet/reconcile.py): each static pod's state.
    reconciled: Reconciliation = field(default_factory=Reconciliation)
    # What stops the kubelet from starting with these settings (kubelet/startup.py).
    startup: Startup = field(default_factory=Startup)

    @property
    def static_pods(self) -> list[StaticPod]:
        """The pods the files define (``static_pod_path``): what the kubelet loads with its current settings."""
        return _static_pods(self.entries)

    @property
    def running_static_pods(self) -> list[StaticPod]:
        """The pods of the running kubelet's folder, when it is not ``static_pod_path``."""
        return _static_pods(self.running_entries)


def _static_pods(entries: list[ManifestEntry]) -> list[StaticPod]:
    inodes = {e.path: e.record.inode for e in entries if e.record.inode is not None}
    return [
        StaticPod(e.pod.namespace, e.pod.name, e.pod.mirror_name, e.path, e.related, e.spec or {},
                  {p: inodes[p] for p in (e.path, *e.related) if p in inodes})
        for e in entries
        if e.fate == "loaded" and e.pod is not None
    ]


def analyze_node(snapshot: NodeSnapshot, reader: NodeReader | None = None, hints: NodeHints | None = None) -> NodeView:
    """Everything the kubelet model says about one node; pure over the reader's data.

    ``hints`` is what the API knew before the node was read: its InternalIP picks the node's
    own interface, and its kubelet's word (before the node's own) says which folder the
    running kubelet reads; that folder is read too when it is not the files' one.
    """
    reader = reader or snapshot
    inv = find_invocation(snapshot, reader)
    flags = parse_args([a.value for a in inv.args])
    config_file = _config_path(flags, inv)
    legacy = config_file is not None and reader.file(config_file).kind == "dir"
    base = None if config_file is None or legacy else absolutize_paths(load_config_doc(reader, config_file))
    dropin_dir, dropins, problems = _dropins(reader, flags, inv)
    ctx = _Context(flags, inv, merge_config(base, dropins), config_file, legacy)
    gates = ctx.merged.data.get("featureGates")
    node_name = resolve_node_name(flags, inv.args, snapshot, hints, gates if isinstance(gates, dict) else None)
    url = _static_pod_url(ctx)
    path = _static_pod_path(ctx, url)
    startup = kubelet_startup(inv, flags, [*ctx.merged.problems, *problems], node_name)
    entries: list[ManifestEntry] = []
    minor = node_name.kubelet_minor  # validation options differ by release
    if path.value is not None and not node_name.fatal:
        entries, path_problem = read_static_pod_path(reader, path.value, node_name.value, minor)
        problems += [path_problem] if path_problem else []
        _read_parents(reader, path.value)
    # The collector's notes arrive as text (a bundle carries them so): they are about no one path.
    noted = [Problem(ProblemKind.COLLECTION, None, error) for error in snapshot.errors]
    pending = restart_pending(reader, inv, ctx.merged.files)
    if inv.process is not None:
        # It runs: it started before these settings stopped it; its next start will not.
        pending += [Problem(ProblemKind.RESTART_PENDING, b.path, f"the next start fails: {b.detail}", b.line)
                    for b in startup.blockers]
    incomplete = _incomplete(reader, [base, *dropins], path, entries)
    files = _Files(inv, path, node_name, entries, bool(pending), incomplete,
                   "" if inv.process is not None else startup.why, minor)
    seen = _witnessed(snapshot, reader, hints, files)
    known = [*inv.problems, *node_name.problems, *ctx.merged.problems, *problems]
    said = [b for b in (*startup.blockers, *startup.doubts) if b not in known]
    return NodeView(
        node_name, snapshot.hostname, inv, flags, None if legacy else config_file, dropin_dir,
        ctx.merged.data, path, url, entries,
        problems=[*noted, *said, *known, *seen.problems],
        restart_pending=pending,
        incomplete=[*incomplete, *seen.incomplete],
        network=network_facts(snapshot, hints.node_ip if hints else None),
        records=snapshot.files,
        config_docs=tuple(d for d in (base, *dropins) if d is not None),
        snapshot=snapshot,
        running_entries=seen.entries,
        reconciled=seen.reconciled,
        startup=startup,
    )


@dataclass(frozen=True)
class _Files:
    """What the files said, for the witnesses to be weighed against."""

    inv: Invocation
    path: Setting
    node_name: NodeName
    entries: list[ManifestEntry]
    restart_pending: bool
    incomplete: list[Problem]
    cannot_start: str  # why the kubelet cannot start with these settings ("" when it can, or runs)
    kubelet_minor: int | None


@dataclass(frozen=True)
class _Witnessed:
    entries: list[ManifestEntry]  # of the running kubelet's folder, when not the files'
    problems: list[Problem]
    incomplete: list[Problem]
    reconciled: Reconciliation


def _witnessed(snapshot: NodeSnapshot, reader: NodeReader, hints: NodeHints | None, files: _Files) -> _Witnessed:
    """The running kubelet's folder (read too when it is not the files'), and every static
    pod's state from the files, the kubelet's word and the runtime's."""
    node = snapshot.witnesses
    word, configz_via = merge_kubelet_words(hints.kubelet if hints else None, node.kubelet if node else None)
    inv, path = files.inv, files.path
    # The process's own --pod-manifest-path is what it reads: no witness needed.
    # Only a flag of the process's own cmdline: one read from a file (microk8s' args file, a k3s
    # config) may have changed since the kubelet started.
    from_flag = (path.source == "flag" and inv.argv_source == "process" and bool(path.provenance)
                 and path.provenance[-1].source.startswith("/proc/"))
    running = running_path(word, configz_via, path.value, from_flag, inv.cwd)
    entries: list[ManifestEntry] = []
    problems: list[Problem] = []
    if running.path and path_differs(running, path.value) and not files.node_name.fatal:
        reader.listdir(running.path)  # asked for as a folder, so the next gathering pass fetches it whole
        entries, problem = read_static_pod_path(reader, running.path, files.node_name.value, files.kubelet_minor)
        if problem is not None:
            problems.append(replace(problem, detail=f"{problem.detail} (the running kubelet's folder, {running.via})"))
    unread = [p for p in problems if p.kind is ProblemKind.UNREADABLE]
    unread += [Problem(ProblemKind.UNREADABLE, e.path, f"{e.record.error}") for e in entries if e.fate == "unknown"]
    reconciled = reconcile(Inputs(
        files.node_name.value, inv.process is not None, path.value, tuple(files.entries), running, tuple(entries),
        files.restart_pending, word, node.runtime if node else None, cannot_start=files.cannot_start,
        complete=not files.incomplete and not unread,
        now=word.heard_at if word is not None and word.heard_at is not None else time.time()))
    return _Witnessed(entries, [p for p in problems if p.kind is not ProblemKind.UNREADABLE], unread, reconciled)


def _read_parents(reader: NodeReader, path: str) -> None:
    """Stat every parent of the static pod path, and of where its links lead: a writable
    parent lets anyone swap the directory."""
    target = reader.file(path).target
    for start in (path, *([target] if target else [])):
        parent = posixpath.dirname(posixpath.normpath(start))
        while parent not in {"", "/"}:
            reader.file(parent)
            parent = posixpath.dirname(parent)
    reader.file("/")


def _incomplete(reader: NodeReader, docs: list[ConfigDoc | None], path: Setting,
                entries: list[ManifestEntry]) -> list[Problem]:
    """Everything podaudit could not read that would change the answer."""
    reasons = [doc.error for doc in docs if doc is not None and doc.error is not None and doc.unreadable]
    if path.value is not None:
        listing = reader.listdir(path.value)
        if listing.error == DENIED or reader.file(path.value).kind == "denied":
            reasons.append(Problem(ProblemKind.UNREADABLE, path.value, DENIED))
    reasons += [Problem(ProblemKind.UNREADABLE, e.path, f"{e.record.error}") for e in entries if e.fate == "unknown"]
    return reasons


@dataclass(frozen=True)
class _Context:
    flags: ParsedArgs
    inv: Invocation
    merged: MergedConfig
    config_file: str | None
    # Before v1.4 ``--config`` named the manifest directory (PR kubernetes#29999).
    legacy: bool

    def arg(self, name: str) -> Arg | None:
        """The command-line word that set flag ``name`` (its last occurrence); for the
        ``--flag value`` form, its origin names the value too."""
        value = self.flags.get(name)
        if value is None:
            return None
        word = self.inv.args[value.index - 1]
        if "=" in word.value or name in BOOL_FLAGS or value.index >= len(self.inv.args):
            return word
        what = f"{word.origin.what} {value.value}"
        return Arg(word.value, Step(what, word.origin.source, word.origin.line))

    def value(self, name: str) -> str | None:
        value = self.flags.get(name)
        return value.value if value is not None else None


def _absolute(path: str, inv: Invocation) -> str:
    """A relative path on the command line is relative to the kubelet's working directory."""
    return posixpath.normpath(posixpath.join(inv.cwd or "/", path))


def _config_path(flags: ParsedArgs, inv: Invocation) -> str | None:
    value = flags.get("config")
    return _absolute(value.value, inv) if value is not None and value.value else None


def _dropins(reader: NodeReader, flags: ParsedArgs, inv: Invocation
             ) -> tuple[str | None, list[ConfigDoc], list[Problem]]:
    value = flags.get("config-dir")
    if value is None or not value.value:
        return None, [], []
    directory = _absolute(value.value, inv)
    paths, problems = dropin_files(reader, directory, trailing_slash=value.value.endswith("/"))
    return directory, [load_config_doc(reader, p) for p in paths], problems


def _static_pod_path(ctx: _Context, url: Setting) -> Setting:
    """The first rule that decides, in the kubelet's order of precedence."""
    setting = _from_flag(ctx) or _from_legacy_config(ctx) or _from_config(ctx) or _from_distro(ctx)
    if setting is not None:
        return setting
    lead = (*ctx.inv.discovery, *_chain(ctx, "config"))
    if url.value is not None:
        # makePodSourceConfig: with no file source, static pods arrive only from the URL.
        return Setting(None, "url", (*lead, *url.provenance, Step(f"static pods come from {url.value}", "argv")))
    why = "no --pod-manifest-path flag and no staticPodPath in the config: the kubelet runs no file pods"
    return Setting(None, "none", (*lead, Step(why, ctx.config_file or "argv")))


def _from_flag(ctx: _Context) -> Setting | None:
    arg, value = ctx.arg("pod-manifest-path"), ctx.value("pod-manifest-path")
    if arg is None or value is None:
        return None
    steps = (*ctx.inv.discovery, arg.origin)
    if not value:
        why = "--pod-manifest-path is empty: static pods disabled"
        return Setting(None, "flag", (*steps, Step(why, arg.origin.source)))
    why = "a flag on the command line overrides the config files (kubeletConfigFlagPrecedence)"
    return Setting(_absolute(value, ctx.inv), "flag", (*steps, Step(why, arg.origin.source)))


def _from_legacy_config(ctx: _Context) -> Setting | None:
    arg = ctx.arg("config")
    if not ctx.legacy or ctx.config_file is None or arg is None:
        return None
    why = "--config names a directory: kubelets before v1.4 read it as the manifest path"
    return Setting(ctx.config_file, "flag", (*ctx.inv.discovery, arg.origin, Step(why, ctx.config_file)))


def _from_config(ctx: _Context) -> Setting | None:
    origin = ctx.merged.origin.get("staticPodPath")
    value = ctx.merged.data.get("staticPodPath")
    if origin is None or not isinstance(value, str):
        return None
    if not value:
        # Set, but empty: no file source, whatever a distribution would default to.
        why = "staticPodPath is empty: static pods from files are disabled"
        return Setting(None, ctx.merged.layer["staticPodPath"], (*ctx.inv.discovery, origin, Step(why, origin.source)))
    source: PathSource = ctx.merged.layer["staticPodPath"]
    chain = _chain(ctx, source)
    if source == "config-dir" and not value.startswith("/"):
        # mergeKubeletConfigurations does not resolve paths in drop-ins.
        value = _absolute(value, ctx.inv)
        why = f"a relative path in a drop-in stays relative to the kubelet's working directory {ctx.inv.cwd}"
        chain += (Step(why, origin.source, origin.line),)
    return Setting(value, source, (*ctx.inv.discovery, *chain, origin))


def _from_distro(ctx: _Context) -> Setting | None:
    default = ctx.inv.distro_defaults.get("pod-manifest-path")
    if default is None:
        return None
    return Setting(default.value, "distro-default", (*ctx.inv.discovery, default.origin))


def _chain(ctx: _Context, source: str) -> tuple[Step, ...]:
    arg = ctx.arg("config-dir" if source == "config-dir" else "config")
    return (arg.origin,) if arg is not None else ()


def _static_pod_url(ctx: _Context) -> Setting:
    arg, value = ctx.arg("manifest-url"), ctx.value("manifest-url")
    if arg is not None:
        # An empty --manifest-url= still beats the config files: no URL source.
        return Setting(value or None, "flag" if value else "none", (arg.origin,))
    value, origin = ctx.merged.data.get("staticPodURL"), ctx.merged.origin.get("staticPodURL")
    if isinstance(value, str) and value and origin is not None:
        return Setting(value, ctx.merged.layer["staticPodURL"], (origin,))
    return Setting(None, "none", ())
