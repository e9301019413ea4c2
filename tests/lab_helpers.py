"""Bring a lab scenario up for a test module and always take it down.

Two test runs may share this machine (CI proves it), so a run's labs live in a /16 of
127.0.0.0/8 that only this run holds (run_octet), and each lab is told the run's pid as its
owner: its supervisor takes it down by itself if the run dies without doing so (SIGKILL).
Labs still up when the session ends are taken down by tests/conftest.py (down_all).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LAB = Path(__file__).resolve().parent.parent / "scripts" / "lab"
SHARED: list[Path] = []  # directories of this run the nodes still see in their private /tmp
_UP: set[Path] = set()  # labs started and not yet taken down
_NET: list[tuple[socket.socket, int]] = []  # the lock on this run's /16 and its X, held until the end


def why_no_lab() -> str | None:
    """Why the SSH lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the SSH lab needs root (namespaces, overlay mounts, port 22)"
    for tool in ("unshare", "ssh", "ssh-keygen", "cc", "sudo", "/usr/sbin/sshd"):
        if shutil.which(tool) is None:
            return f"the SSH lab needs {tool} (apt-get install openssh-server sudo gcc)"
    return None


def run_octet() -> int:
    """X of the 127.X.0.0/16 this run owns (1-254; 127.0.x.y is left to labs started by hand).

    Owning means holding an abstract unix socket named after X: the kernel frees the name when
    the process ends, however it ends, so no lock file is ever left behind. The first X tried
    follows from the pid, so concurrent runs rarely even meet."""
    if _NET:
        return _NET[0][1]
    start = os.getpid() % 254
    for step in range(254):
        octet = (start + step) % 254 + 1
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(f"\0podaudit-test-net.{octet}")
        except OSError:
            lock.close()
            continue
        _NET.append((lock, octet))
        return octet
    raise RuntimeError("every 127.X.0.0/16 is held by another test run")


def lab_address(address: str) -> str:
    """A 127.0.x.y address the tests name, moved into this run's 127.X.0.0/16."""
    parts = str(ipaddress.IPv4Address(address)).split(".")
    if parts[:2] != ["127", "0"]:
        raise ValueError(f"lab addresses are written as 127.0.x.y, not {address}")
    return ".".join(["127", str(run_octet()), *parts[2:]])


@contextmanager
def running_lab(parent: Path, scenario: str, first_address: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Labs that may run at once need distinct first addresses (127.0.x.y, see lab_address)."""
    lab = parent / scenario
    _UP.add(lab)
    try:
        argv = [str(LAB), "up", scenario, "--dir", str(lab), "--first-address", lab_address(first_address),
                "--owner", str(os.getpid())]
        for shared in SHARED:
            argv += ["--share", str(shared)]
        up = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        yield lab, json.loads((lab / "state.json").read_text())
    finally:
        take_down(lab)


def take_down(lab: Path) -> bool:
    """`scripts/lab down` a lab this run started; True when it is gone."""
    down = subprocess.run([str(LAB), "down", "--dir", str(lab)], capture_output=True, text=True, timeout=120)
    if down.returncode == 0:
        _UP.discard(lab)
    return down.returncode == 0


def down_all() -> list[Path]:
    """Take down every lab still up (a finalizer that never ran); returns them."""
    left = sorted(_UP)
    for lab in left:
        take_down(lab)
    return left


def listening_sshd(node: dict[str, Any]) -> int:
    """The pid of a lab node's listening sshd, seen from here: the one started with its
    sshd_config (its title once listening: "sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] ...")."""
    config = str(Path(node["home"]) / "sshd_config").encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            raw = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if raw.startswith((b"sshd:", b"/usr/sbin/sshd")) and config in raw and b"@" not in raw:
            return int(proc.name)
    raise AssertionError(f"no sshd for {node['name']}")
