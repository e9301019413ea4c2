"""The issue's two cases end to end: the podaudit command line, a real kubectl against the stub
API, the greenbox lab's nodes over real SSH, the lab's crictl.

1. A node whose config.yaml was edited after its kubelet started (staticPodPath moved from
   /etc/kubernetes/manifests to /etc/kubernetes/new-manifests). The kubelet reads its config
   once (makePodSourceConfig, pkg/kubelet/kubelet.go: the file source's path never changes),
   so /configz and /pods still say /etc/kubernetes/manifests: static-web from there runs, the
   new folder's pods start only at the next restart, and no PA301 claims they run.
2. A control plane whose kube-apiserver crash-loops, so the API is down: the container
   runtime alone (crictl) tells which file, the exit code, the restarts and the last log line.
"""

from __future__ import annotations

import base64
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
from tests.stub_api import StubApi, static_pod
from tests.test_crictl import LAST_LINE, broken_control_plane

pytestmark = pytest.mark.skipif(why_no_lab() is not None, reason=str(why_no_lab()))
OLD, NEW = "/etc/kubernetes/manifests", "/etc/kubernetes/new-manifests"
CRI = "/var/lib/podaudit-lab/cri"  # where the lab's crictl reads its answers (scripts/lab_scenarios.py)


def manifest(name: str) -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  containers:\n"
            f"  - name: {name}\n    image: nginx:1.27\n")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    with running_lab(tmp_path_factory.mktemp("witnesse2e"), "greenbox", "127.0.35.10") as found:
        path = found[0]
        # node01, after its kubelet started: the manifests of both folders, then the config edit,
        # at least two seconds after the start (restart_pending allows a second for btime's rounding).
        writes = "".join(f"printf '%s' '{manifest(name)}' > {folder}/{name}.yaml\n"
                         for folder, name in ((OLD, "static-web"), (NEW, "static-web"), (NEW, "static-metrics")))
        on_node(path, "node01", f"mkdir -p {OLD} {NEW}\n{writes}sleep 2\n"
                f"sed -i 's#^staticPodPath: .*#staticPodPath: {NEW}#' /var/lib/kubelet/config.yaml\n")
        yield found


def on_node(lab: Path, node: str, script: str) -> str:
    import subprocess

    done = subprocess.run(["ssh", "-F", str(lab / "ssh_config"), node, "sh -s"], input=script.encode(),
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode(errors="replace")


@pytest.fixture
def stub(lab: tuple[Path, dict[str, Any]]) -> Iterator[StubApi]:
    """The demo cluster's API, pointing at the lab's nodes; node01's running kubelet reads
    /etc/kubernetes/manifests and runs static-web from it (its mirror pod is in the API)."""
    addresses = {n["name"]: n["address"] for n in lab[1]["nodes"]}
    with stub_api.running() as server:
        server.point_at(addresses)
        server.configz["node01"]["kubeletconfig"]["staticPodPath"] = OLD
        web = static_pod("static-web", "node01", namespace="default")
        server.kubelet_pods["node01"] = [p for p in server.kubelet_pods["node01"]
                                         if p["metadata"]["annotations"]["kubernetes.io/config.source"] != "file"]
        server.kubelet_pods["node01"].append(web)
        items = server.lists["pods"]["items"]
        greenbox = next(p for p in items if p["metadata"]["name"] == "static-greenbox-node01")
        mirror = copy.deepcopy(greenbox)
        mirror["metadata"].update(name="static-web-node01", namespace="default", uid="0f0e0d0c-aaaa-bbbb-cccc-0123")
        mirror["metadata"]["annotations"] = {**web["metadata"]["annotations"],
                                             "kubernetes.io/config.mirror": web["metadata"]["uid"]}
        items.remove(greenbox)  # its file is no longer in the folder the kubelet reads
        items.append(mirror)
        yield server


def states(doc: dict[str, Any]) -> dict[str, str]:
    return {p["manifest_path"]: p["state"] for p in [*doc["static_pods"], *doc.get("running_static_pods", [])]}


def test_with_the_api_the_running_kubelet_says_what_runs_now(
        lab: tuple[Path, dict[str, Any]], stub: StubApi, tmp_path: Path,
        kubectl_bin: str) -> None:
    config = str(stub.kubeconfig(tmp_path / "kubeconfig"))
    ssh = ("--ssh-config", str(lab[0] / "ssh_config"))
    _, doc = run_json(*ssh, "node", "node01", "--kubeconfig", config, "--kubectl", kubectl_bin)
    assert doc["static_pod_path"] == NEW and doc["running_static_pod_path"] == OLD, doc["witnesses"]
    assert states(doc) == {f"{OLD}/static-web.yaml": "running", f"{NEW}/static-web.yaml": "after-restart",
                           f"{NEW}/static-metrics.yaml": "after-restart"}
    running = next(p for p in doc["running_static_pods"] if p["manifest_path"] == f"{OLD}/static-web.yaml")
    assert "kubelet" in running["witnessed_by"]
    kubelet = next(w for w in doc["witnesses"] if w["source"] == "kubelet")
    assert (kubelet["status"], kubelet["via"]) == ("heard", "api node proxy")

    _, sweep = run_json(*ssh, "sweep", "--kubeconfig", config, "--kubectl", kubectl_bin)
    on_node01 = {f["id"] for f in sweep["findings"] if f["node"] == "node01"}
    assert "PA301" not in on_node01, sweep["findings"]  # static-metrics does not run at all
    assert {"PA102", "PA107"} <= on_node01


def test_without_any_witness_the_pending_restart_is_unknown_and_says_who_would_settle_it(
        lab: tuple[Path, dict[str, Any]]) -> None:
    """No API, no crictl answer, no kubelet port reachable: podaudit does not guess."""
    _, doc = run_json("--ssh-config", str(lab[0] / "ssh_config"), "node", "node01", "--no-api")
    assert doc["running_static_pod_path"] is None
    assert states(doc) == {f"{NEW}/static-web.yaml": "unknown", f"{NEW}/static-metrics.yaml": "unknown"}
    reason = next(p["state_reason"] for p in doc["static_pods"])
    assert "configz" in reason and "crictl" in reason, reason
    assert {w["source"]: w["status"] for w in doc["witnesses"]}["files"] == "heard"


@pytest.fixture
def dead_api(tmp_path: Path) -> Iterator[str]:
    """A kubeconfig whose API server refuses connections: the kube-apiserver is down."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        path = tmp_path / "dead-kubeconfig"
        path.write_text(stub_api.kubeconfig_text(f"https://127.0.0.1:{held.getsockname()[1]}"))
        yield str(path)


def test_a_control_plane_whose_api_server_is_down_is_explained_by_its_runtime(
        lab: tuple[Path, dict[str, Any]], dead_api: str, kubectl_bin: str) -> None:
    pods, ps, inspect, logs = broken_control_plane("controlplane")
    files = {"pods.json": pods, "ps.json": ps, **{f"inspect/{i}.json": d for i, d in inspect.items()},
             **{f"logs/{i}.log": d for i, d in logs.items()}}
    writes = "".join(f"printf '%s' {base64.b64encode(data).decode()} | base64 -d > {CRI}/{name}\n"
                     for name, data in files.items())
    bind = "import socket; socket.socket(socket.AF_UNIX).bind('/var/run/containerd/containerd.sock')"
    on_node(lab[0], "controlplane", f"mkdir -p {CRI}/inspect {CRI}/logs /var/run/containerd\n{writes}"
            f"[ -S /var/run/containerd/containerd.sock ] || /usr/bin/python3 -c \"{bind}\"\n")
    args = ("--ssh-config", str(lab[0] / "ssh_config"), "node", "controlplane", "--kubeconfig", dead_api,
            "--kubectl", kubectl_bin)
    _, doc = run_json(*args)
    apiserver = next(p for p in doc["static_pods"] if p["name"] == "kube-apiserver")
    assert apiserver["manifest_path"] == f"{OLD}/kube-apiserver.yaml"
    assert "runtime" in apiserver["witnessed_by"]
    [container] = apiserver["containers"]
    assert (container["exit_code"], container["restarts"], container["log_tail"][-1]) == (1, 14, LAST_LINE)
    kubelet = next(w for w in doc["witnesses"] if w["source"] == "kubelet")
    assert kubelet["status"] != "heard"

    text = run(*args).stdout
    line = next((ln for ln in text.splitlines() if "kube-apiserver" in ln and "exited 1" in ln), "")
    assert "14 restarts" in line and "unknown flag: --insecure-port" in text, text
    findings = json.loads(run("--output", "json", "--ssh-config", str(lab[0] / "ssh_config"), "sweep", "--nodes",
                              "controlplane", "--no-api").stdout)["findings"]
    crash = next(f for f in findings if f["id"] == "PA111")
    assert f"{OLD}/kube-apiserver.yaml" in crash["message"] and "exited 1" in crash["message"]
