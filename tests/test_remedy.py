"""delete, restore, quarantine list and create on real files under --root: real modes, owners,
links and hostile names, run by the real command (the SSH lab and kubectl debug are in
test_remedy_lab.py and test_kubectl_debug.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from podaudit.shell import quote
from tests.cli_helpers import SCHEMA, run

FIXTURE = Path(__file__).parent / "fixtures" / "nodes" / "kubeadm-etc"
MANIFESTS = "etc/kubernetes/manifests"
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.37\n"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners other than our own need root")


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of a kubeadm worker (node name worker-1), and a cwd and state folder of its own."""
    root = tmp_path / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    # Real modes and owners only: no snapshot side file saying otherwise.
    (root / "podaudit.meta.json").unlink(missing_ok=True)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return root


def podaudit(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    import jsonschema

    proc = run("--root", str(root), "-o", "json", *args)
    assert proc.stdout, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    return proc.returncode, doc


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def facts(path: Path) -> tuple[str, int, int, int]:
    st = path.lstat()
    return sha(path), st.st_mode & 0o7777, st.st_uid, st.st_gid


def manifest(root: Path, name: str, pod: str, mode: int = 0o600, owner: tuple[int, int] = (0, 0)) -> Path:
    path = root / MANIFESTS / name
    path.write_text(POD.format(pod))
    path.chmod(mode)
    os.chown(path, *owner)
    return path


def test_delete_then_restore_keeps_bytes_mode_and_owner(node: Path, tmp_path: Path) -> None:
    path = node / MANIFESTS / "nginx-proxy.yml"
    path.chmod(0o640)
    os.chown(path, 1234, 5678)
    before = facts(path)
    code, plan = podaudit(node, "delete", "nginx-proxy-worker-1")
    assert code == 0 and not plan["applied"] and path.exists()  # a plan only
    code, done = podaudit(node, "delete", "nginx-proxy-worker-1", "--yes")
    assert code == 0 and done["outcome"] == "done"
    assert not path.exists()
    folder = node / "var/lib/podaudit/quarantine" / done["quarantine_id"]
    assert facts(folder / "files" / "1") == before
    assert done["files"][0]["detail"] == f"{before[0]} 640 1234 5678"
    journal = json.loads((folder / "journal.json").read_text())
    assert journal["files"][0] == {
        "index": 1, "path": "/etc/kubernetes/manifests/nginx-proxy.yml", "kind": "file", "sha256": before[0],
        "link": None, "mode": "0640", "uid": 1234, "gid": 5678, "size": (folder / "files" / "1").stat().st_size}
    assert journal["podaudit"] and journal["time"] and journal["node"] == "worker-1"
    [record] = (tmp_path / "state/podaudit/changes.jsonl").read_text().splitlines()
    assert json.loads(record)["quarantine_id"] == done["quarantine_id"]
    _, held = podaudit(node, "quarantine", "list")
    assert [(q["quarantine_id"], q["held"]) for q in held["quarantines"]] == [(done["quarantine_id"], [1])]
    code, back = podaudit(node, "restore", done["quarantine_id"], "--yes")
    assert code == 0 and back["files"][0]["status"] == "restored"
    assert facts(path) == before
    assert list(path.parent.iterdir()) == [path]  # no temporary file left
    _, held = podaudit(node, "quarantine", "list")
    assert held["quarantines"][0]["held"] == []


def test_a_bak_twin_goes_with_its_original(node: Path) -> None:
    original = node / MANIFESTS / "nginx-proxy.yml"
    twin = node / MANIFESTS / "nginx-proxy.yml.bak"  # sorts last: the kubelet runs this one
    shutil.copy2(original, twin)
    code, done = podaudit(node, "delete", "nginx-proxy-worker-1", "--yes")
    assert code == 0
    assert [(f["path"], f["status"]) for f in done["files"]] == [
        ("/etc/kubernetes/manifests/nginx-proxy.yml.bak", "moved"), ("/etc/kubernetes/manifests/nginx-proxy.yml",
                                                                    "moved")]
    assert list((node / MANIFESTS).iterdir()) == []
    assert podaudit(node, "restore", done["quarantine_id"], "--yes")[0] == 0
    assert sorted(p.name for p in (node / MANIFESTS).iterdir()) == ["nginx-proxy.yml", "nginx-proxy.yml.bak"]


@pytest.mark.parametrize("name", ["$(touch pwned).yaml", "evil\nname.yaml", "`touch pwned`;'\".yaml",
                                  "caf\udce9.yaml"])
def test_hostile_file_names_are_moved_exactly_and_never_run(node: Path, tmp_path: Path, name: str) -> None:
    raw = os.fsencode(name)
    path = node / MANIFESTS / os.fsdecode(raw)
    manifest(node, os.fsdecode(raw), "evil", 0o600)
    before = facts(path)
    code, done = podaudit(node, "delete", "evil-worker-1", "--yes")
    assert code == 0, done
    assert not path.exists()
    assert [f["path"] for f in done["files"]] == [f"/etc/kubernetes/manifests/{name}"]
    code, _ = podaudit(node, "restore", done["quarantine_id"], "--yes")
    assert code == 0 and facts(path) == before
    for where in (tmp_path / "cwd", node, node / MANIFESTS, Path("/root"), Path.cwd()):
        assert not (where / "pwned").exists()


def test_a_symlinked_manifest_moves_as_a_link(node: Path) -> None:
    (node / "srv").mkdir()
    (node / "srv/pod.yaml").write_text(POD.format("linked"))
    (node / MANIFESTS / "linked.yaml").symlink_to("/srv/pod.yaml")
    code, done = podaudit(node, "delete", "linked-worker-1", "--yes")
    assert code == 0 and done["files"][0]["kind"] == "link"
    assert not os.path.lexists(node / MANIFESTS / "linked.yaml") and (node / "srv/pod.yaml").exists()
    assert podaudit(node, "restore", done["quarantine_id"], "--yes")[0] == 0
    assert os.readlink(node / MANIFESTS / "linked.yaml") == "/srv/pod.yaml"


def test_a_file_changed_after_the_plan_is_left_alone(node: Path) -> None:
    from podaudit.collect.local import LocalNode, NodeHandle
    from podaudit.kubelet.resolve import analyze_node
    from podaudit.remedy.apply import apply, on_node, outcome
    from podaudit.remedy.plan import delete_plan

    local = LocalNode(str(node), label="worker-1")
    view = analyze_node(local.snapshot, local)
    [pod] = view.static_pods
    plan = delete_plan(view, pod, str(node), "test")
    path = node / MANIFESTS / "nginx-proxy.yml"
    path.write_text(path.read_text() + "# edited by someone else\n")
    edited = facts(path)
    with on_node(NodeHandle("worker-1", str(node)), sudo=False) as run_script:
        apply(plan, run_script)
    assert [(r.index, r.status) for r in plan.results] == [(1, "changed")]
    assert outcome(plan) == "failed"
    assert facts(path) == edited


def test_restore_never_overwrites_a_different_file(node: Path) -> None:
    path = node / MANIFESTS / "nginx-proxy.yml"
    _, done = podaudit(node, "delete", "nginx-proxy-worker-1", "--yes")
    path.write_text("someone put a new file here\n")
    code, back = podaudit(node, "restore", done["quarantine_id"], "--yes")
    assert code == 3 and back["files"][0]["status"] == "conflict"
    assert path.read_text() == "someone put a new file here\n"
    held = node / "var/lib/podaudit/quarantine" / done["quarantine_id"] / "files/1"
    assert held.exists()  # still held
    shutil.copy2(held, path)
    code, back = podaudit(node, "restore", done["quarantine_id"], "--yes")
    assert code == 0 and back["files"][0]["status"] == "same"


def test_create_places_a_valid_pod_where_the_kubelet_looks(node: Path) -> None:
    code, plan = podaudit(node, "create", "web", "--image", "nginx:1.27", "--port", "80", "--", "--v=2")
    assert code == 0 and not plan["applied"] and plan["mirror_name"] == "web-worker-1"
    assert not (node / MANIFESTS / "web.yaml").exists()
    code, done = podaudit(node, "create", "web", "--image", "nginx:1.27", "--port", "80", "--yes", "--", "--v=2")
    assert code == 0 and done["outcome"] == "done"
    path = node / MANIFESTS / "web.yaml"
    assert facts(path)[1:] == (0o600, 0, 0)
    assert sorted(p.name for p in path.parent.iterdir()) == ["nginx-proxy.yml", "web.yaml"]  # no temp left
    code, found = podaudit(node, "find", "web-worker-1")
    assert code == 0 and found["matches"][0]["manifest_path"] == "/etc/kubernetes/manifests/web.yaml"
    proc = run("--root", str(node), "create", "web", "--image", "other:1", "--yes")
    assert proc.returncode == 2 and "already has default/web" in proc.stderr
    assert "nginx:1.27" in path.read_text()  # an existing identity is refused, the file untouched


def test_create_from_a_file_and_refusals(node: Path, tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.format("Upper"))
    proc = run("--root", str(node), "create", "-f", str(pod), "--yes")
    assert proc.returncode == 2 and "the kubelet would not run this manifest" in proc.stderr
    pod.write_text(POD.format("fromfile"))
    code, _ = podaudit(node, "create", "-f", str(pod), "--yes")
    assert code == 0 and (node / MANIFESTS / "fromfile.yaml").read_bytes() == pod.read_bytes()
    config = node / "var/lib/kubelet/config.yaml"
    config.write_text("\n".join(line for line in config.read_text().splitlines() if "staticPodPath" not in line))
    proc = run("--root", str(node), "create", "x", "--image", "i", "--yes")
    assert proc.returncode == 2 and "no staticPodPath" in proc.stderr and "restart the kubelet" in proc.stderr
    assert sorted(p.name for p in (node / MANIFESTS).iterdir()) == ["fromfile.yaml", "nginx-proxy.yml"]


def test_the_demo_shows_a_plan_but_changes_nothing() -> None:
    proc = run("--demo", "delete", "static-greenbox-node01")
    assert proc.returncode == 0 and "mv -- /etc/just-to-mess-with-you/greenbox.yaml" in proc.stdout
    proc = run("--demo", "delete", "static-greenbox-node01", "--yes")
    assert proc.returncode == 2 and "this is a snapshot" in proc.stdout


def test_a_partial_delete_keeps_what_moved_and_says_what_never_did(node: Path) -> None:
    from podaudit.collect.local import LocalNode, NodeHandle
    from podaudit.kubelet.resolve import analyze_node
    from podaudit.remedy.apply import apply, on_node, outcome
    from podaudit.remedy.plan import delete_plan

    twin = node / MANIFESTS / "nginx-proxy.yml.bak"
    shutil.copy2(node / MANIFESTS / "nginx-proxy.yml", twin)
    local = LocalNode(str(node), label="worker-1")
    view = analyze_node(local.snapshot, local)
    [pod] = view.static_pods
    plan = delete_plan(view, pod, str(node), "test")
    twin.write_text(twin.read_text() + "# edited\n")
    with on_node(NodeHandle("worker-1", str(node)), sudo=False) as run_script:
        apply(plan, run_script)
    assert outcome(plan) == "partial"
    assert [(r.index, r.status) for r in plan.results] == [(1, "changed"), (2, "moved")]
    _, held = podaudit(node, "quarantine", "list")
    [entry] = held["quarantines"]
    assert (entry["held"], entry["moved"]) == ([2], [2])
    text = run("--root", str(node), "quarantine", "list").stdout
    assert "nginx-proxy.yml.bak  never moved" in text and "nginx-proxy.yml  held" in text


def test_under_a_root_a_link_is_followed_inside_the_root_never_out_of_it(node: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (node / "var/lib").mkdir(parents=True, exist_ok=True)
    (node / "var/lib/podaudit").symlink_to(outside)  # read by this machine's kernel, it leads out of the tree
    code, done = podaudit(node, "delete", "nginx-proxy-worker-1", "--yes")
    assert code == 0 and done["files"][0]["status"] == "moved"
    assert list(outside.iterdir()) == []  # as chroot would: the link's target is inside the tree
    held = node / str(outside).lstrip("/") / "quarantine" / done["quarantine_id"] / "files/1"
    assert held.is_file() and done["files"][0]["destination"] == f"{outside}/quarantine/{done['quarantine_id']}/files/1"
    _, listed = podaudit(node, "quarantine", "list")
    assert [q["held"] for q in listed["quarantines"]] == [[1]]
    assert podaudit(node, "restore", done["quarantine_id"], "--yes")[0] == 0
    assert (node / MANIFESTS / "nginx-proxy.yml").is_file() and list(outside.iterdir()) == []


def _deeper(node: Path, tmp_path: Path, static_pod_path: str) -> Path:
    """The node's tree at tmp_path/a/node, so "$R"/etc/kubernetes/../../../.. is tmp_path (this
    machine's kernel would take '..' out of the tree), with this staticPodPath."""
    root = tmp_path / "a" / "node"
    shutil.copytree(node, root, symlinks=True)
    config = root / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text().replace("staticPodPath: /etc/kubernetes/manifests",
                                                 f"staticPodPath: {static_pod_path}"))
    (tmp_path / "outside").mkdir()
    return root


def test_create_with_dotdot_in_the_static_pod_path_writes_nothing_outside_the_root(node: Path, tmp_path: Path) -> None:
    root = _deeper(node, tmp_path, "/etc/kubernetes/../../../../outside")
    proc = run("--root", str(root), "create", "web", "--image", "nginx:1.27", "--yes")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "/outside is not a folder on the node" in proc.stdout  # the folder as chroot finds it: one line
    assert list((tmp_path / "outside").iterdir()) == []
    (root / "outside").mkdir()
    code, done = podaudit(root, "create", "web", "--image", "nginx:1.27", "--yes")
    assert code == 0 and done["files"][0]["path"] == "/outside/web.yaml"
    assert (root / "outside/web.yaml").is_file() and list((tmp_path / "outside").iterdir()) == []


@pytest.mark.parametrize("how", ["dotdot", "link"])
def test_delete_through_dotdot_or_a_link_moves_no_file_outside_the_root(node: Path, tmp_path: Path, how: str) -> None:
    root = _deeper(node, tmp_path, "/etc/kubernetes/../../../../outside" if how == "dotdot" else
                   "/etc/kubernetes/manifests")
    if how == "link":
        shutil.rmtree(root / MANIFESTS)
        (root / MANIFESTS).symlink_to("../../../../outside")  # leads to tmp_path/outside from this machine
    (root / "outside").mkdir()
    inside, host = root / "outside/pod.yaml", tmp_path / "outside/pod.yaml"
    for path in (inside, host):  # the same bytes: the plan's check passes wherever the script looks
        path.write_text(POD.format("pod"))
    code, done = podaudit(root, "delete", "pod-worker-1", "--yes")
    assert code == 0 and [(f["path"], f["status"]) for f in done["files"]] == [("/outside/pod.yaml", "moved")]
    assert host.read_text() == POD.format("pod") and not inside.exists()
    if how == "link":  # the kubelet lists the dotdot path cleaned already (filepath.Join): /outside
        assert "is /outside/pod.yaml inside --root" in done["files"][0]["why"]
    assert podaudit(root, "restore", done["quarantine_id"], "--yes")[0] == 0 and inside.is_file()


def test_a_path_that_cannot_be_followed_inside_the_root_is_refused_in_one_line(node: Path, tmp_path: Path) -> None:
    (node / "etc/loop").symlink_to("/etc/loop")
    config = node / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text().replace("/etc/kubernetes/manifests", "/etc/loop/manifests"))
    proc = run("--root", str(node), "create", "web", "--image", "nginx:1.27", "--yes")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert "/etc/loop/manifests cannot be followed inside --root" in line and "symbolic link loop" in line


def test_a_file_changed_between_its_check_and_its_move_is_held_as_moved(node: Path, tmp_path: Path) -> None:
    path = node / MANIFESTS / "nginx-proxy.yml"
    path.chmod(0o640)
    # Another writer, exactly between the check and the move: mv itself rewrites the file first.
    wrap = tmp_path / "bin"
    wrap.mkdir()
    (wrap / "mv").write_text(f'#!/bin/sh\n[ "$2" != "$PODAUDIT_TEST_VICTIM" ] || printf \'# edited\\n\' >> "$2"\n'
                             f'exec {quote(shutil.which("mv") or "mv")} "$@"\n')
    (wrap / "mv").chmod(0o755)
    env = {"PATH": f"{wrap}:{os.environ['PATH']}", "PODAUDIT_TEST_VICTIM": str(path)}
    proc = run("--root", str(node), "-o", "json", "delete", "nginx-proxy-worker-1", "--yes", env=env)
    done = json.loads(proc.stdout)
    assert proc.returncode == 3 and done["files"][0]["status"] == "changed" and done["outcome"] == "partial", done
    held = node / "var/lib/podaudit/quarantine" / done["quarantine_id"] / "files/1"
    assert not path.exists() and held.read_text().endswith("# edited\n")
    assert f"sha256 {sha(held)}" in done["files"][0]["detail"]
    _, listed = podaudit(node, "quarantine", "list")
    [entry] = listed["quarantines"]
    assert (entry["held"], entry["moved"], entry["journal"]["files"][0]["sha256"]) == ([1], [1], sha(held))
    bytes_moved = held.read_bytes()
    code, back = podaudit(node, "restore", done["quarantine_id"], "--yes")
    assert code == 0 and back["files"][0]["status"] == "restored"
    assert path.read_bytes() == bytes_moved and path.stat().st_mode & 0o777 == 0o640


def test_a_journal_cannot_send_a_restore_elsewhere_and_a_changed_held_copy_stays(node: Path, tmp_path: Path) -> None:
    _, done = podaudit(node, "delete", "nginx-proxy-worker-1", "--yes")
    folder = node / "var/lib/podaudit/quarantine" / done["quarantine_id"]
    journal = json.loads((folder / "journal.json").read_text())
    original = journal["files"][0]["path"]
    journal["files"][0]["path"] = "/../../../../../../" + str(tmp_path / "escaped")
    (folder / "journal.json").write_text(json.dumps(journal))
    proc = run("--root", str(node), "restore", done["quarantine_id"], "--yes")
    assert proc.returncode == 2 and "holds no files" in proc.stdout
    assert not (tmp_path / "escaped").exists()
    journal["files"][0]["path"] = original
    (folder / "journal.json").write_text(json.dumps(journal))
    (folder / "files/1").write_text("# not the file that was put aside\n")
    code, back = podaudit(node, "restore", done["quarantine_id"], "--yes")
    assert code == 3 and back["files"][0]["status"] == "changed"
    assert not (node / MANIFESTS / "nginx-proxy.yml").exists()


def test_quarantine_list_survives_odd_names_in_a_quarantine(node: Path) -> None:
    _, done = podaudit(node, "delete", "nginx-proxy-worker-1", "--yes")
    (node / "var/lib/podaudit/quarantine" / done["quarantine_id"] / "files/a b").write_text("")
    _, held = podaudit(node, "quarantine", "list")
    assert [(q["quarantine_id"], q["held"]) for q in held["quarantines"]] == [(done["quarantine_id"], [1])]


def test_file_names_are_never_read_as_markup(node: Path) -> None:
    shutil.move(node / MANIFESTS / "nginx-proxy.yml", node / MANIFESTS / "a[conceal]b.yml")
    text = run("--root", str(node), "delete", "nginx-proxy-worker-1").stdout
    assert "a[conceal]b.yml" in text
