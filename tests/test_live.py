"""`podaudit node` on a live /proc, against real processes running with a kubelet command line.

Each test runs its kubelets and podaudit in a PID namespace of their own with its own /proc
(tests/sandbox.py), so a kubelet running on this machine (a real node, kind, another lab) is
never seen. A decoy kubelet runs on this machine for the whole module to prove it.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.cli_helpers import run
from tests.sandbox import run_isolated

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
CONFIG = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: {path}\n"
NODE = [sys.executable, "-m", "podaudit", "--output", "json", "node"]
DECOY_ARGV = ["kubelet", "--config=/decoy/config.yaml", "--hostname-override=decoy"]


@pytest.fixture(scope="module", autouse=True)
def decoy_kubelet(fake_kubelet_binary):
    """A kubelet of this machine, outside every test's namespace: no test may pick it."""
    decoy = subprocess.Popen(DECOY_ARGV, executable=str(fake_kubelet_binary), stdin=subprocess.DEVNULL)
    try:
        yield decoy
    finally:
        decoy.kill()
        decoy.wait()


def live_node(tmp_path, *kubelets, keep=()):
    """podaudit node beside kubelets ((argv, cwd) each), alone in a PID namespace."""
    run = run_isolated(tmp_path / "ns", kubelets, NODE, keep=[tmp_path, *keep])
    assert run.returncode == 0, run.stderr
    assert "decoy" not in run.stdout
    return run.pids, json.loads(run.stdout)


def test_relative_config_resolves_against_the_process_cwd(tmp_path, fake_kubelet_binary):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests/live.yaml").write_text(POD.format(name="live"))
    (tmp_path / "kubelet.yaml").write_text(CONFIG.format(path="manifests"))
    argv = [str(fake_kubelet_binary), "--config", "kubelet.yaml", "--hostname-override=Live-Node"]
    pids, doc = live_node(tmp_path, (argv, str(tmp_path)), keep=[fake_kubelet_binary.parent])
    assert doc["kubelet"]["pid"] == pids[0]
    assert doc["kubelet"]["argv"] == argv
    assert doc["kubelet"]["cwd"] == str(tmp_path)
    assert doc["kubelet"]["start_time"] is not None
    assert doc["config_file"] == str(tmp_path / "kubelet.yaml")
    assert doc["static_pod_path"] == str(tmp_path / "manifests")
    assert [p["mirror_name"] for p in doc["static_pods"]] == ["live-live-node"]
    assert doc["node"] == "live-node"
    assert not any("kubelet processes" in p for p in doc["problems"])


def test_kubelet_in_another_mount_namespace_is_read_through_its_root(tmp_path, fake_kubelet_binary):
    """Like a kind node: the kubelet's /mnt is a bind mount that podaudit's namespace does not see."""
    inside = tmp_path / "inside"
    (inside / "manifests").mkdir(parents=True)
    (inside / "manifests/hidden.yaml").write_text(POD.format(name="hidden"))
    (inside / "kubelet.yaml").write_text(CONFIG.format(path="/mnt/manifests"))
    binary = tmp_path / "kubelet"
    shutil.copy(fake_kubelet_binary, binary)
    script = f"mount --bind {inside} /mnt && exec {binary} --config=/mnt/kubelet.yaml"
    _, doc = live_node(tmp_path, (["unshare", "--mount", "--propagation", "private", "sh", "-c", script], None))
    assert not os.path.exists("/mnt/kubelet.yaml")  # invisible from here
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


def test_a_kubelet_of_this_machine_is_never_seen(tmp_path, decoy_kubelet):
    """The decoy runs on this machine; the test's own /proc shows no kubelet at all."""
    assert decoy_kubelet.poll() is None
    _, doc = live_node(tmp_path)
    assert doc["kubelet"] is None
    assert any("no kubelet process" in p for p in doc["problems"])


def test_two_kubelets_are_named_not_merged(tmp_path, fake_kubelet_binary):
    (tmp_path / "kubelet.yaml").write_text(CONFIG.format(path="/nonexistent"))
    argv = [str(fake_kubelet_binary), f"--config={tmp_path}/kubelet.yaml"]
    pids, doc = live_node(tmp_path, (argv, None), (argv, None), keep=[fake_kubelet_binary.parent])
    assert doc["kubelet"]["pid"] == min(pids)
    assert any(f"2 kubelet processes; showing pid {doc['kubelet']['pid']}" in p for p in doc["problems"])
    assert any("/nonexistent does not exist" in p for p in doc["problems"])

