"""The SSH lab (scripts/lab): greenbox nodes in namespaces, reached with the real ssh client."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab_helpers import lab_address, why_no_lab

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "scripts" / "lab"
DEMO_NODE01 = REPO / "podaudit" / "demo" / "cluster" / "nodes" / "node01"
FIRST_ADDRESS = lab_address("127.0.9.10")  # in this run's 127.X/16: away from other runs and hand-made labs




pytestmark = pytest.mark.skipif(why_no_lab() is not None, reason=str(why_no_lab()))


@dataclass(frozen=True)
class Lab:
    """A running lab: its directory and the state.json written by `up`."""

    dir: Path
    state: dict[str, Any]


def lab_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LAB), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab_dir = tmp_path_factory.mktemp("lab") / "greenbox"
    try:
        up = lab_command("up", "greenbox", "--dir", str(lab_dir), "--first-address", FIRST_ADDRESS)
        assert up.returncode == 0, up.stderr
        yield Lab(lab_dir, json.loads((lab_dir / "state.json").read_text()))
    finally:
        lab_command("down", "--dir", str(lab_dir))


def ssh(
    lab: Lab, node: str, command: str, user: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-F", str(lab.dir / "ssh_config")]
    if user:
        argv += ["-o", f"User={user}"]
    return subprocess.run([*argv, node, command], input=stdin, capture_output=True, text=True, timeout=20)


def running(pid: int, start: int | None = None) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and (start is None or int(fields[19]) == start)


def test_up_writes_client_files(lab: Lab) -> None:
    assert (lab.dir / "inventory").read_text() == "controlplane\nnode01\n"
    node01 = next(n for n in lab.state["nodes"] if n["name"] == "node01")
    second = lab_address("127.0.9.11")
    assert node01["address"] == second
    known = (lab.dir / "known_hosts").read_text().splitlines()
    assert f"{second} {node01['host_key']}" in known
    assert f"node01 {node01['host_key']}" in known
    assert f"Host node01\n  HostName {second}\n" in (lab.dir / "ssh_config").read_text()
    status = lab_command("status", "--dir", str(lab.dir))
    assert status.returncode == 0
    assert "node01" in status.stdout
    assert "no answer" not in status.stdout


@pytest.mark.parametrize("node", ["controlplane", "node01"])
def test_each_node_has_its_own_hostname(lab: Lab, node: str) -> None:
    done = ssh(lab, node, "hostname")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{node}\n"


def test_node_files_are_laid_over_the_host(lab: Lab) -> None:
    manifest = "/etc/just-to-mess-with-you/greenbox.yaml"
    done = ssh(lab, "node01", f"cat /var/lib/kubelet/config.yaml; stat -c '%a %U' {manifest}")
    assert done.returncode == 0, done.stderr
    assert "staticPodPath: /etc/just-to-mess-with-you\n" in done.stdout
    assert done.stdout.endswith("600 root\n")  # the mode from podaudit.meta.json
    assert not os.path.exists("/etc/just-to-mess-with-you")


def test_kubelet_runs_with_the_snapshot_argv(lab: Lab) -> None:
    done = ssh(lab, "node01", r"tr '\0' ' ' < /proc/$(pgrep -x kubelet)/cmdline")
    assert done.returncode == 0, done.stderr
    expected = next(DEMO_NODE01.glob("proc/*/cmdline")).read_bytes().replace(b"\0", b" ").decode()
    assert done.stdout == expected


def test_auditor_may_run_sh_as_root(lab: Lab) -> None:
    done = ssh(lab, "node01", "sudo -n sh -s", user="auditor", stdin="id -u\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "0\n"


def test_pwsudo_needs_a_password(lab: Lab) -> None:
    done = ssh(lab, "node01", "sudo -n sh -s", user="pwsudo", stdin="id -u\n")
    assert done.returncode != 0
    assert "a password is required" in done.stderr


def test_nosudo_logs_in_but_sudo_refuses(lab: Lab) -> None:
    assert ssh(lab, "node01", "id -un", user="nosudo").stdout == "nosudo\n"
    done = ssh(lab, "node01", "sudo -n sh -s", user="nosudo", stdin="id -u\n")
    assert done.returncode != 0
    assert done.stdout == ""


def test_down_stops_everything_and_removes_the_dir(lab: Lab) -> None:
    """Runs last: takes the module's lab down (the fixture's own `down` is then a no-op)."""
    recorded = [(pid, start) for pid, start in lab.state["pids"].values()]
    for node in lab.state["nodes"]:
        recorded += [(pid, None) for pid in node["host_pids"]]
        recorded += [(k["pid"], None) for k in node["kubelets"]]
    assert len(recorded) >= 9  # supervisor, and per node: unshare, init, kubelet, sshd
    assert all(running(pid, start) for pid, start in recorded)
    done = lab_command("down", "--dir", str(lab.dir))
    assert done.returncode == 0, done.stderr
    assert [pid for pid, start in recorded if running(pid, start)] == []
    assert not lab.dir.exists()
    again = lab_command("down", "--dir", str(lab.dir))
    assert again.returncode == 0, again.stderr
