"""`podaudit node` on this machine, against a real process running with a kubelet command line."""

import json
import os
import shutil

from tests.cli_helpers import run

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
CONFIG = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: {path}\n"


def live_node_json():
    proc = run("--output", "json", "node")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_relative_config_resolves_against_the_process_cwd(tmp_path, fake_kubelet_binary, processes):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests/live.yaml").write_text(POD.format(name="live"))
    (tmp_path / "kubelet.yaml").write_text(CONFIG.format(path="manifests"))
    kubelet = processes.start([str(fake_kubelet_binary), "--config", "kubelet.yaml",
                               "--hostname-override=Live-Node"], cwd=str(tmp_path))
    doc = live_node_json()
    assert doc["kubelet"]["pid"] == kubelet.pid
    assert doc["kubelet"]["argv"] == [str(fake_kubelet_binary), "--config", "kubelet.yaml",
                                      "--hostname-override=Live-Node"]
    assert doc["kubelet"]["cwd"] == str(tmp_path)
    assert doc["kubelet"]["start_time"] is not None
    assert doc["config_file"] == str(tmp_path / "kubelet.yaml")
    assert doc["static_pod_path"] == str(tmp_path / "manifests")
    assert [p["mirror_name"] for p in doc["static_pods"]] == ["live-live-node"]
    assert doc["node"] == "live-node"


def test_kubelet_in_another_mount_namespace_is_read_through_its_root(tmp_path, fake_kubelet_binary, processes):
    """Like a kind node: the kubelet's /mnt is a bind mount that this namespace does not see."""
    inside = tmp_path / "inside"
    (inside / "manifests").mkdir(parents=True)
    (inside / "manifests/hidden.yaml").write_text(POD.format(name="hidden"))
    (inside / "kubelet.yaml").write_text(CONFIG.format(path="/mnt/manifests"))
    binary = tmp_path / "kubelet"
    shutil.copy(fake_kubelet_binary, binary)
    script = f"mount --bind {inside} /mnt && exec {binary} --config=/mnt/kubelet.yaml"
    processes.start(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    assert not os.path.exists("/mnt/kubelet.yaml")  # invisible from here
    doc = live_node_json()
    assert doc["static_pod_path"] == "/mnt/manifests"
    assert [p["manifest_path"] for p in doc["static_pods"]] == ["/mnt/manifests/hidden.yaml"]


def test_no_kubelet_and_no_unit_is_a_clear_answer(tmp_path):
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/hostname").write_text("bare\n")
    proc = run("--output", "json", "node", "--root", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["kubelet"], doc["argv_source"], doc["path_source"]) == (None, "none", "none")
    assert doc["static_pod_path"] is None and doc["node"] == "bare"
    assert any("no kubelet process" in p for p in doc["problems"])


def test_two_kubelets_are_named_not_merged(tmp_path, fake_kubelet_binary, processes):
    (tmp_path / "kubelet.yaml").write_text(CONFIG.format(path="/nonexistent"))
    first = processes.start([str(fake_kubelet_binary), f"--config={tmp_path}/kubelet.yaml"])
    second = processes.start([str(fake_kubelet_binary), f"--config={tmp_path}/kubelet.yaml"])
    doc = live_node_json()
    assert doc["kubelet"]["pid"] == min(first.pid, second.pid)
    assert any(f"2 kubelet processes; showing pid {doc['kubelet']['pid']}" in p for p in doc["problems"])
    assert any("/nonexistent does not exist" in p for p in doc["problems"])
