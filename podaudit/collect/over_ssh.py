"""Collect a node over SSH: one login, one exec of the gather script, a second only when
the kubelet model needs paths the first pass did not gather.

The script runs as ``sh -s`` (root logins) or ``sudo -n sh -s`` (``--sudo``), fed on
stdin; nothing is installed or written on the node.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from podaudit.cluster.inventory import InventoryEntry
from podaudit.cluster.source import NodeUnavailable
from podaudit.collect.passes import collect_view
from podaudit.collect.records import GatherError
from podaudit.kubelet.resolve import NodeView
from podaudit.model import NodeSnapshot
from podaudit.transport.ssh import SshError, SshOptions, connect, resolve_target

MARKER = b"PODAUDIT-GATHER "
MAX_PASSES = 3
SUDO_REFUSALS = ("password is required", "a terminal is required", "not in the sudoers", "not allowed to",
                 "may not run sudo", "sudo: command not found", "sudo: not found")


@dataclass(frozen=True)
class SshNode:
    """A node reached over SSH; ``name`` is the node name, ``entry.address`` where to connect."""

    entry: InventoryEntry
    options: SshOptions
    sudo: bool = False
    only: bool = False
    node_ip: str | None = None
    config: Any = None  # the parsed ssh_config, read once for the whole run

    @property
    def name(self) -> str:
        return self.entry.name

    def load(self) -> NodeView:
        start = time.monotonic()
        view, _, execs = collect_over_ssh(self.entry, self.options, self.sudo, self.config, self.node_ip)
        view.collection = {"transport": "ssh", "logins": 1, "execs": execs,
                           "seconds": round(time.monotonic() - start, 3)}
        return view


def collect_over_ssh(entry: InventoryEntry, options: SshOptions, sudo: bool, config: Any = None,
                     node_ip: str | None = None) -> tuple[NodeView, NodeSnapshot, int]:
    """The node's view, its snapshot and how many execs it took; raises NodeUnavailable."""
    with root_shell(entry, options, sudo, config) as run:
        try:
            snapshot, view, execs = collect_view(run, entry.name, max_passes=MAX_PASSES, node_ip=node_ip)
        except GatherError as exc:
            raise NodeUnavailable(entry.name, "gather", f"{entry.name}: {exc}") from exc
        return view, snapshot, execs


@contextmanager
def root_shell(entry: InventoryEntry, options: SshOptions, sudo: bool, config: Any = None
               ) -> Iterator[Callable[[bytes], bytes]]:
    """One login; yields ``run(script) -> stdout`` that feeds a script to ``sh -s`` as root
    (``sudo -n`` with ``--sudo``). Raises NodeUnavailable (a refused sudo says which sudoers
    line allows it); a script's stdout must start with the gather marker."""
    opts = replace(options, user=entry.user or options.user)
    try:
        target = resolve_target(entry.name, opts, config, address=entry.address, port=entry.port)
        with connect(target, opts, config) as conn:
            command = "sudo -n sh -s" if sudo and target.user != "root" else "sh -s"

            def run(script: bytes) -> bytes:
                status, out, err = conn.run(command, script, timeout=opts.timeout)
                if not out.startswith(MARKER):
                    raise _refused(entry.name, command, target.user, status, err)
                return out

            yield run
    except SshError as exc:
        raise NodeUnavailable(entry.name, exc.kind, str(exc)) from exc


def _refused(name: str, command: str, user: str | None, status: int, err: bytes) -> NodeUnavailable:
    """The script did not run: sudo refused, or no POSIX shell."""
    text = " ".join(err.decode("utf-8", "replace").split())[:300]
    if command.startswith("sudo") and any(s in text for s in SUDO_REFUSALS):
        who = user or "USER"
        line = f"{who} ALL=(root) NOPASSWD: /bin/sh -s, /usr/bin/sh -s"
        return NodeUnavailable(name, "sudo", (
            f"{name}: sudo -n refused ({text}); podaudit needs to run its read-only script as root: "
            f"allow it with the sudoers line '{line}' (note: this lets {who} run any shell script as root), "
            "or log in as root"))
    why = text or "no output"
    return NodeUnavailable(name, "gather", f"{name}: the gather script did not run (exit {status}): {why}")
