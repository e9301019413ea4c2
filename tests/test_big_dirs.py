"""Hostile sizes in the static pod directory: one huge number, many entries. One bad file is
one rejected file; the rest of the node (and of the sweep) goes on."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli_helpers import run, run_json

FIXTURE = Path(__file__).parent / "fixtures" / "nodes" / "kubeadm-etc"
MANIFESTS = "etc/kubernetes/manifests"
BIG = "9" * 5000
JSON_POD = ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"}, "spec": {"containers": '
            '[{"name": "c", "image": "i", "ports": [{"containerPort": ' + BIG + '}]}]}}')
YAML_POD = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\nspec:\n  containers:\n  - name: c\n    image: i\n"
            "    securityContext:\n      runAsUser: " + BIG + "\n")


def _node(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


def test_a_huge_number_in_a_manifest_is_one_rejected_file(tmp_path: Path) -> None:
    root = _node(tmp_path)
    (root / MANIFESTS / "broken.yaml").write_text("a: [\n")
    code_broken, _ = run_json("--root", str(root), "sweep")
    (root / MANIFESTS / "broken.yaml").unlink()
    (root / MANIFESTS / "big.json").write_text(JSON_POD)
    (root / MANIFESTS / "big2.yaml").write_text(YAML_POD)
    code, doc = run_json("--root", str(root), "sweep")
    assert code == code_broken and not doc["unavailable"]
    [node] = doc["nodes"]
    assert [p["mirror_name"] for p in node["static_pods"]] == ["nginx-proxy-worker-1"]
    found = {f["path"].rsplit("/", 1)[1]: f for f in doc["findings"] if f["id"] == "PA203"}
    assert set(found) == {"big.json", "big2.yaml"}
    assert "5000 digits" in found["big.json"]["message"] and "int32" in found["big.json"]["message"]
    assert "runAsUser" in found["big2.yaml"]["message"] and "int64" in found["big2.yaml"]["message"]


def test_create_from_a_file_with_a_huge_number_is_one_line(tmp_path: Path) -> None:
    root = _node(tmp_path)
    for name, text in (("big.json", JSON_POD), ("big.yaml", YAML_POD)):
        path = tmp_path / name
        path.write_text(text)
        proc = run("--root", str(root), "create", "-f", str(path), "--yes")
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "the kubelet would not run this manifest" in proc.stderr
        # go-yaml keeps a number it cannot hold as a string; JSON quotes the (abridged) literal.
        assert ("5000 digits" if name == "big.json" else "cannot unmarshal string") in proc.stderr
    assert sorted(p.name for p in (root / MANIFESTS).iterdir()) == ["nginx-proxy.yml"]


def test_a_deeply_nested_manifest_costs_no_node_in_a_large_sweep(tmp_path: Path) -> None:
    """From 100 nodes the sweep analyses in worker processes and pickles each NodeView back;
    a manifest nested 900 levels deep (valid YAML; the kubelet drops the unknown field) made
    pickle raise RecursionError and its whole chunk of 10 nodes went unaudited."""
    from podaudit.run.sweep import PROCESS_THRESHOLD

    nodes = tmp_path / "cluster" / "nodes"
    for i in range(PROCESS_THRESHOLD):
        shutil.copytree(FIXTURE, nodes / f"node-{i:03}", symlinks=True)
        (nodes / f"node-{i:03}" / "proc/sys/kernel/hostname").write_text(f"node-{i:03}\n")
    deep = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: deep\nspec:\n  containers:\n  - name: c\n    image: i\n"
            "  x: " + "{a: " * 900 + "1" + "}" * 900 + "\n")
    (nodes / "node-042" / MANIFESTS / "deep.yaml").write_text(deep)
    _, doc = run_json("--snapshot", str(tmp_path / "cluster"), "sweep", "--no-api")
    assert doc["unavailable"] == [] and len(doc["nodes"]) == PROCESS_THRESHOLD
    [node] = [n for n in doc["nodes"] if n["node"] == "node-042"]
    assert sorted(p["name"] for p in node["static_pods"]) == ["deep", "nginx-proxy"]


def _pods(count: int) -> dict[str, str]:
    template = (FIXTURE / MANIFESTS / "nginx-proxy.yml").read_text()
    return {f"/m/pod-{i:05}.yaml": template.replace("name: nginx-proxy\n", f"name: pod-{i}\n", 1)
            for i in range(count)}


def test_an_entry_keeps_only_what_podaudit_reads() -> None:
    from podaudit.kubelet.manifests import read_static_pod_path
    from tests.memnode import mem_node

    extra = ("  - name: x\n    image: i\n    args: [--token=abc]\n    env:\n    - name: A\n      value: secret\n"
             "    - name: B\n      valueFrom: {secretKeyRef: {name: s, key: k}}\n")
    text = _pods(1)["/m/pod-00000.yaml"].replace("  containers:\n", "  containers:\n" + extra)
    node = mem_node({"/m/a.yaml": text, "/m/b.yaml": text.replace("name: pod-0\n", "name: Bad\n", 1)})
    loaded, rejected = read_static_pod_path(node, "/m", "n")[0]
    assert loaded.fate == "loaded" and rejected.fate == "rejected" and rejected.spec is None
    assert loaded.spec is not None
    container = loaded.spec["spec"]["containers"][0]
    # Annotations: only the one validation reads (controller.kubernetes.io/pod-deletion-cost) stays.
    assert not loaded.spec["metadata"].get("annotations") and "args" not in container
    assert container["env"] == [{"name": "A"}, {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s"}}}]
    assert loaded.spec["spec"]["volumes"] == [{"name": "etc-nginx", "hostPath": {"path": "/etc/nginx"}}]


def test_memory_per_entry_is_bounded() -> None:
    """2,000 loaded 1 KB manifests: what the analysis keeps per entry (tracemalloc), beside the
    file's own bytes. It was about 9 KB, most of it the parsed document."""
    import tracemalloc

    from podaudit.kubelet.manifests import read_static_pod_path
    from tests.memnode import mem_node

    node = mem_node(_pods(2000))
    tracemalloc.start()
    try:
        entries, _ = read_static_pod_path(node, "/m", "node-1")
        held = tracemalloc.get_traced_memory()[0] / len(entries)
    finally:
        tracemalloc.stop()
    assert all(e.fate == "loaded" for e in entries)
    assert held < 6000, f"{held:.0f} bytes per entry"


def test_a_crowded_static_pod_folder_is_named_and_every_entry_judged(tmp_path: Path) -> None:
    from podaudit.kubelet.manifests import MANY_ENTRIES

    root = _node(tmp_path)
    for path, text in _pods(MANY_ENTRIES + 1).items():
        (root / MANIFESTS / path.rsplit("/", 1)[1]).write_text(text)
    _, doc = run_json("--root", str(root), "sweep")
    [node] = doc["nodes"]
    assert len(node["static_pods"]) == MANY_ENTRIES + 2
    [note] = [p for p in node["problems"] if "entries" in p]
    assert f"/etc/kubernetes/manifests holds {MANY_ENTRIES + 2} entries (more than {MANY_ENTRIES})" in note
