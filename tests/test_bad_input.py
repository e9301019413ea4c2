"""Bad input on real files: junk, huge, loops, unreadable, hostile names. Never a traceback."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.cli_helpers import run

FIXTURE = Path(__file__).parent / "fixtures" / "nodes" / "messy-dir"
MANIFESTS = "etc/kubernetes/manifests"
NOBODY = 65534


@pytest.fixture
def messy_root():
    """messy-dir plus what git cannot carry, in a directory an unprivileged user can read."""
    top = Path(tempfile.mkdtemp(prefix="podaudit-messy-"))
    top.chmod(0o755)
    root = top / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    manifests = root / MANIFESTS
    (manifests / "junk.bin").write_bytes(bytes(range(256)) * 64)
    with open(manifests / "huge.yaml", "wb") as handle:
        handle.truncate(20 * 1024 * 1024)
    os.symlink("loop-b.yaml", manifests / "loop-a.yaml")
    os.symlink("loop-a.yaml", manifests / "loop-b.yaml")
    (manifests / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: secret\nspec:\n  containers:\n  - name: c\n    image: i\n")
    (manifests / "secret.yaml").chmod(0)
    (root / "opt/pods").mkdir(parents=True)
    (root / "opt/pods/linked.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: linked\nspec:\n  containers:\n  - name: c\n    image: i\n")
    os.symlink("/opt/pods/linked.yaml", manifests / "linked.yaml")
    yield root
    shutil.rmtree(top)


def entries_by_name(doc):
    return {e["path"].rsplit("/", 1)[1]: e for e in doc["entries"]}


def test_every_bad_entry_is_data_not_a_crash(messy_root):
    proc = run("--output", "json", "node", "--root", str(messy_root))
    assert proc.returncode == 0, proc.stderr
    entries = entries_by_name(json.loads(proc.stdout))
    assert entries["junk.bin"]["fate"] == "rejected" and "UTF-8" in entries["junk.bin"]["reason"]
    assert entries["huge.yaml"]["fate"] == "rejected" and "too large" in entries["huge.yaml"]["reason"]
    assert entries["loop-a.yaml"]["reason"] == "symbolic link loop"
    assert entries["linked.yaml"]["fate"] == "loaded"
    assert entries["linked.yaml"]["target"] == "/opt/pods/linked.yaml"  # inside the root, not this machine
    assert entries["secret.yaml"]["fate"] == "loaded"  # root reads a mode-000 file


def test_unreadable_file_as_unprivileged_user(messy_root):
    proc = run("--output", "json", "node", "--root", str(messy_root), user=NOBODY)
    assert proc.returncode == 3, proc.stderr  # some of the node could not be audited
    doc = json.loads(proc.stdout)
    entry = entries_by_name(doc)["secret.yaml"]
    assert entry["fate"] == "unknown"  # the kubelet (root) reads it; we could not
    assert "permission denied" in entry["reason"]
    assert any("secret.yaml" in reason for reason in doc["incomplete"])


def test_table_output_survives_everything(messy_root):
    proc = run("node", "--root", str(messy_root))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "huge.yaml" in proc.stdout and "symbolic link loop" in proc.stdout


def test_unreadable_twin_withholds_the_removal_plan(messy_root):
    """As nobody, a mode-600 .bak twin could be the file the kubelet really runs."""
    bak = messy_root / MANIFESTS / "kube-apiserver.yaml.bak"
    bak.chmod(0o600)
    proc = run("--output", "json", "find", "kube-apiserver-messy-cp", "--root", str(messy_root), user=NOBODY)
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    [match] = doc["matches"]
    assert match["manifest_path"].endswith("/kube-apiserver.yaml")  # all we could see
    assert match["remove"] == []
    reasons = doc["incomplete"][0]["reasons"]
    assert any("kube-apiserver.yaml.bak" in r for r in reasons)
    text = run("find", "kube-apiserver-messy-cp", "--root", str(messy_root), user=NOBODY)
    assert "another file may define this pod too" in text.stdout and "sudo mv" not in text.stdout
