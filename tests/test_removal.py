"""The printed removal commands, run for real: the right files move, nothing else runs.

The commands name node paths (/etc/kubernetes/manifests, /var/lib/podaudit): they run in a
private mount namespace where those paths are this test's directories, with ``ssh`` and
``sudo`` stubs that just run the command here.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.cli_helpers import run

FIXTURE = Path(__file__).parent / "fixtures" / "nodes" / "messy-dir"
MANIFESTS = "etc/kubernetes/manifests"
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\nspec:\n  containers:\n  - name: c\n    image: i\n"
STUBS = {
    "sudo": '#!/bin/sh\nexec "$@"\n',
    "ssh": '#!/bin/sh\n[ "$1" = "--" ] && shift\nshift\nexec /bin/sh -c "$1"\n',
}


@pytest.fixture
def lab():
    top = Path(tempfile.mkdtemp(prefix="podaudit-removal-"))
    root = top / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    (top / "bin").mkdir()
    for name, text in STUBS.items():
        (top / "bin" / name).write_text(text)
        (top / "bin" / name).chmod(0o755)
    (top / "quarantine").mkdir()
    yield top, root
    shutil.rmtree(top)


def run_commands(top: Path, root: Path, commands: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the commands where the node paths are this lab's folders (a private mount namespace)."""
    script = "\n".join([
        "set -e",
        "mount -t tmpfs tmpfs /etc && mkdir -p /etc/kubernetes/manifests",
        f"mount --bind {root / MANIFESTS} /etc/kubernetes/manifests",
        f"mkdir -p /var/lib/podaudit && mount --bind {top / 'quarantine'} /var/lib/podaudit",
        f"export PATH={top / 'bin'}:$PATH",
        *[c for c in commands if not c.startswith("kubectl ")],
    ])
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          cwd=top, capture_output=True, text=True, timeout=60)


def removal(pod: str, root: Path) -> list[str]:
    proc = run("--output", "json", "find", pod, "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    [match] = json.loads(proc.stdout)["matches"]
    return match["remove"]


def quarantined(top: Path) -> dict[str, bytes]:
    [folder] = list((top / "quarantine/quarantine").iterdir())
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_bak_twin_moves_with_its_original(lab):
    top, root = lab
    before = {n: (root / MANIFESTS / n).read_bytes() for n in ("kube-apiserver.yaml", "kube-apiserver.yaml.bak")}
    proc = run_commands(top, root, removal("kube-apiserver-messy-cp", root))
    assert proc.returncode == 0, proc.stderr
    assert quarantined(top) == before
    assert not any((root / MANIFESTS / n).exists() for n in before)
    assert (root / MANIFESTS / "etcd.yaml").exists()


@pytest.mark.parametrize("name", ["$(touch pwned).yaml", "a\rb.yaml", "x\x1b[8mhidden.yaml", "new\nline.yaml",
                                  "quote'and\"dq `tick`.yaml", "-rf.yaml"])
def test_hostile_names_move_exactly_and_run_nothing(lab, name):
    top, root = lab
    for existing in (root / MANIFESTS).glob("$(touch*"):
        existing.unlink()
    (root / MANIFESTS / name).write_text(POD.format("victim"))
    (root / MANIFESTS / "ab.yaml").write_text(POD.format("bystander"))
    proc = run_commands(top, root, removal("victim-messy-cp", root))
    assert proc.returncode == 0, proc.stderr
    assert quarantined(top) == {name: POD.format("victim").encode()}
    assert not (root / MANIFESTS / name).exists()
    assert (root / MANIFESTS / "ab.yaml").exists()
    assert not list(top.rglob("pwned")) and not os.path.exists("pwned")


def test_control_characters_are_shown_escaped(lab):
    _, root = lab
    (root / MANIFESTS / "a\rb.yaml").write_text(POD.format("victim"))
    proc = run("node", "--root", str(root))
    assert "a\\x0db.yaml" in proc.stdout and "a\rb" not in proc.stdout
