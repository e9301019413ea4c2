"""A worker process of a large local sweep (run/sweep.py): a fresh interpreter, not a fork.

A fork starts as large as podaudit is by then (with a fleet's API lists: tens of MB), and
the process tree counts that again for every worker; a fresh interpreter holds only the
analysis (about 20 MB). Not multiprocessing's spawn either: it also starts a resource
tracker process that outlives the sweep. The worker talks over one socket with
multiprocessing's Connection (pickled chunks in, pickled results out).
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from podaudit.collect.source import NodeResult, NodeSource, read_node

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

ORPHAN_CHECK = 1.0  # seconds between an idle worker's checks that podaudit is still there
Chunk = list[tuple[int, NodeSource]]  # nodes, each with its place in the sweep
Reader = Callable[[NodeSource], NodeResult]  # read_node, or read_slim


def start(slim: bool) -> tuple[subprocess.Popen[bytes], Connection]:
    """A new worker and the parent's end of its connection."""
    from multiprocessing.connection import Connection

    from podaudit.run.nodes_file import register

    register()  # the chunks' Node index goes by file, once per run
    ours, theirs = socket.socketpair()
    # `python -c` puts the current directory first on sys.path (the installed podaudit command
    # does not): dropped first, so a pickle.py or podaudit/ where podaudit was started is never imported.
    code = (f"import sys; del sys.path[0]; from podaudit.run.worker import main; "
            f"main({theirs.fileno()}, {os.getpid()}, {slim!r})")
    # The parent's import path, so the worker imports the same podaudit (a source tree, a venv).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    # Ctrl-C is the parent's: SIGINT stays blocked in the worker from its first instruction (a
    # signal mask survives fork and exec), so a Ctrl-C while it starts prints no traceback;
    # here it is only held back until the worker is started, then handled.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        # Not stdout: a worker never holds podaudit's output (a pipeline ends when podaudit does).
        process = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        theirs.close()
    return process, Connection(ours.detach())


def main(fd: int, parent: int, slim: bool) -> None:
    """The worker's program: serve chunks until the parent closes the connection or is gone."""
    from multiprocessing.connection import Connection

    serve(Connection(fd), parent, read_slim if slim else read_node)


def serve(conn: Connection, parent: int, read: Reader = read_node) -> None:
    """A worker process (run/worker.py): audit each chunk the parent sends, send the results
    back, until the parent closes its end or is gone (killed: then no EOF may come). Ctrl-C
    (sent to the whole foreground group) is the parent's to handle; SIGTERM ends the worker
    there and then."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            while not conn.poll(ORPHAN_CHECK):
                if os.getppid() != parent:
                    return
            chunk: Chunk = conn.recv()
        except EOFError:
            return
        results = [(index, read(node)) for index, node in chunk]
        try:
            conn.send_bytes(pack(results))
        except OSError:
            return  # the parent stopped listening
        except Exception as exc:  # a result that cannot be pickled: its nodes are reported
            conn.send(f"{type(exc).__name__}: {exc}")


def slimmed(result: NodeResult) -> NodeResult:
    """What an audit and its reports read of a node: not the gathered snapshot (only
    ``collect`` writes it as a bundle), not the bytes of files other than the static pod
    folders' entries (rules read the stat of the others; the baseline's digests read the
    manifests' bytes), no second copy of an equal config. A worker sends less, and a fleet's
    results hold less."""
    view = result.view
    if view is None:
        return result
    keep = {e.path for e in (*view.entries, *view.running_entries)}
    records = {path: record if record.data is None or path in keep else replace(record, data=None)
               for path, record in view.records.items()}
    # Without drop-ins the merged config equals the --config file's: one dict, pickled once.
    docs = view.config_docs
    config = docs[0].data if len(docs) == 1 and docs[0].data == view.config else view.config
    return replace(result, view=replace(view, snapshot=None, records=records, config=config))


def read_slim(node: NodeSource) -> NodeResult:
    return slimmed(read_node(node))


class _Sharing(pickle.Pickler):
    """Pickles every string, and each value in ``shared``, as a persistent id, so that the
    parent makes one object of what many nodes repeat (``_Shared``): a fleet's nodes repeat
    the same paths, flag words, config keys and messages (10,000 generated nodes: 14 of every
    16 KB of strings are repeats), often the same KubeletConfiguration and manifests, and the
    parent holds every node's view until the audit. Within one chunk a string is still
    written once (the pickle memo keeps the id object)."""

    def __init__(self, file: io.BytesIO, shared: set[int]) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def persistent_id(self, obj: object) -> str | bytes | None:
        if type(obj) is str:
            return obj
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL) if id(obj) in self.shared else None


def _shareable(results: list[tuple[int, NodeResult]]) -> set[int]:
    """The decoded files of each view: its config files' data and key lines, its manifests'
    fields; nothing reads them but to look (no rule or report changes a view)."""
    shared: set[int] = set()
    for _, result in results:
        view = result.view
        if view is not None:
            shared.update(id(part) for doc in view.config_docs for part in (doc.data, doc.key_lines))
            shared.update(id(e.spec) for e in (*view.entries, *view.running_entries) if e.spec)
    return shared


@dataclass(frozen=True)
class _Packed:
    """Results pickled by ``_Sharing``: the parent's plain ``Connection.recv`` unpickles this
    into the results themselves (``unpack``), so run/sweep.py reads them as any other."""

    body: bytes

    def __reduce__(self) -> tuple[Callable[[bytes], object], tuple[bytes]]:
        return unpack, (self.body,)


def pack(results: list[tuple[int, NodeResult]]) -> bytes:
    """What a worker sends for ``results``: the parent's ``recv`` returns them, repeats shared."""
    body = io.BytesIO()
    _Sharing(body, _shareable(results)).dump(results)
    return pickle.dumps(_Packed(body.getvalue()), pickle.HIGHEST_PROTOCOL)


class _Shared(dict[str | bytes, object]):
    """What the parent shares: each string, and each shared value by its pickle. A hit is a
    lookup in C (no Python frame for each of a node's ~250 strings); bounded, as a process may
    unpack several sweeps (tests, watch): when full it starts again, costing a few copies."""

    def __missing__(self, pid: str | bytes) -> object:
        if len(self) >= _MAX_SHARED:
            self.clear()
        # Our own worker's bytes, over its own socketpair: as trusted as Connection.recv's pickles.
        value = self[pid] = pid if isinstance(pid, str) else pickle.loads(pid)  # noqa: S301
        return value


_MAX_SHARED = 1 << 16
_SHARED = _Shared()


def unpack(body: bytes) -> object:
    unpickler = pickle.Unpickler(io.BytesIO(body))  # noqa: S301  # as _Shared's
    unpickler.persistent_load = _SHARED.__getitem__  # type: ignore[method-assign]
    return unpickler.load()
