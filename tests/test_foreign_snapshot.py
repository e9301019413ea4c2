"""A cluster snapshot written by someone else, by hand: only the documented minimum."""

import json

from tests.cli_helpers import run, run_json

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "agent", "namespace": "ops"},
       "spec": {"containers": [{"name": "agent", "image": "registry.example/agent:1"}]}}


def make_snapshot(top):
    node = top / "nodes" / "ip-10-1-2-3.ec2.internal"
    (node / "proc/4242").mkdir(parents=True)
    # Bottlerocket-style: space-separated value, extension-less YAML config.
    argv = ["/usr/bin/kubelet", "--cloud-provider", "external", "--config", "/etc/kubernetes/kubelet/config",
            "--hostname-override", "ip-10-1-2-3.ec2.internal"]
    (node / "proc/4242/cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (node / "etc/kubernetes/kubelet").mkdir(parents=True)
    (node / "etc/kubernetes/kubelet/config").write_text(
        "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"
        "staticPodPath: /etc/kubernetes/static-pods/\n")
    (node / "etc/kubernetes/static-pods").mkdir()
    (node / "etc/kubernetes/static-pods/agent.json").write_text(json.dumps(POD))
    (top / "api").mkdir()
    (top / "api/pods.json").write_text(json.dumps({"items": [
        {"metadata": {"name": "agent-ip-10-1-2-3.ec2.internal", "namespace": "ops",
                      "annotations": {"kubernetes.io/config.mirror": "abc"}},
         "spec": {"nodeName": "ip-10-1-2-3.ec2.internal"}, "status": {"phase": "Pending"}}]}))


def test_find_on_a_hand_made_snapshot(tmp_path):
    make_snapshot(tmp_path)
    code, doc = run_json("--snapshot", str(tmp_path), "find", "agent-ip-10-1-2-3.ec2.internal")
    assert code == 0
    [match] = doc["matches"]
    assert match["manifest_path"] == "/etc/kubernetes/static-pods/agent.json"
    assert match["static_pod_path"] == "/etc/kubernetes/static-pods/"  # as configured
    assert match["namespace"] == "ops" and match["api"]["status"] == "Pending"


def test_node_on_a_hand_made_snapshot_without_stat_or_meta(tmp_path):
    make_snapshot(tmp_path)
    code, doc = run_json("--snapshot", str(tmp_path), "node", "ip-10-1-2-3.ec2.internal")
    assert code == 0
    assert doc["kubelet"]["start_time"] is None  # no proc/<pid>/stat: unknown, not invented
    assert doc["hostname"] is None and doc["node"] == "ip-10-1-2-3.ec2.internal"
    # The space-separated "--config /etc/..." form, then the extension-less YAML's line 3.
    assert doc["provenance"][1]["what"] == "argv[3] --config /etc/kubernetes/kubelet/config"
    assert doc["provenance"][-1] == {"what": "staticPodPath: /etc/kubernetes/static-pods/ (--config file)",
                                     "source": "/etc/kubernetes/kubelet/config", "line": 3}


def test_broken_api_json_is_one_note_and_the_node_side_still_answers(tmp_path):
    make_snapshot(tmp_path)
    (tmp_path / "api/pods.json").write_text("{not json")
    proc = run("--snapshot", str(tmp_path), "find", "agent-ip-10-1-2-3.ec2.internal")
    assert proc.returncode == 0, proc.stderr
    assert "not kubectl JSON" in proc.stdout
    assert "/etc/kubernetes/static-pods/agent.json" in proc.stdout


def node_with_pod(top, node, pod_name):
    root = top / "nodes" / node
    (root / "proc/7").mkdir(parents=True)
    (root / "proc/7/cmdline").write_bytes(b"/usr/bin/kubelet\0--pod-manifest-path=/etc/kubernetes/manifests\0")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/hostname").write_text(node + "\n")
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    pod = {**POD, "metadata": {"name": pod_name}}
    (root / "etc/kubernetes/manifests/p.json").write_text(json.dumps(pod))


def test_ambiguous_suffixes_read_every_candidate(tmp_path):
    """Nodes 'node' and 'a-node' both fit 'static-a-node'; without an API both are read."""
    node_with_pod(tmp_path, "node", "static-a")
    node_with_pod(tmp_path, "a-node", "static")
    node_with_pod(tmp_path, "other", "static-a-node")
    code, doc = run_json("--snapshot", str(tmp_path), "find", "static-a-node")
    assert code == 0
    assert sorted(c["node"] for c in doc["candidates"]) == ["a-node", "node"]
    assert sorted((m["node"], m["name"]) for m in doc["matches"]) == [("a-node", "static"), ("node", "static-a")]
    assert any("no API view" in n for n in doc["notes"])
