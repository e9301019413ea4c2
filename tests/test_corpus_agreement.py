"""The three answers agree with the kubelet: ``node``, ``find`` and ``sweep``, in JSON and text.

Each case is a kubeadm node tree (tests/kubeadm_units.build) with one manifest changed,
read as a snapshot (nodes/cp-1/ plus api/nodes.json, so that the kubelet's release is known)
through the command line. ``want`` is the kubelet's verdict on the manifest: the message it
logs when it refuses the file (``None``: it runs the pod). The corpus files of each class hold
the many rows; these rows prove the verdict reaches every answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.corpus import Case, cases
from tests.kubeadm_units import ETCD, build

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: kube-system\n{meta}spec:\n{spec}"
CONTAINER = "  containers:\n  - name: web\n    image: nginx:1.27\n{more}"
RULE_OF = {"decode": "PA203", "invalid": "PA205"}


def manifest(meta: str = "", spec: str = "", more: str = "") -> str:
    return POD.format(meta=meta, spec=spec + CONTAINER.format(more=more))


ROWS = [
    Case("label-on-is-a-bool", "go-yaml v2 resolve.go resolve L86-197; sigs.k8s.io/json decode.go "
         "UnmarshalTypeError L138-143", ("1.35", manifest(meta="  labels:\n    tier: on\n")),
         ("decode", "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string")),
    Case("host-network-y-is-true", "go-yaml v2 resolve.go resolve L86-197 (y is a bool)",
         ("1.35", manifest(spec="  hostNetwork: y\n")), None),
    Case("env-value-number", "sigs.k8s.io/json decode.go UnmarshalTypeError L138-143",
         ("1.35", manifest(more="    env:\n    - name: PORT\n      value: 8080\n")),
         ("decode", "json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value of type "
                    "string")),
    Case("port-name-too-long", "pkg/apis/core/validation/validation.go validateContainerPorts L2722-2758 (v1.35.4)",
         ("1.35", manifest(more="    ports:\n    - name: metrics-endpoint1\n      containerPort: 9090\n")),
         ("invalid", 'spec.containers[0].ports[0].name: Invalid value: "metrics-endpoint1": must be no more than '
                     "15 characters")),
    Case("mount-without-volume", "pkg/apis/core/validation/validation.go ValidateVolumeMounts L3105-3151 (v1.35.4)",
         ("1.35", manifest(more="    volumeMounts:\n    - name: data\n      mountPath: /data\n")),
         ("invalid", 'spec.containers[0].volumeMounts[0].name: Not found: "data"')),
    Case("env-name-with-space-on-1.34", "pkg/kubelet/config/common.go tryDecodeSinglePod L141-144 "
         "(PodValidationOptions{} before PR #135031); validation.go ValidateEnv L2761-2782",
         ("1.34", manifest(more="    env:\n    - name: MY VAR\n      value: x\n")),
         ("invalid", 'spec.containers[0].env[0].name: Invalid value: "MY VAR"')),
    Case("env-name-with-space-on-1.35", "pkg/kubelet/config/common.go tryDecodeSinglePod L141-144 (1.35: options "
         "from the feature gates, RelaxedEnvironmentVariableValidation GA)",
         ("1.35", manifest(more="    env:\n    - name: MY VAR\n      value: x\n")), None),
]


def snapshot(top: Path, version: str, text: str) -> Path:
    build(top / "nodes" / "cp-1", {"etc/kubernetes/manifests/web.yaml": text, "etc/kubernetes/manifests/etcd.yaml":
                                   ETCD})
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp-1"},
            "status": {"nodeInfo": {"kubeletVersion": f"v{version}.2"},
                       "addresses": [{"type": "Hostname", "address": "cp-1"}]}}
    (top / "api").mkdir()
    (top / "api" / "nodes.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [node]}))
    return top


def podaudit(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "podaudit", *args], capture_output=True, text=True,
                          timeout=120).stdout


@cases(ROWS)
def test_node_find_and_sweep_give_the_kubelets_verdict(case: Case, tmp_path: Path) -> None:
    version, text = case.given
    top = str(snapshot(tmp_path / "s", version, text))
    node = json.loads(podaudit("--output", "json", "node", "--snapshot", top, "cp-1"))
    [entry] = [e for e in node["entries"] if e["path"].endswith("/web.yaml")]
    found = json.loads(podaudit("--output", "json", "find", "web-cp-1", "--snapshot", top))
    sweep = json.loads(podaudit("--output", "json", "sweep", "--snapshot", top))
    findings = [f for f in sweep["findings"] if f["path"].endswith("/web.yaml")]
    if case.want is None:
        assert entry["fate"] == "loaded", entry["reason"]
        assert found["found"] and found["matches"][0]["manifest_path"].endswith("/web.yaml")
        assert not [f for f in findings if f["id"] in RULE_OF.values()]
        return
    code, message = case.want
    assert entry["fate"] == "rejected" and message in entry["reason"]
    assert not found["found"] and any(message in r["reason"] for r in found["refused"])
    assert any(f["id"] == RULE_OF[code] and message in f["message"] for f in findings), findings
    text = podaudit("find", "web-cp-1", "--snapshot", top)
    assert "the kubelet refuses the file" in text and message[:40] in " ".join(text.split())


def test_the_pods_of_a_glob_pattern_are_found_where_the_kubelet_lists_them(tmp_path: Path) -> None:
    """file.go listConfig L120-155 (os.Stat of the literal folder `manifests*`, which exists) then
    extractFromDir L160-196 with Go's filepath.Glob: `manifests*` lists `manifests.bak` too."""
    config = ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
              "staticPodPath: /etc/kubernetes/manifests*\n")
    root = build(tmp_path / "n", {"var/lib/kubelet/config.yaml": config,
                                  "etc/kubernetes/manifests*/.keep": "",
                                  "etc/kubernetes/manifests.bak/web.yaml": manifest()})
    found = json.loads(podaudit("--output", "json", "find", "web-cp-1", "--root", str(root)))
    assert [m["manifest_path"] for m in found["matches"]] == ["/etc/kubernetes/manifests.bak/web.yaml"]
    node: dict[str, Any] = json.loads(podaudit("--output", "json", "node", "--root", str(root)))
    assert any("/etc/kubernetes/manifests.bak" in p for p in node["problems"])
