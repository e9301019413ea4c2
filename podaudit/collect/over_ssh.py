"""Collect a node over SSH: one login, one exec of the gather script, a second only when
the kubelet model needs paths the first pass did not gather.

The script runs as root through transport/ssh_shell.py (paramiko) or transport/openssh.py
(``--ssh-client openssh``: the system ssh), as ``sh -s``, or ``sudo -n sh -s`` with
``--sudo``, fed on stdin; nothing is installed or written on the node.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from podaudit.collect.passes import collect_view
from podaudit.collect.records import GatherError
from podaudit.collect.witnesses import witness_budget
from podaudit.errors import NodeUnavailable
from podaudit.kubelet.resolve import NodeView
from podaudit.model import FailureKind, InventoryEntry, NodeHints, NodeSnapshot
from podaudit.transport import Shell, SshOptions


@dataclass(frozen=True)
class SshNode:
    """A node reached over SSH; ``name`` is the node name, ``entry.address`` where to connect."""

    entry: InventoryEntry
    options: SshOptions
    sudo: bool = False
    only: bool = False
    hints: NodeHints | None = None
    config: Any = None  # the parsed ssh_config, read once for the whole run

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def root(self) -> str:
        return "/"

    def load(self) -> NodeView:
        start = time.monotonic()
        view, _, execs = collect_over_ssh(self.entry, self.options, self.sudo, self.config, self.hints)
        view.collection = {"transport": "ssh", "logins": 1, "execs": execs,
                           "seconds": round(time.monotonic() - start, 3)}
        return view

    def shell(self, sudo: bool = False) -> Shell:
        """One login; root as this node was read (its own --sudo, not ``sudo``)."""
        return login(self.entry, self.options, self.sudo, self.config)


def login(entry: InventoryEntry, options: SshOptions, sudo: bool, config: Any = None) -> Shell:
    """A root shell on the node through the client the run uses (``options.client``)."""
    if options.client == "openssh":
        from podaudit.transport.openssh import OpenSshShell

        return OpenSshShell(entry, options, sudo)
    from podaudit.transport.ssh_shell import SshShell

    return SshShell(entry, options, sudo, config)


def collect_over_ssh(entry: InventoryEntry, options: SshOptions, sudo: bool, config: Any = None,
                     hints: NodeHints | None = None) -> tuple[NodeView, NodeSnapshot, int]:
    """The node's view, its snapshot and how many execs it took; raises NodeUnavailable."""
    with root_shell(entry, options, sudo, config) as run:
        try:
            # The exec has --timeout seconds (options.timeout): the witnesses a third of them.
            snapshot, view, execs = collect_view(run, entry.name, hints=hints,
                                                 witness_budget=witness_budget(options.timeout))
        except GatherError as exc:
            raise NodeUnavailable(entry.name, FailureKind.GATHER, f"{entry.name}: {exc}") from exc
        return view, snapshot, execs


@contextmanager
def root_shell(entry: InventoryEntry, options: SshOptions, sudo: bool, config: Any = None
               ) -> Iterator[Callable[[bytes], bytes]]:
    """One login; yields ``run(script) -> stdout`` that feeds a script to ``sh -s`` as root
    (``sudo -n`` with ``--sudo``). Raises NodeUnavailable (a refused sudo says which sudoers
    line allows it); a script's stdout must start with the gather marker."""
    with login(entry, options, sudo, config) as shell:
        yield shell.run
