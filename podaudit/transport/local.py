"""Root here: a script run with ``sh -s`` on this machine (``sudo -n sh -s`` with --sudo),
for this machine's own node or one under ``--root DIR``."""

from __future__ import annotations

import os

from podaudit.errors import NodeUnavailable
from podaudit.model import FailureKind
from podaudit.transport import MARKER
from podaudit.transport.limits import MAX_NODE_STDERR, MAX_NODE_STDOUT, run_capped, stderr_line, too_much

LOCAL_TIMEOUT = 120  # seconds for a change script run here (it only moves a few files)


class LocalShell:
    """A Shell on this machine for the node whose "/" is ``root`` here."""

    def __init__(self, name: str, root: str, sudo: bool = False, what: str = "change script") -> None:
        self.name, self.root, self.sudo, self.what = name, root, sudo, what
        self.command = ["sh", "-s"]

    def __enter__(self) -> LocalShell:
        live = os.path.abspath(self.root) == "/"
        if live and os.geteuid() != 0 and not self.sudo:
            raise NodeUnavailable(self.name, FailureKind.SUDO,
                                  f"{self.name}: changing the kubelet's files needs root: run "
                                  "podaudit as root, or with --sudo")
        self.command = ["sudo", "-n", "sh", "-s"] if live and self.sudo and os.geteuid() != 0 else ["sh", "-s"]
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, script: bytes) -> bytes:
        # Capped as a node's answer over SSH is: under --root the tree is hostile input too (a
        # sparse 2 GiB journal.json that the quarantine list prints costs its author nothing).
        name = self.name
        try:
            proc = run_capped(self.command, LOCAL_TIMEOUT, MAX_NODE_STDOUT, stdin=script)
        except OSError as exc:
            raise NodeUnavailable(name, FailureKind.GATHER, f"{name}: the {self.what} could not be started "
                                  f"({exc.strerror or exc})") from None
        if proc.full is not None:
            raise NodeUnavailable(name, FailureKind.GATHER, too_much(name, f"on {proc.full}",
                                  MAX_NODE_STDOUT if proc.full == "stdout" else MAX_NODE_STDERR))
        if proc.timed_out:
            raise NodeUnavailable(name, FailureKind.TIMEOUT, f"{name}: the {self.what} did not finish "
                                  f"within {LOCAL_TIMEOUT} s")
        if not proc.out.startswith(MARKER):
            why = stderr_line(proc.err) or f"exit {proc.status}"
            raise NodeUnavailable(name, FailureKind.GATHER, f"{name}: the {self.what} did not run ({why})")
        return proc.out
