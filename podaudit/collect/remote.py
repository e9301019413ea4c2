"""The remote collector: one POSIX sh script run on the node, one framed byte stream back.

The gather script (package data: the pieces in ``podaudit/collect/gather/``, joined in
``PIECES`` order into one script, so a pass is still one exec) runs under ``sh -s`` (or
``sudo -n sh -s``) on a node that has no Python, and prints everything the kubelet model may
need; ``parse_gather`` turns that stream into the ``NodeSnapshot`` the local collector
(``LocalNode("/")``) would have built. A first pass guesses what to gather from the running
kubelet's command line and the usual files; passes.py then runs the model over the snapshot,
names what it asked for but was not gathered, and ``gather_script(paths, dirs)`` gathers
exactly that.

The stream's grammar and its parser are gather_parse.py's.

Cost on the node (issue 17): each pass is one ``sh``, and the programs it runs are counted
by tests/test_gather_cost.py: file records are stat'ed by one stat(1) and their bytes sent by
one cat(1) per chunk of paths, the listings of a pass made by one find(1) (files.sh,
directories.sh); the script text itself is built once per process and set of arguments.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources

from podaudit.collect.gather_parse import GATHER_VERSION, MARKER, parse_gather
from podaudit.collect.rootfs import normalize
from podaudit.collect.witnesses import (
    INSPECT_CAP,
    LOG_CAP,
    MAX_INSPECTED,
    WITNESS_BUDGET,
    WITNESS_CAP,
    command_seconds,
)
from podaudit.kubelet.crictl import MAX_LOG_LINES
from podaudit.kubelet.invocation import KUBELET_UNITS
from podaudit.kubelet.unitfiles import UNIT_DIRS
from podaudit.model import MAX_FILE_BYTES
from podaudit.shell import printf_word, speakable

__all__ = ["GATHER_VERSION", "MARKER", "PIECES", "gather_script", "parse_gather", "script_template"]
# The gather script's pieces (podaudit/collect/gather/), in the order they are joined: the
# prelude (parameters, state, helpers) first, main.sh (whose last line runs it all) last.
PIECES = ("prelude.sh", "files.sh", "directories.sh", "units.sh", "processes.sh", "kubelet.sh",
          "distro.sh", "network.sh", "witnesses.sh", "witness_kubelet.sh", "main.sh")
# Where tests may have the witness piece ask the kubelet instead of where its settings say
# (the piece still asks only ports the kubelet opens and holds).
_LOCAL_URL = re.compile(r"(https://|http://)(127\.0\.0\.1|\[::1\]|localhost):[0-9]{1,5}")
# A word the script may carry unquoted (the unit directories and names, all constants).
_WORD = re.compile(r"[A-Za-z0-9/._@:\\-]+")


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
    return _script(tuple(paths), tuple(dirs), cap, kubelet_pid, witnesses_only,
                   tuple(kubelet_urls) if kubelet_urls is not None else None, witness_budget)


# Built once per process and set of arguments: a sweep sends every node the same first pass.
@functools.lru_cache(maxsize=64, typed=True)  # typed: True is not a cap of 1 that was checked
def _script(paths: tuple[str, ...], dirs: tuple[str, ...], cap: int, kubelet_pid: int | None,
            witnesses_only: bool, kubelet_urls: tuple[str, ...] | None, witness_budget: int) -> bytes:
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
