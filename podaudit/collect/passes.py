"""Gathering passes: run the gather script, analyse, and gather again only what the kubelet
model still needs (usually nothing: one exec per node), for every transport that runs the
gather script (over_ssh.py, over_kubectl_debug.py)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from podaudit.collect.remote import gather_script, parse_gather
from podaudit.collect.witnesses import WITNESS_BUDGET
from podaudit.kubelet.process import choose_kubelet
from podaudit.kubelet.resolve import NodeView, analyze_node
from podaudit.model import INVALID_PATH, MAX_FILE_BYTES, DirListing, FileRecord, NodeHints, NodeSnapshot, go_sorted
from podaudit.shell import speakable

# Execs per node at most, the first pass included, on every transport: the model rarely needs
# a second, and a bound keeps a node whose files keep naming new paths from asking forever.
MAX_PASSES = 3


class RecordingReader:
    """A NodeReader over a snapshot that notes what the model asked for but was not gathered.

    Paths no node could hold (a NUL byte, unencodable characters) are answered, and stored in
    the snapshot, as the local collector would record them, not asked of the node.
    """

    def __init__(self, snapshot: NodeSnapshot) -> None:
        self.snapshot = snapshot
        self.wanted_files: set[str] = set()
        self.wanted_dirs: set[str] = set()

    def file(self, path: str) -> FileRecord:
        record = self.snapshot.files.get(path)
        if record is not None:
            return record
        if not speakable(path):
            record = FileRecord(path, "error", error=INVALID_PATH)
            self.snapshot.files[path] = record
            return record
        self.wanted_files.add(path)
        return FileRecord(path, "uncollected", error="not collected")

    def listdir(self, path: str) -> DirListing:
        listing = self.snapshot.dirs.get(path)
        if listing is not None:
            return listing
        if not speakable(path):
            listing = DirListing(path, None, INVALID_PATH)
            self.snapshot.dirs[path] = listing
            return listing
        self.wanted_dirs.add(path)
        return DirListing(path, None, error="not collected")


def still_needed(reader: RecordingReader, view: NodeView) -> tuple[list[str], list[str]]:
    """(files, dirs) an analysis over ``reader`` asked for and did not get.

    A wanted file that the model takes as the static pod path or the --config-dir is asked
    for as a directory (stat, listing and entries), so one more pass usually suffices.
    """
    dirs = set(reader.wanted_dirs)
    dirs.update(p for p in (view.static_pod_path.value, view.config_dir)
                if p is not None and p in reader.wanted_files)
    # A directory is gathered with its parents (gparents in gather/directories.sh): do not ask for them twice.
    parents = {_parent for d in dirs for _parent in _ancestors(d)}
    return go_sorted(reader.wanted_files - dirs - parents), go_sorted(dirs)


def _ancestors(path: str) -> list[str]:
    found = ["/"]
    parent = posixpath.dirname(posixpath.normpath(path))
    while parent not in {"", "/"}:
        found.append(parent)
        parent = posixpath.dirname(parent)
    return found


def kubelet_pid(snapshot: NodeSnapshot) -> int | None:
    """The pid whose root later passes read through (the chosen kubelet), if any."""
    chosen = choose_kubelet(snapshot.processes)
    return chosen.pid if chosen else None


def collect_view(run: Callable[[bytes], bytes], label: str, *, max_passes: int = MAX_PASSES,
                 cap: int = MAX_FILE_BYTES, hints: NodeHints | None = None,
                 witness_budget: int = WITNESS_BUDGET) -> tuple[NodeSnapshot, NodeView, int]:
    """The node's snapshot, the model's view of it, and how many execs it took;
    ``run(script)`` executes a script on the node and returns its stdout; the first pass
    asks the witnesses within ``witness_budget`` seconds (witnesses.witness_budget of the
    transport's timeout).

    The first pass, then one more pass per round of paths the model still needs (usually
    none or one), at most ``max_passes`` execs; the last analysis is the answer, so each
    node is analysed once per pass and no more.
    """
    snapshot = parse_gather(run(gather_script(cap=cap, witness_budget=witness_budget)), label)
    execs = 1
    while True:
        reader = RecordingReader(snapshot)
        view = analyze_node(snapshot, reader, hints)
        files, dirs = still_needed(reader, view)
        if (not files and not dirs) or execs >= max_passes:
            return snapshot, view, execs
        script = gather_script(files, dirs, cap, kubelet_pid=kubelet_pid(snapshot))
        parse_gather(run(script), label, into=snapshot)
        execs += 1

