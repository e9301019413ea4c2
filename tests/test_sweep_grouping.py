"""Identical nodes are grouped in the sweep table; a node that differs stands alone."""

import shutil
from pathlib import Path

from tests.cli_helpers import run, run_json

DEMO = Path(__file__).parent.parent / "podaudit" / "demo" / "cluster" / "nodes" / "node01"


def test_identical_workers_are_one_row_and_the_odd_one_is_named(tmp_path):
    for name in ("worker-001", "worker-002", "worker-003", "worker-004"):
        root = tmp_path / "nodes" / name
        shutil.copytree(DEMO, root)
        (root / "proc/sys/kernel/hostname").write_text(name + "\n")
    odd = tmp_path / "nodes/worker-004/etc/just-to-mess-with-you/extra.yaml"
    odd.write_text((DEMO / "etc/just-to-mess-with-you/greenbox.yaml").read_text().replace("static-greenbox", "extra"))
    proc = run("--snapshot", str(tmp_path), "sweep")
    assert "worker-001, worker-002, worker-003 (3 nodes) identical" in proc.stdout
    code, doc = run_json("--snapshot", str(tmp_path), "sweep")
    assert code == 0  # drift is medium; the default --fail-on is high
    drift = [f for f in doc["findings"] if f["id"] == "PA503"]
    assert [f["node"] for f in drift] == ["worker-004"]  # drift from the other workers
    assert "default/extra" in drift[0]["message"]


def test_two_nodes_with_one_name_are_refused(tmp_path):
    for folder in ("a", "b"):
        shutil.copytree(DEMO, tmp_path / "nodes" / folder)  # both say hostname node01
    proc = run("--snapshot", str(tmp_path), "sweep")
    assert proc.returncode == 2 and "several nodes report the node name node01" in proc.stderr


def test_the_same_finding_on_several_nodes_is_one_row() -> None:
    from tests.cli_helpers import run

    text = run("--demo", "sweep").stdout
    rows = [line for line in text.splitlines() if "kubelet config file /var/lib/kubelet/config.yaml" in line]
    assert len(rows) == 1 and "controlplane, node01 (2 nodes)" in rows[0]
    assert "controlplane: kubelet config" not in text  # the node's name is in the nodes column instead
