"""The API's Node index travels to worker processes once per run, as a file (issue 17).

Each chunk of nodes a worker receives carries the nodes' hints, and the hints carry the API's
whole Node list (``kubelet.nodeindex.ApiNodeIndex``): pickled inline, 10,000 Nodes weigh about
600 KB in every chunk of ten nodes. Registered with the pickler the worker connections use
(``multiprocessing.reduction.ForkingPickler``), the index is written once to a private file
(mkstemp: mode 0600, a new name; JSON, not pickle) and each chunk carries only its name; each
worker reads the file once. The file is removed when podaudit exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import tempfile
from typing import Any

from podaudit.kubelet.nodeindex import ApiNodeIndex
from podaudit.model import ApiNodeFacts

# Indexes this process holds by token: the parent's own, and each one a worker has read.
_SHARED: dict[str, ApiNodeIndex] = {}
_WRITTEN: dict[int, tuple[str, str]] = {}  # id of a parent's index: its token and file
_FILES: list[str] = []  # written by this process, removed when it exits


def register() -> None:
    """Send every ApiNodeIndex to worker processes by file from now on."""
    from multiprocessing.reduction import ForkingPickler

    ForkingPickler.register(ApiNodeIndex, _by_file)


def _by_file(index: ApiNodeIndex) -> tuple[Any, ...]:
    """What a chunk carries for ``index``: a reference to its file, written the first time;
    the Nodes themselves when that file cannot be written."""
    written = _WRITTEN.get(id(index))
    if written is None:
        written = _write(index)
    if written is None:
        return ApiNodeIndex, (tuple(index),)
    return _read, written


def _write(index: ApiNodeIndex) -> tuple[str, str] | None:
    rows = [[node.name, [list(pair) for pair in node.addresses], node.kubelet_version] for node in index]
    try:
        fd, path = tempfile.mkstemp(prefix="podaudit-nodes-", suffix=".json")
    except OSError:
        return None
    _FILES.append(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(rows, handle)
    except (OSError, ValueError):
        return None
    token = secrets.token_hex(16)
    _SHARED[token] = index  # kept alive, so its id is not reused by another index this run
    _WRITTEN[id(index)] = token, path
    return token, path


def _read(token: str, path: str) -> ApiNodeIndex:
    """A worker's copy of the parent's index: read from its file the first time, then reused."""
    known = _SHARED.get(token)
    if known is None:
        with open(path, encoding="utf-8") as handle:
            rows = json.load(handle)
        known = _SHARED[token] = ApiNodeIndex(
            ApiNodeFacts(name, tuple((kind, value) for kind, value in addresses), version)
            for name, addresses, version in rows)
    return known


@atexit.register
def _remove_files() -> None:
    for path in _FILES:
        with contextlib.suppress(OSError):
            os.unlink(path)
