"""Recognising the kubelet among a node's processes.

The kubelet is a process of its own (``kubelet``, rke2's child ``.../bin/kubelet``, old
``hyperkube kubelet``), or embedded: k3s runs it inside ``k3s server``/``k3s agent``,
MicroK8s inside ``kubelite``. k3s and rke2 rewrite their process title, so argv[0] may hold
``/usr/local/bin/k3s server`` as one word.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from typing import Literal

from podaudit.model import ProcessRecord

KubeletKind = Literal["kubelet", "hyperkube", "k3s", "rke2", "kubelite"]
# Preference when several match: a real kubelet process tells us most (rke2's child wins
# over its rke2 parent).
_RANK: dict[str, int] = {"kubelet": 0, "hyperkube": 0, "kubelite": 1, "k3s": 2, "rke2": 3}


def split_title(argv: Sequence[str]) -> tuple[str, ...]:
    """Undo title rewriting: a lone argv[0] with spaces is the program and its arguments."""
    if len(argv) == 1 and " " in argv[0]:
        return tuple(argv[0].split())
    return tuple(argv)


def kubelet_kind(argv: Sequence[str], exe: str | None = None) -> KubeletKind | None:
    """What kind of kubelet this process is, or None."""
    words = split_title(argv)
    if not words:
        return None
    program = posixpath.basename(words[0])
    sub = words[1] if len(words) > 1 else ""
    if program == "kubelet" or (exe is not None and posixpath.basename(exe) == "kubelet"):
        return "kubelet"
    if program == "hyperkube" and sub == "kubelet":
        return "hyperkube"
    if program == "kubelite":
        return "kubelite"
    if program == "k3s" and sub in {"server", "agent"}:
        return "k3s"
    if program == "rke2" and sub in {"server", "agent"}:
        return "rke2"
    return None


def choose_kubelet(processes: Iterable[ProcessRecord]) -> ProcessRecord | None:
    """The process that best tells how the node's kubelet runs; ties go to the lowest pid."""
    candidates = [
        (_RANK[kind], p.pid, p)
        for p in processes
        if (kind := kubelet_kind(p.argv, p.exe)) is not None
    ]
    return min(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None
