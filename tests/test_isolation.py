"""The suite leaves nothing behind and depends on nothing of the machine's.

Labs are torn down when a test fails, on Ctrl-C, SIGTERM and even SIGKILL of the run; one
kill of a lab's supervisor takes the whole lab down; lab nodes write to a /tmp of their own;
two runs hold distinct lab networks; scripts/reaper.py (CI's pytest wrapper) fails a command
that leaves processes behind; tests see a private HOME and no kubeconfig.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_helpers import lab_address, run_octet, running_lab, why_no_lab

REPO = Path(__file__).resolve().parent.parent
VICTIM = REPO / "tests" / "support" / "lab_victim.py"
REAPER = REPO / "scripts" / "reaper.py"
GONE_WITHIN = 10.0  # seconds for a lab to be gone after its run ended
# pytest, with Ctrl-C handled even when this run ignores SIGINT (a background job of a script
# does, and the ignoring would be inherited).
PYTEST_WITH_CTRL_C = ("import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
                      "sys.exit(pytest.main(sys.argv[1:]))")

needs_lab = pytest.mark.skipif(why_no_lab() is not None, reason=str(why_no_lab()))


def running(pid: int, start: int | None = None) -> bool:
    """Whether pid runs (a zombie does not) and, given start, is still the same process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and (start is None or int(fields[19]) == start)


def lab_processes(state: dict[str, Any]) -> list[tuple[int, int | None]]:
    """(pid, start time or None) of every process a lab's state.json records."""
    found: list[tuple[int, int | None]] = [(pid, start) for pid, start in state["pids"].values()]
    for node in state["nodes"]:
        found += [(pid, None) for pid in node["host_pids"]]
        found += [(k["pid"], None) for k in node["kubelets"] if k["pid"]]
    return found


def still_running(procs: list[tuple[int, int | None]], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        left = [pid for pid, start in procs if running(pid, start)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


Victim = tuple[Callable[[str], "subprocess.Popen[str]"], Path]


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[Victim]:
    """Start the victim run (a session of its own, like a run at its own terminal)."""
    ready = tmp_path / "ready.json"
    procs: list[subprocess.Popen[str]] = []

    def start(mode: str) -> subprocess.Popen[str]:
        env = {**os.environ, "VICTIM_READY": str(ready), "VICTIM_MODE": mode}
        argv = [sys.executable, "-c", PYTEST_WITH_CTRL_C, "-q", "-p", "no:cacheprovider",
                "--basetemp", str(tmp_path / "run"), f"{VICTIM}::{'test_leaker' if mode == 'leak' else 'test_victim'}"]
        procs.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True))
        return procs[-1]

    yield start, ready
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def wait_ready(proc: subprocess.Popen[str], ready: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the victim's lab did not come up"
        time.sleep(0.1)
    time.sleep(0.1)  # the file is written in one call; let it land
    state: dict[str, Any] = json.loads(ready.read_text())
    assert len(lab_processes(state)) >= 9  # supervisor, and per node: unshare, init, kubelet, sshd
    return state


@needs_lab
@pytest.mark.parametrize("how", ["a failing test", "Ctrl-C", "SIGTERM", "SIGKILL"])
def test_a_lab_is_torn_down_however_its_run_ends(victim: Victim, how: str) -> None:
    start, ready = victim
    proc = start("fail" if how == "a failing test" else "wait")
    state = wait_ready(proc, ready)
    if how != "a failing test":  # that one may be tearing its lab down already
        assert all(running(pid, start) for pid, start in lab_processes(state))
    if how == "Ctrl-C":
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole foreground group
    elif how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    elif how == "SIGKILL":
        proc.kill()  # no finalizer runs: the lab's supervisor sees its owner go
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == {"a failing test": 1, "SIGKILL": -signal.SIGKILL}.get(how, 2), output
    assert still_running(lab_processes(state), GONE_WITHIN) == []
    if how != "SIGKILL":
        assert not Path(state["dir"]).exists()  # `scripts/lab down` ran: a finalizer, not the watchdog
        assert "left behind" not in output and "still up" not in output, output


def test_a_process_left_behind_fails_the_run_and_is_killed(victim: Victim) -> None:
    start, ready = victim
    proc = start("leak")
    output = proc.communicate(timeout=120)[0]
    leaked = int(ready.read_text())
    assert proc.returncode == 1, output  # its only test passed
    assert f"process left behind, killed: {leaked} sleep 300" in output
    assert still_running([(leaked, None)], GONE_WITHIN) == []


@needs_lab
def test_one_kill_of_the_supervisor_takes_the_whole_lab_down(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_lab(tmp_path_factory.mktemp("lab"), "greenbox", "127.0.31.10") as (_, state):
        procs = lab_processes(state)
        assert len(procs) >= 9 and all(running(pid, start) for pid, start in procs)
        os.kill(state["pids"]["@supervisor"][0], signal.SIGKILL)
        assert still_running(procs, GONE_WITHIN) == []


@needs_lab
def test_a_lab_node_writes_to_a_tmp_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> None:
    canary = f"podaudit-canary-{uuid.uuid4().hex}"
    with running_lab(tmp_path_factory.mktemp("lab"), "greenbox", "127.0.32.10") as (lab, _):
        ssh = ["ssh", "-F", str(lab / "ssh_config"), "node01"]
        done = subprocess.run([*ssh, f"stat -f -c %T /tmp && touch /tmp/{canary} && test -d {lab}"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert done.stdout == "tmpfs\n"  # and the lab directory is still there, in the node's /tmp
        assert not Path("/tmp", canary).exists()
        again = subprocess.run([*ssh, f"test -e /tmp/{canary}"], capture_output=True, timeout=30)
        assert again.returncode == 0  # the node keeps its own /tmp between sessions


def test_two_runs_hold_distinct_lab_networks() -> None:
    ours = run_octet()
    code = "from tests.lab_helpers import run_octet; print(run_octet())"
    other = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr
    assert 1 <= ours <= 254 and int(other.stdout) != ours
    assert lab_address("127.0.9.10") == f"127.{ours}.9.10"


def test_the_reaper_fails_a_command_that_leaves_a_process_behind() -> None:
    done = subprocess.run([str(REAPER), "sh", "-c", "setsid sleep 300 & echo $!"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    orphan = int(done.stdout)
    assert f"reaper:   {orphan} " in done.stderr  # its argv may still be sh's: setsid had not run yet
    assert not running(orphan)
    clean = subprocess.run([str(REAPER), "sh", "-c", "sleep 0.1 & wait; exit 3"], capture_output=True, timeout=60)
    assert (clean.returncode, clean.stderr) == (3, b"")


def test_tests_see_a_private_home_and_no_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = Path(os.path.expanduser("~"))
    assert home.is_relative_to(tmp_path_factory.getbasetemp()) and home.is_dir()
    assert "KUBECONFIG" not in os.environ and "SSH_AUTH_SOCK" not in os.environ
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "KUBECACHEDIR"):
        assert Path(os.environ[name]).is_relative_to(tmp_path_factory.getbasetemp()), name
    child = subprocess.run([sys.executable, "-c", "import os; print(os.path.expanduser('~/.ssh/config'))"],
                           capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == str(home / ".ssh/config")


@pytest.mark.parametrize("port", [10250, 10255])
def test_a_kubelet_on_this_machine_is_out_of_reach(port: int) -> None:
    """The gather script asks the node's own kubelet on 127.0.0.1:10250 and 10255 (issue 13):
    the suite runs in a network of its own (scripts/own_network, from scripts/test and .ci/run),
    so a kubelet on this machine (CI runs a decoy that answers on both) is never heard."""
    import socket

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
