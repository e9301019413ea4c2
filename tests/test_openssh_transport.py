"""``--ssh-client openssh`` on the real lab: the system ssh, one ControlMaster per node.

OpenSSH facts relied on (ssh(1), ssh_config(5), sshd(8), ssh-keygen(1) "CERTIFICATES"):
ControlMaster/ControlPath %C/ControlPersist and ``-O exit``; ``BatchMode``;
``StrictHostKeyChecking=yes`` refuses a changed key ("REMOTE HOST IDENTIFICATION HAS
CHANGED"); a known_hosts ``@cert-authority`` line trusts host certificates that
``ssh-keygen -s CA -h`` signs and sshd serves with ``HostCertificate``; sshd re-executes
itself on SIGHUP, reading its config again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from podaudit.errors import NodeUnavailable
from podaudit.model import InventoryEntry
from podaudit.transport import MARKER, SshOptions
from podaudit.transport.openssh import OpenSshShell, base_argv
from tests.cli_helpers import run
from tests.lab_helpers import listening_sshd, running_lab, why_no_lab

pytestmark = pytest.mark.skipif(why_no_lab() is not None, reason=str(why_no_lab()))


@pytest.fixture(scope="module")
def greenbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_lab(tmp_path_factory.mktemp("lab"), "greenbox", "127.0.43.10") as found:
        yield found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No agent and no ~/.ssh of the person running the tests: only the lab's files."""
    (tmp_path / "home").mkdir()
    return {"HOME": str(tmp_path / "home"), "SSH_AUTH_SOCK": ""}


def sweep(lab: Path, *extra: str, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    proc = run("sweep", "--inventory", str(lab / "inventory"), "--ssh-config", str(lab / "ssh_config"),
               "--no-api", "-o", "json", *extra, env=env)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def without_timings(value: Any) -> Any:
    """A report minus what differs between two runs of the same sweep: times and durations."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items()
                if k not in {"seconds", "generated", "generated_at", "started", "finished", "duration"}}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    if isinstance(value, str):  # the removal commands' quarantine folders carry the time
        return re.sub(r"\d{8}T\d{6}Z", "<time>", value)
    return value


def differences(one: Any, other: Any, where: str = "") -> list[str]:
    """Where two reports differ (paths), for a readable failure."""
    if isinstance(one, dict) and isinstance(other, dict):
        return [d for k in sorted(set(one) | set(other), key=str)
                for d in differences(one.get(k), other.get(k), f"{where}.{k}")]
    if isinstance(one, list) and isinstance(other, list) and len(one) == len(other):
        return [d for i, (a, b) in enumerate(zip(one, other, strict=True)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if one == other else [f"{where}: {one!r:.120} != {other!r:.120}"]


def failures(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["node"]: n for n in doc.get("unreachable", doc.get("failures", []))}


def test_both_clients_give_the_same_report(greenbox: Any, env: dict[str, str], tmp_path: Path) -> None:
    """The same sweep through paramiko and through the system ssh: the same JSON report but
    for times; one ControlMaster per node, each closed at the end (``ssh -O exit``)."""
    lab, state = greenbox
    code, paramiko_doc, _ = sweep(lab, "--ssh-client", "paramiko", env=env)
    log = tmp_path / "ssh.log"
    wrapper = tmp_path / "bin" / "ssh"  # the system ssh, each call's argv logged first
    wrapper.parent.mkdir()
    # one write per call (nodes are read at once: two writes could interleave)
    wrapper.write_text(f'#!/bin/sh\nprintf "%s \\n" "$*" >> {log}\nexec /usr/bin/ssh "$@"\n')
    wrapper.chmod(0o755)
    path = f"{wrapper.parent}:{os.environ['PATH']}"
    code2, openssh_doc, err = sweep(lab, "--ssh-client", "openssh", env={**env, "PATH": path})
    assert (code, len(openssh_doc["nodes"])) == (code2, len(state["nodes"])), err
    assert differences(without_timings(openssh_doc), without_timings(paramiko_doc)) == []
    calls = log.read_text().splitlines()
    for node in state["nodes"]:
        mine = [c for c in calls if c.rstrip().split(" -- ")[-1].split()[0] == node["name"]]
        assert sum("ControlMaster=yes" in c for c in mine) == 1, mine
        assert sum(" -O exit " in c for c in mine) == 1, mine
        assert all("BatchMode=yes" in c and "StrictHostKeyChecking=yes" in c for c in mine)
    leftovers = [p for p in Path("/proc").glob("[0-9]*") if _is_master(p, lab)]
    assert leftovers == []


def _is_master(proc: Path, lab: Path) -> bool:
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"ControlMaster=yes" in argv and str(lab / "ssh_config").encode() in argv


def test_a_changed_host_key_is_refused_in_one_line(greenbox: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """StrictHostKeyChecking=yes, whatever --accept-new-host-keys says: ssh's "REMOTE HOST
    IDENTIFICATION HAS CHANGED" is podaudit's host-key-changed (exit 3: not audited)."""
    lab, state = greenbox
    node = state["nodes"][1]
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"{node['address']} {other}\n")
    shell = OpenSshShell(InventoryEntry(node["name"]),
                         SshOptions(ssh_config=str(lab / "ssh_config"), known_hosts=str(known),
                                    accept_new_host_keys=True, timeout=10.0, client="openssh"), False)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(NodeUnavailable) as caught, shell:
        pass
    message = str(caught.value)
    assert caught.value.kind.value == "host-key-changed", message
    assert "\n" not in message and "HOST KEY CHANGED" in message and str(known) in message


def test_a_host_starting_with_a_dash_is_never_passed_to_ssh(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    evil = InventoryEntry(f"-oProxyCommand=touch {canary}")
    with pytest.raises(Exception, match="may not start with '-'"):
        base_argv(evil, SshOptions(client="openssh"), str(tmp_path))
    assert not canary.exists()


def test_inventory_values_are_separate_argv_elements(tmp_path: Path) -> None:
    entry = InventoryEntry("node01", "10.0.0.5", "ops", 2222)
    argv = base_argv(entry, SshOptions(user="ops", timeout=7.5, client="openssh"), str(tmp_path))
    assert argv[argv.index("-l") + 1] == "ops" and argv[argv.index("-p") + 1] == "2222"
    assert "HostName=10.0.0.5" in argv and "ConnectTimeout=8" in argv and "BatchMode=yes" in argv
    assert "StrictHostKeyChecking=yes" in argv and f"ControlPath={tmp_path}/%C" in argv


# -- host certificates ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certified(greenbox: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, Path]:
    """node01's sshd serving a host certificate signed by a CA made here; a known_hosts that
    holds only ``@cert-authority * <ca.pub>``."""
    lab, state = greenbox
    node = state["nodes"][1]
    where = tmp_path_factory.mktemp("ca")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "podaudit-test-ca", "-f", str(where / "ca")],
                   check=True)
    host_key = Path(node["home"]) / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-s", str(where / "ca"), "-h", "-I", f"{node['name']}-host",
                    "-n", f"{node['name']},{node['address']}", "-V", "-5m:+1h", f"{host_key}.pub"], check=True)
    config = Path(node["home"]) / "sshd_config"
    config.write_text(config.read_text() + f"HostCertificate {host_key}-cert.pub\n")
    os.kill(listening_sshd(node), signal.SIGHUP)  # sshd re-executes itself with the new config
    known = where / "known_hosts"
    known.write_text(f"@cert-authority * {(where / 'ca.pub').read_text().strip()}\n")
    _wait_for_certificate(node, lab, known)
    return node, lab, known


def _wait_for_certificate(node: dict[str, Any], lab: Path, known: Path) -> None:
    end = time.monotonic() + 15
    while time.monotonic() < end:
        done = subprocess.run(["ssh", "-F", str(lab / "ssh_config"), "-o", f"UserKnownHostsFile={known}",
                               node["name"], "true"], capture_output=True, timeout=20)
        if done.returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail(f"node01's sshd did not serve its certificate: {done.stderr!r}")


def test_host_certificates_openssh_reads_the_node(certified: Any, env: dict[str, str]) -> None:
    node, lab, known = certified
    shell = OpenSshShell(InventoryEntry(node["name"]),
                         SshOptions(ssh_config=str(lab / "ssh_config"), known_hosts=str(known), timeout=10.0,
                                    client="openssh"), False)
    with shell:
        assert shell.run(b"printf 'PODAUDIT-GATHER '; hostname\n") == MARKER + node["hostname"].encode() + b"\n"
    proc = run("node", node["name"], "--ssh-config", str(lab / "ssh_config"), "--known-hosts", str(known),
               "--no-api", "--ssh-client", "openssh", "-o", "json", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["hostname"] == node["hostname"]


def test_host_certificates_paramiko_refuses_with_the_hint(certified: Any, env: dict[str, str]) -> None:
    node, lab, known = certified
    proc = run("node", node["name"], "--ssh-config", str(lab / "ssh_config"), "--known-hosts", str(known),
               "--no-api", "--ssh-client", "paramiko", "-o", "json", env=env)
    assert proc.returncode == 3, proc.stderr
    said = proc.stdout + proc.stderr
    assert "@cert-authority" in said and "--ssh-client openssh" in said


@pytest.mark.parametrize(("case", "kind", "words"), [
    ("unknown", "host-key-unknown", "host key not known"),
    ("auth", "auth", "authentication failed"),
    ("refused", "unreachable", "cannot connect"),
])
def test_ssh_failures_are_podaudits_kinds_in_one_line(greenbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      case: str, kind: str, words: str) -> None:
    """ssh exits 255 for all of these; its stderr decides the kind (sshconnect.c's "No ...
    host key is known for", "Permission denied (publickey)", "Connection refused")."""
    lab, state = greenbox
    node = state["nodes"][1]
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    known = tmp_path / "known_hosts"
    known.write_text("" if case == "unknown" else f"{node['address']} {node['host_key']}\n")
    options = SshOptions(ssh_config=str(lab / "ssh_config"), known_hosts=str(known), timeout=10.0, client="openssh")
    entry = InventoryEntry(node["name"])
    if case == "auth":
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True)
        config = tmp_path / "ssh_config"  # only the stranger's key is offered
        config.write_text("Host *\n  IdentitiesOnly yes\n  User root\n")
        options = SshOptions(ssh_config=str(config), known_hosts=str(known), timeout=10.0, client="openssh")
        entry = InventoryEntry(node["name"], node["address"], identity=str(tmp_path / "stranger"))
    elif case == "refused":
        entry = InventoryEntry(node["name"], node["address"], None, 2)  # nothing listens on port 2
    with pytest.raises(NodeUnavailable) as caught, OpenSshShell(entry, options, False):
        pass
    message = str(caught.value)
    assert caught.value.kind.value == kind, message
    assert "\n" not in message and words in message and message.startswith(node["name"])


def test_limit_matching_nothing_is_a_usage_error_on_the_command_line(greenbox: Any, env: dict[str, str]) -> None:
    lab, _ = greenbox
    proc = run("sweep", "--inventory", str(lab / "inventory"), "--limit", "controlplane,nosuch", "--no-api", env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"podaudit: error: --limit 'nosuch': matches no host or group in "
                                                f"the inventory {lab / 'inventory'}"]


def test_what_ssh_says_is_escaped_into_one_line() -> None:
    """A node (or a ProxyCommand) controls part of ssh's stderr: no terminal escapes pass."""
    from podaudit.transport.openssh import failure

    error = failure("n1", b"\x1b]0;owned\x07Permission denied (publickey).\r\n\x1b[2Jmore\n", 5.0)
    assert error.kind == "auth"
    assert "\x1b" not in error.message and "\x07" not in error.message and "\n" not in error.message
    assert "\\x1b]0;owned\\x07Permission denied" in error.message
