"""PA107, PA301-PA305 and PA905 through the command line, on copies of the demo cluster
snapshot whose api/ folder is edited the way real clusters go wrong."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run, run_json
from tests.stub_api import DEMO_API

DEMO = DEMO_API.parent
GREENBOX = "/etc/just-to-mess-with-you/greenbox.yaml"


class Snapshot:
    """A writable copy of the demo cluster snapshot."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(DEMO, root, symlinks=True)

    def items(self, name: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads((self.root / "api" / f"{name}.json").read_text())["items"]
        return items

    def write(self, name: str, items: list[dict[str, Any]]) -> None:
        (self.root / "api" / f"{name}.json").write_text(json.dumps({"kind": "List", "items": items}))

    def pod(self, name: str) -> dict[str, Any]:
        return next(p for p in self.items("pods") if p["metadata"]["name"] == name)

    def edit_pods(self, *, drop: tuple[str, ...] = (), add: tuple[dict[str, Any], ...] = ()) -> None:
        self.write("pods", [p for p in self.items("pods") if p["metadata"]["name"] not in drop] + list(add))

    def sweep(self, *args: str) -> tuple[int, dict[str, Any]]:
        return run_json("--snapshot", str(self.root), "sweep", *args)


def ids(doc: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["id"] == rule]


@pytest.fixture
def snap(tmp_path: Path) -> Snapshot:
    return Snapshot(tmp_path / "cluster")


def test_demo_cluster_is_consistent_with_its_api(snap: Snapshot) -> None:
    code, doc = snap.sweep()
    assert code == 0
    assert not [f for f in doc["findings"] if f["id"][:3] == "PA3" or f["id"] in {"PA107", "PA905"}]
    assert doc["api"] == {"origin": f"snapshot {snap.root}/api", "loaded": ["namespaces", "nodes", "pods"],
                          "failed": {}, "configz": ["controlplane", "node01"]}
    # Both kubelets' own word (api/configz/, api/kubelet-pods/) agrees with the files: nothing
    # but the files' folder runs, and every static pod is running, as the kubelet says.
    assert not [f for f in doc["findings"] if f["id"] in {"PA108", "PA109", "PA110"}]
    for node in doc["nodes"]:
        assert node["running_static_pod_path"] == node["static_pod_path"]
        assert {p["state"] for p in node["static_pods"]} == {"running"}
        assert all("kubelet" in p["witnessed_by"] for p in node["static_pods"])


def test_static_pod_without_mirror_pod_is_invisible(snap: Snapshot) -> None:
    snap.edit_pods(drop=("static-greenbox-node01",))
    code, doc = snap.sweep()
    [found] = ids(doc, "PA301")
    assert code == 1  # high
    assert (found["node"], found["path"]) == ("node01", GREENBOX)
    assert "no mirror pod default/static-greenbox-node01" in found["message"]
    assert "no cause visible from here" in found["message"]


def test_no_mirror_pod_because_the_namespace_is_missing(snap: Snapshot) -> None:
    snap.edit_pods(drop=("static-greenbox-node01",))
    snap.write("namespaces", [n for n in snap.items("namespaces") if n["metadata"]["name"] != "default"])
    _, doc = snap.sweep()
    [missing] = ids(doc, "PA301")
    assert "namespace default does not exist (PA304)" in missing["message"]
    [namespace] = ids(doc, "PA304")
    assert namespace["path"] == GREENBOX and "namespace default, which does not exist" in namespace["message"]


def test_no_mirror_pod_because_an_ordinary_pod_holds_the_name(snap: Snapshot) -> None:
    ordinary = copy.deepcopy(snap.pod("static-greenbox-node01"))
    del ordinary["metadata"]["annotations"]["kubernetes.io/config.mirror"]
    ordinary["metadata"]["ownerReferences"] = []
    snap.edit_pods(drop=("static-greenbox-node01",), add=(ordinary,))
    _, doc = snap.sweep()
    [found] = ids(doc, "PA301")
    assert "an ordinary pod already holds the name default/static-greenbox-node01" in found["message"]


def test_no_mirror_pod_because_the_node_is_not_registered(snap: Snapshot) -> None:
    snap.edit_pods(drop=("static-greenbox-node01",))
    snap.write("nodes", [n for n in snap.items("nodes") if n["metadata"]["name"] != "node01"])
    _, doc = snap.sweep()
    [found] = ids(doc, "PA301")
    assert "there is no Node node01 in the API" in found["message"]


def test_orphaned_mirror_pod_and_its_causes(snap: Snapshot) -> None:
    orphan = copy.deepcopy(snap.pod("static-greenbox-node01"))
    orphan["metadata"]["name"] = "old-agent-node01"
    nodes = snap.items("nodes")
    ready = next(c for c in nodes[1]["status"]["conditions"] if c["type"] == "Ready")
    ready["status"] = "Unknown"
    snap.write("nodes", nodes)
    snap.edit_pods(add=(orphan,))
    _, doc = snap.sweep()
    [found] = ids(doc, "PA302")
    assert found["node"] == "node01" and found["path"] == "/etc/just-to-mess-with-you"
    assert "mirror pod default/old-agent-node01 has no manifest in /etc/just-to-mess-with-you" in found["message"]
    assert "node node01 is not Ready (Unknown)" in found["message"]


def test_mirror_pod_from_the_url_source_is_not_orphaned_when_the_node_has_a_url(snap: Snapshot) -> None:
    served = copy.deepcopy(snap.pod("static-greenbox-node01"))
    served["metadata"]["name"] = "from-url-node01"
    served["metadata"]["annotations"]["kubernetes.io/config.source"] = "http"
    snap.edit_pods(add=(served,))
    _, doc = snap.sweep()
    [found] = ids(doc, "PA302")  # node01 has no staticPodURL: the URL cannot explain it
    assert "it may come from the kubelet's staticPodURL (source http)" in found["message"]
    config = snap.root / "nodes/node01/var/lib/kubelet/config.yaml"
    config.write_text(config.read_text() + "staticPodURL: http://10.0.0.5/pods\n")
    _, doc = snap.sweep()
    assert ids(doc, "PA302") == []


def test_crash_looping_mirror_pod(snap: Snapshot) -> None:
    pods = snap.items("pods")
    apiserver = next(p for p in pods if p["metadata"]["name"] == "kube-apiserver-controlplane")
    apiserver["status"]["containerStatuses"][0].update(
        ready=False, restartCount=12, state={"waiting": {"reason": "CrashLoopBackOff"}})
    snap.write("pods", pods)
    _, doc = snap.sweep()
    [found] = ids(doc, "PA303")
    assert found["path"] == "/etc/kubernetes/manifests/kube-apiserver.yaml"
    assert "is CrashLoopBackOff (ready 0/1, 12 restarts)" in found["message"]
    code, shown = run_json("--snapshot", str(snap.root), "find", "kube-apiserver-controlplane")
    assert code == 0
    [match] = shown["matches"]
    assert match["api"]["trouble"] == "CrashLoopBackOff (ready 0/1, 12 restarts)"
    assert [f["id"] for f in shown["findings"]] == ["PA303"]
    text = run("--snapshot", str(snap.root), "find", "kube-apiserver-controlplane").stdout
    assert "0/1 ready, CrashLoopBackOff, 12 restarts" in text and "PA303 medium" in text


@pytest.mark.parametrize(("change", "expected"), [
    (lambda p: p["metadata"].pop("ownerReferences"), "has no Node ownerReference"),
    (lambda p: p["metadata"]["ownerReferences"][0].update(name="controlplane"),
     "is owned by node controlplane while it runs on node01"),
    (lambda p: p["metadata"]["ownerReferences"][0].update(uid="00000000-0000-4000-8000-000000000000"),
     "its ownerReference uid 00000000-0000-4000-8000-000000000000 is not node node01's"),
])
def test_forged_mirror_pods(snap: Snapshot, change: Any, expected: str) -> None:
    forged = copy.deepcopy(snap.pod("static-greenbox-node01"))
    forged["metadata"]["name"] = "kube-proxy-fake-node01"
    forged["metadata"]["namespace"] = "kube-system"
    change(forged)
    snap.edit_pods(add=(forged,))
    code, doc = snap.sweep()
    [found] = ids(doc, "PA305")
    assert code == 1
    assert found["message"].startswith("node01: kube-system/kube-proxy-fake-node01 claims to be a mirror pod but")
    assert expected in found["message"]


def test_live_static_pod_path_differs(snap: Snapshot) -> None:
    configz = snap.root / "api" / "configz"
    configz.mkdir(exist_ok=True)
    (configz / "node01.json").write_text(json.dumps({"kubeletconfig": {"staticPodPath": "/etc/kubernetes/manifests"}}))
    (configz / "controlplane.json").write_text(json.dumps({"kubeletconfig": {
        "staticPodPath": "/etc/kubernetes/manifests/"}}))  # a trailing slash is the same path
    code, doc = snap.sweep()
    [found] = ids(doc, "PA107")
    assert code == 1 and found["node"] == "node01"
    assert found["message"] == ("node01: the running kubelet's staticPodPath is /etc/kubernetes/manifests (configz) "
                                "but its files say /etc/just-to-mess-with-you")
    assert doc["api"]["configz"] == ["controlplane", "node01"]


def test_unreadable_api_list_is_pa905_and_exit_3(snap: Snapshot) -> None:
    (snap.root / "api" / "pods.json").write_text("{not json")
    code, doc = snap.sweep()
    [found] = ids(doc, "PA905")
    assert code == 3
    assert found["node"] == "(api)" and "pods.json: not kubectl JSON" in found["message"]
    assert doc["api"]["loaded"] == ["namespaces", "nodes"] and "pods" in doc["api"]["failed"]


def test_no_api_option_turns_the_checks_off(snap: Snapshot) -> None:
    snap.edit_pods(drop=("static-greenbox-node01",))
    code, doc = snap.sweep("--no-api")
    assert code == 0 and ids(doc, "PA301") == [] and doc["api"] is None


def test_an_unregistered_node_is_one_finding_not_one_per_pod(snap: Snapshot) -> None:
    orphan = copy.deepcopy(snap.pod("static-greenbox-node01"))
    orphan["metadata"]["name"] = "old-agent-node01"
    snap.edit_pods(drop=("static-greenbox-node01",), add=(orphan,))
    snap.write("nodes", [n for n in snap.items("nodes") if n["metadata"]["name"] != "node01"])
    _, doc = snap.sweep()
    [found] = [f for f in doc["findings"] if f["id"] in {"PA301", "PA302"}]  # no PA302: nothing to compare with
    assert found["id"] == "PA301" and found["path"] == "/etc/just-to-mess-with-you"
    assert "1 static pods run with no mirror pod (default/static-greenbox)" in found["message"]


def test_no_kubelet_running_means_nothing_runs_invisibly(snap: Snapshot) -> None:
    snap.edit_pods(drop=("static-greenbox-node01",))
    shutil.rmtree(snap.root / "nodes/node01/proc/1042")  # the kubelet stopped; its unit is still there
    _, doc = snap.sweep()
    assert ids(doc, "PA301") == []


def test_a_manifest_written_a_moment_ago_may_not_have_its_mirror_yet(snap: Snapshot) -> None:
    import time

    snap.edit_pods(drop=("static-greenbox-node01",))
    meta = snap.root / "nodes/node01/podaudit.meta.json"
    doc = json.loads(meta.read_text())
    doc["paths"]["/etc/just-to-mess-with-you/greenbox.yaml"]["mtime"] = time.time() - 5
    meta.write_text(json.dumps(doc))
    _, found = snap.sweep()
    assert ids(found, "PA301") == []


def test_a_pod_still_starting_is_not_unhealthy_yet(snap: Snapshot) -> None:
    from datetime import datetime, timedelta, timezone

    def pending(age: timedelta) -> None:
        pods = snap.items("pods")
        pod = next(p for p in pods if p["metadata"]["name"] == "static-greenbox-node01")
        pod["metadata"]["creationTimestamp"] = (datetime.now(timezone.utc) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
        pod["status"] = {"phase": "Pending", "containerStatuses": [
            {"name": "greenbox", "ready": False, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        snap.write("pods", pods)

    pending(timedelta(seconds=10))
    assert ids(snap.sweep()[1], "PA303") == []
    pending(timedelta(minutes=30))
    [found] = ids(snap.sweep()[1], "PA303")
    assert "is ContainerCreating (ready 0/1)" in found["message"]


def test_a_relative_live_path_is_read_against_the_kubelets_directory(snap: Snapshot) -> None:
    configz = snap.root / "api" / "configz"
    configz.mkdir(exist_ok=True)
    # The kubelet keeps a relative path as given; its working directory (/) makes it absolute.
    (configz / "node01.json").write_text(json.dumps({"kubeletconfig": {"staticPodPath": "etc/just-to-mess-with-you"}}))
    _, doc = snap.sweep()
    assert ids(doc, "PA107") == []


def test_find_reads_the_node_behind_an_ordinary_pod_holding_the_name(snap: Snapshot) -> None:
    ordinary = copy.deepcopy(snap.pod("static-greenbox-node01"))
    del ordinary["metadata"]["annotations"]["kubernetes.io/config.mirror"]
    snap.edit_pods(drop=("static-greenbox-node01",), add=(ordinary,))
    code, doc = run_json("--snapshot", str(snap.root), "find", "static-greenbox-node01")
    assert code == 0 and doc["matches"][0]["manifest_path"] == GREENBOX
    assert [f["id"] for f in doc["findings"]] == ["PA301"]
    assert any("is an ordinary pod, not a mirror pod" in n for n in doc["notes"])


def test_api_options_do_not_mix_with_a_snapshot(snap: Snapshot) -> None:
    proc = run("--snapshot", str(snap.root), "--context", "prod", "sweep")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("podaudit: error: --snapshot carries its own API view (api/); "
                                   "--kubeconfig/--context do not apply")


def test_api_asked_for_by_name_but_no_kubectl_is_pa905(snap: Snapshot, tmp_path: Path) -> None:
    code, doc = run_json("--root", str(snap.root / "nodes/node01"), "--kubeconfig", str(tmp_path / "kc"),
                         "--kubectl", "/nonexistent/kubectl", "sweep")
    assert code == 3
    [found] = ids(doc, "PA905")
    assert found["message"] == ("(api): no API view: /nonexistent/kubectl not found; mirror pods not checked "
                                "(install kubectl, or --no-api) (nodes and pods and namespaces not read)")
