"""Identical nodes are grouped in the sweep table; a node that differs stands alone."""

import shutil
from pathlib import Path

from tests.cli_helpers import run

DEMO = Path(__file__).parent.parent / "podaudit" / "demo" / "cluster" / "nodes" / "node01"


def test_identical_workers_are_one_row_and_the_odd_one_is_named(tmp_path):
    for name in ("worker-001", "worker-002", "worker-003", "worker-004"):
        root = tmp_path / "nodes" / name
        shutil.copytree(DEMO, root)
        (root / "proc/sys/kernel/hostname").write_text(name + "\n")
    odd = tmp_path / "nodes/worker-004/etc/just-to-mess-with-you/extra.yaml"
    odd.write_text((DEMO / "etc/just-to-mess-with-you/greenbox.yaml").read_text().replace("static-greenbox", "extra"))
    proc = run("--snapshot", str(tmp_path), "sweep")
    assert "worker-001..worker-003 (3 nodes) identical" in proc.stdout
    assert "PA503" in proc.stdout and "worker-004" in proc.stdout  # drift from the other workers
