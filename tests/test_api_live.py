"""Both sides at once, for real: a real kubectl against the stub API server, and the greenbox
lab's nodes over real SSH. The API supplies the node names and addresses (no inventory), the
nodes supply the files, and the mirror pod checks compare the two."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import stub_api
from tests.cli_helpers import run, run_json
from tests.lab_helpers import running_lab, why_no_lab
from tests.stub_api import StubApi

pytestmark = pytest.mark.skipif(why_no_lab() is not None, reason=str(why_no_lab()))
FIRST_ADDRESS = "127.0.12.10"
GREENBOX = "/etc/just-to-mess-with-you/greenbox.yaml"




@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    with running_lab(tmp_path_factory.mktemp("apilab"), "greenbox", FIRST_ADDRESS) as found:
        yield found


@pytest.fixture
def stub(lab: tuple[Path, dict[str, Any]]) -> Iterator[StubApi]:
    """The demo cluster's API, its nodes' InternalIPs pointing at the lab's sshd addresses."""
    addresses = {n["name"]: n["address"] for n in lab[1]["nodes"]}
    with stub_api.running() as server:
        server.point_at(addresses)
        # What node01's running kubelet would really answer (its config.yaml moved the path).
        server.configz["node01"]["kubeletconfig"]["staticPodPath"] = "/etc/just-to-mess-with-you"
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No kubeconfig of the machine's: an empty HOME, unless a test gives --kubeconfig."""
    (tmp_path / "home").mkdir()
    return {"HOME": str(tmp_path / "home"), "KUBECACHEDIR": str(tmp_path / "cache"), "KUBECONFIG": ""}


def podaudit(lab: tuple[Path, dict[str, Any]], env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    ssh = ("--ssh-config", str(lab[0] / "ssh_config"))
    return run_json(*ssh, *args, env=env)


def pods(stub: StubApi) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stub.lists["pods"]["items"]
    return items


def test_sweep_reads_the_apis_nodes_over_ssh_and_compares_both_sides(
        lab: tuple[Path, dict[str, Any]], stub: StubApi, env: dict[str, str], tmp_path: Path,
        kubectl_bin: str) -> None:
    items = pods(stub)
    greenbox = next(p for p in items if p["metadata"]["name"] == "static-greenbox-node01")
    orphan = copy.deepcopy(greenbox)
    orphan["metadata"]["name"] = "old-agent-node01"
    items.remove(greenbox)  # runs on node01, invisible to kubectl
    items.append(orphan)  # in the API, no file on node01
    stub.configz["controlplane"]["kubeletconfig"]["staticPodPath"] = "/srv/manifests"
    # That kubelet reads a folder with no files: its /pods lists no static pod.
    stub.kubelet_pods["controlplane"] = [p for p in stub.kubelet_pods["controlplane"]
                                         if p["metadata"]["annotations"]["kubernetes.io/config.source"] != "file"]
    windows = copy.deepcopy(stub.lists["nodes"]["items"][1])
    windows["metadata"].update(name="win-1", labels={"kubernetes.io/os": "windows"})
    stub.lists["nodes"]["items"].append(windows)  # no Linux kubelet files to read there
    config = str(stub.kubeconfig(tmp_path / "kubeconfig"))
    code, doc = podaudit(lab, env, "sweep", "--kubeconfig", config, "--kubectl", kubectl_bin)
    assert code == 1, doc["notes"]
    assert any(n.startswith("not read: 1 nodes with no Linux kubelet to read") and "win-1" in n for n in doc["notes"])
    assert [(n["node"], n["collection"]["transport"]) for n in doc["nodes"]] == [
        ("controlplane", "ssh"), ("node01", "ssh")]
    found = {(f["id"], f["node"]): f for f in doc["findings"] if f["id"][:3] in {"PA1", "PA3"}}
    assert set(found) == {("PA301", "node01"), ("PA302", "node01"), ("PA107", "controlplane"), ("PA106", "node01")}
    assert found["PA301", "node01"]["path"] == GREENBOX
    assert "old-agent-node01" in found["PA302", "node01"]["message"]
    assert "/srv/manifests (configz) but its files say /etc/kubernetes/manifests" in \
        found["PA107", "controlplane"]["message"]
    assert doc["api"]["loaded"] == ["namespaces", "nodes", "pods"]
    assert doc["api"]["configz"] == ["controlplane", "node01"]
    # Each kubelet's word once, before its node was read; not again after (cross_check).
    assert sorted(p for p, _ in stub.requests if "/proxy/" in p) == [
        f"/api/v1/nodes/{node}/proxy/{what}" for node in ("controlplane", "node01") for what in ("configz", "pods")]


def test_find_asks_the_api_first(lab: tuple[Path, dict[str, Any]], stub: StubApi, env: dict[str, str],
                                 tmp_path: Path, kubectl_bin: str) -> None:
    config = str(stub.kubeconfig(tmp_path / "kubeconfig"))
    code, doc = podaudit(lab, env, "find", "static-greenbox-node01", "--kubeconfig", config, "--kubectl", kubectl_bin)
    assert code == 0
    [match] = doc["matches"]
    assert (match["node"], match["manifest_path"]) == ("node01", GREENBOX)
    assert match["api"]["ready"] == "1/1" and match["api"]["status"] == "Running"
    assert doc["candidates"] == [{"node": "node01", "reason": "spec.nodeName of pod default/static-greenbox-node01 "
                                                              "in the API"}]
    text = run("--ssh-config", str(lab[0] / "ssh_config"), "find", "static-greenbox-node01", "--kubeconfig", config,
               "--kubectl", kubectl_bin, env=env).stdout
    assert "1/1 ready, Running" in text and "node node01" in text


def test_api_down_falls_back_to_the_name_and_says_so(lab: tuple[Path, dict[str, Any]], env: dict[str, str],
                                                     tmp_path: Path, kubectl_bin: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    config = tmp_path / "kubeconfig"
    config.write_text(stub_api.kubeconfig_text(f"http://127.0.0.1:{port}"))
    args = ("--kubeconfig", str(config), "--kubectl", kubectl_bin, "--inventory", str(lab[0] / "inventory"))
    code, doc = podaudit(lab, env, "find", "static-greenbox-node01", *args)
    assert code == 0 and doc["matches"][0]["manifest_path"] == GREENBOX
    assert any("cannot reach the cluster" in n for n in doc["notes"])
    assert any("chosen from the pod name's suffix" in n for n in doc["notes"])
    code, doc = podaudit(lab, env, "sweep", *args)
    assert code == 3  # the nodes were audited; the API side was not (PA905)
    assert len(doc["nodes"]) == 2
    [outage] = [f for f in doc["findings"] if f["id"] == "PA905"]  # one outage, one finding
    assert outage["message"].startswith("(api): kubectl get nodes: cannot reach the cluster")
    assert outage["message"].endswith("(nodes and pods and namespaces not read)")
    assert not [n for n in doc["notes"] if "cannot reach" in n]  # said once, as the finding


def test_without_any_kubeconfig_the_api_is_out_of_scope(lab: tuple[Path, dict[str, Any]], env: dict[str, str],
                                                       kubectl_bin: str) -> None:
    code, doc = podaudit(lab, env, "sweep", "--kubectl", kubectl_bin, "--inventory", str(lab[0] / "inventory"))
    assert code == 0 and doc["api"] is None
    assert not [f for f in doc["findings"] if f["id"] == "PA905"]
    assert any(n.startswith("no API view: no kubeconfig") for n in doc["notes"])


def test_forbidden_namespaces_skips_only_pa304(lab: tuple[Path, dict[str, Any]], stub: StubApi,
                                              env: dict[str, str], tmp_path: Path, kubectl_bin: str) -> None:
    stub.forbidden = {"namespaces"}
    config = str(stub.kubeconfig(tmp_path / "kubeconfig"))
    code, doc = podaudit(lab, env, "sweep", "--kubeconfig", config, "--kubectl", kubectl_bin)
    assert code == 3
    [denied] = [f for f in doc["findings"] if f["id"] == "PA905"]
    assert "forbidden for user jane@example.com (RBAC)" in denied["message"]
    assert doc["api"]["loaded"] == ["nodes", "pods"]


def test_kubectl_runs_podaudit_as_a_plugin(kubectl_bin: str, tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess

    plugin = shutil.which("kubectl-podaudit")
    assert plugin is not None, "pip install . puts kubectl-podaudit on PATH"
    path = f"{Path(plugin).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "HOME": str(tmp_path), "KUBECONFIG": ""}
    listed = subprocess.run([kubectl_bin, "plugin", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert plugin in listed.stdout
    proc = subprocess.run([kubectl_bin, "podaudit", "--demo", "find", "static-greenbox-node01", "-o", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["matches"][0]["node"] == "node01"
    usage = subprocess.run([kubectl_bin, "podaudit", "find"], capture_output=True, text=True, env=env, timeout=60)
    assert usage.returncode == 2 and "kubectl podaudit find" in usage.stderr


def test_delete_waits_until_the_mirror_pod_is_gone_and_restore_until_it_is_back(
        lab: tuple[Path, dict[str, Any]], stub: StubApi, env: dict[str, str], tmp_path: Path,
        kubectl_bin: str) -> None:
    """A stand-in kubelet watches the node's file and adds or removes the mirror pod in the
    stub API, as the real one does when its file source sees the change."""
    import subprocess
    import threading

    node01 = next(n for n in lab[1]["nodes"] if n["name"] == "node01")["host_pids"][0]
    mirror = next(p for p in pods(stub) if p["metadata"]["name"] == "static-greenbox-node01")
    stop = threading.Event()

    def kubelet() -> None:
        while not stop.wait(0.3):
            there = subprocess.run(["nsenter", "-t", str(node01), "-m", "--", "test", "-e", GREENBOX],
                                   check=False).returncode == 0
            listed = mirror in pods(stub)
            if there and not listed:
                pods(stub).append(mirror)
            elif listed and not there:
                pods(stub).remove(mirror)

    watcher = threading.Thread(target=kubelet, daemon=True)
    watcher.start()
    config = str(stub.kubeconfig(tmp_path / "kubeconfig"))
    env = {**env, "XDG_STATE_HOME": str(tmp_path / "state")}
    args = ("--kubeconfig", config, "--kubectl", kubectl_bin, "--wait", "30")
    try:
        code, done = podaudit(lab, env, "delete", "static-greenbox-node01", "--yes", *args)
        assert code == 0 and done["wait"] == "mirror pod default/static-greenbox-node01 is gone"
        code, back = podaudit(lab, env, "restore", done["quarantine_id"], "--node", "node01", "--yes", *args)
        assert code == 0 and back["wait"] == "mirror pod default/static-greenbox-node01 appeared"
    finally:
        stop.set()
        watcher.join(5)
