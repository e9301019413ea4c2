"""Ctrl-C and SIGTERM during a large sweep (worker processes): everything stops within a
second or two, the report of what finished is printed, and no process of the run is left
(none holding stdout, which would keep a pipeline waiting)."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scripts.bench import Generator

NODES = 200  # podaudit.run.sweep.PROCESS_THRESHOLD is 100: worker processes
EXTRA = 40  # manifests added per node, so the sweep lasts seconds: there is time to interrupt it
STOP_WITHIN = 3.0  # seconds from the signal to the exit


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("big") / "snapshot"
    Generator(7).write(out, NODES)
    for node in (out / "nodes").iterdir():
        for folder in ("etc/just-to-mess-with-you", "etc/kubernetes/manifests"):
            pods = node / folder
            if pods.is_dir():
                data = sorted(pods.glob("*.yaml"))[0].read_bytes()
                for i in range(EXTRA):
                    (pods / f"extra-{i:02d}.yaml").write_bytes(data.replace(b"name: ", f"name: x{i}-".encode(), 1))
    return out


class Terminal:
    """A pty as the run's stderr, as a person's terminal would be (the progress bar shows),
    read all along so the run never blocks on it."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.seen = b""
        self.reader = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.seen += data

    def wait_for(self, pattern: bytes, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not re.search(pattern, self.seen):
            assert time.monotonic() < end, f"no {pattern!r} on the terminal: {self.seen[-500:]!r}"
            time.sleep(0.05)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    term.reader.start()
    yield term
    os.close(term.master)


@pytest.mark.parametrize(("sig", "to_group"), [(signal.SIGINT, True), (signal.SIGINT, False),
                                               (signal.SIGTERM, False)],
                         ids=["ctrl-c", "sigint", "sigterm"])
def test_an_interrupted_large_sweep_stops_at_once(snapshot: Path, terminal: Terminal, sig: signal.Signals,
                                                  to_group: bool) -> None:
    # A session of its own: Ctrl-C at a terminal signals the whole foreground group, as killpg here.
    proc = subprocess.Popen([sys.executable, "-m", "podaudit", "--snapshot", str(snapshot), "sweep", "-o", "json"],
                            stdout=subprocess.PIPE, stderr=terminal.slave, start_new_session=True)
    os.close(terminal.slave)
    try:
        terminal.wait_for(rb"auditing nodes.* [1-9]\d*/%d" % NODES, 60)  # some nodes done, not all
        started = psutil.Process(proc.pid).children(recursive=True)
        assert started, "no worker processes"
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        sent = time.monotonic()
        os.killpg(proc.pid, sig) if to_group else proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)  # returns once nothing holds stdout open
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    _, alive = psutil.wait_procs(started, timeout=0.5)
    assert alive == [], f"left running: {alive}"
    assert took < STOP_WITHIN, f"{took:.1f} s to stop"
    doc = json.loads(out)
    audited, left = len(doc["nodes"]), doc["unavailable"]
    assert doc["interrupted"] is True and 0 < audited < NODES and audited + len(left) == NODES
    assert {u["kind"] for u in left} == {"interrupted"}
    # The documented exit code of a partial report (docs/ci.md): 1 with a high finding, else 3.
    failing = any(f["severity"] in ("high", "critical") for f in doc["findings"])
    assert proc.returncode == (1 if failing else 3), terminal.seen[-500:]
    assert b"Traceback" not in terminal.seen
