"""Every script podaudit builds, fed the worst strings a node can hold, and really run by dash.

Each hostile string goes into a staticPodPath, a manifest, file and link names, a journal, a
quarantine ID, the gather script's paths and the kubectl debug container's argv. Each script
runs with ``dash`` against a tree under tmp_path (R is that tree, as with --root): no canary file
may ever appear, and the tree must change exactly where the plan says and nowhere else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from podaudit.collect.local import LocalNode
from podaudit.kubelet.resolve import NodeView, StaticPod, analyze_node
from podaudit.remedy.create import create_plan, run_manifest
from podaudit.remedy.plan import delete_plan, restore_plan
from podaudit.remedy.quarantine import list_script, parse_list
from podaudit.remedy.script import Result, parse_results
from podaudit.shell import display, join, printf_word, quote

FIXTURE = Path(__file__).parent / "fixtures" / "nodes" / "kubeadm-etc"
REPO = Path(__file__).parent.parent
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: evil\nspec:\n  containers:\n  - name: c\n    image: busybox:1.37\n"
QUARANTINE = "var/lib/podaudit/quarantine"
HOSTILE = {
    "double-quote": 'a"b',
    "single-quote": "a'b",
    "command-substitution": "$(touch CANARY)",
    "backticks": "`touch CANARY`",
    "semicolon": "x;touch CANARY",
    "and-and": "x&&touch CANARY",
    "newlines": "x\ntouch CANARY\n",
    "backslashes": "a\\b\\",
    "star": "*",
    "leading-dash": "-rf",
    "not-utf-8": os.fsdecode(b"caf\xe9\xff"),
    "breaks-out-of-double-quotes": '"; }; touch CANARY; { echo "',
    "breaks-out-of-single-quotes": "'; touch CANARY; echo '",
    "printf-directives": "%s%n%b\\n",
    "parameters": "$R${HOME}${x:-y}",
    "pipe-and-redirect": "|touch CANARY>CANARY",
    "blanks": "a \tb",
}
CASES = pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
DASH = shutil.which("dash")
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="real owners (chown 0:0) need root"),
              pytest.mark.skipif(DASH is None, reason="needs dash")]


def dash(script: bytes, cwd: Path, path: str | None = None) -> bytes:
    proc = subprocess.run([DASH or "dash", "-s"], input=script, capture_output=True, cwd=cwd, timeout=60, check=False,
                          env={"PATH": path or os.environ["PATH"], "LC_ALL": "C"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def run_plan(script: bytes, cwd: Path) -> list[tuple[int, str]]:
    out = dash(script, cwd)
    assert out.startswith(b"PODAUDIT-GATHER remedy\n"), out
    return [(r.index, r.status) for r in parse_results(out)]


def state(root: Path) -> dict[bytes, tuple[str, int, bytes]]:
    """Every name under root: its kind, mode and bytes (a link's text)."""
    found: dict[bytes, tuple[str, int, bytes]] = {}
    for folder, dirs, files in os.walk(os.fsencode(root)):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, os.fsencode(root))
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode), b"")
            else:
                found[rel] = ("file", stat.S_IMODE(st.st_mode), Path(os.fsdecode(path)).read_bytes())
    return found


def no_canary(tmp_path: Path) -> None:
    assert [p for p in tmp_path.rglob("*") if p.name == "CANARY"] == []
    assert list((tmp_path / "cwd").iterdir()) == []


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    (tmp_path / "cwd").mkdir()
    return tmp_path / "cwd"


def usable_in_config(hostile: str) -> bool:
    """A staticPodPath written in YAML is text, and glob characters make the kubelet list it
    differently: such a string goes into file names only."""
    try:
        hostile.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(c in hostile for c in "*?[\\")


def node_tree(tmp_path: Path, hostile: str) -> tuple[Path, str, NodeView, StaticPod]:
    """A kubeadm worker whose staticPodPath, manifest file name and link name and text hold
    ``hostile``; the pod is defined by a file and by a link (the link loses and is shadowed)."""
    root = tmp_path / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    (root / "podaudit.meta.json").unlink(missing_ok=True)
    folder = f"/etc/k8s {hostile}" if usable_in_config(hostile) else "/etc/k8s plain"
    config = root / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text().replace("staticPodPath: /etc/kubernetes/manifests",
                                                 f"staticPodPath: {json.dumps(folder)}"))
    where = Path(os.fsdecode(os.fsencode(root) + os.fsencode(folder)))
    where.mkdir(parents=True)
    (where / f"{hostile}.yaml").write_text(POD)
    (where / f"{hostile}.yaml").chmod(0o640)
    (root / "srv").mkdir()
    (root / "srv" / f"{hostile}.pod").write_text(POD)
    (where / f"0 {hostile}.yaml").symlink_to(f"/srv/{hostile}.pod")
    local = LocalNode(str(root), label="worker-1")
    view = analyze_node(local.snapshot, local)
    [pod] = view.static_pods
    assert {pod.manifest_path, *pod.shadowed_paths} == {f"{folder}/{hostile}.yaml", f"{folder}/0 {hostile}.yaml"}
    return root, folder, view, pod


def host(root: Path, node_path: str) -> Path:
    return Path(os.fsdecode(os.fsencode(root) + os.fsencode(node_path)))


@CASES
def test_each_form_stands_for_exactly_its_bytes(hostile: str, tmp_path: Path, cwd: Path) -> None:
    raw = os.fsencode(hostile)
    assert dash(f"printf '%s' {quote(hostile)}".encode("utf-8", "surrogateescape"), cwd) == raw
    assert dash(f"printf '%s|' {join([hostile, hostile])}".encode("utf-8", "surrogateescape"), cwd) == raw + b"|" + \
        raw + b"|"
    word = printf_word(hostile)
    assert word.isascii() and dash(f"printf {word}".encode(), cwd) == raw
    shown = subprocess.run(["bash", "-c", f"printf '%s' {display(hostile)}".encode("utf-8", "surrogateescape")],
                           capture_output=True, cwd=cwd, check=True)
    assert shown.stdout == raw and display(hostile).isprintable()
    no_canary(tmp_path)


@CASES
@pytest.mark.parametrize("exists", [True, False], ids=["folder", "missing-folder"])
def test_create_writes_the_manifest_and_nothing_else(hostile: str, exists: bool, tmp_path: Path, cwd: Path) -> None:
    root, _, view, _ = node_tree(tmp_path, "plain")
    folder = f"/etc/{hostile}"  # given as the node says it, not read from YAML: any bytes at all
    if exists:
        host(root, folder).mkdir()
    view = dataclasses.replace(view, static_pod_path=dataclasses.replace(view.static_pod_path, value=folder))
    manifest = run_manifest("web", "busybox:1.37", None, None, [hostile if usable_in_config(hostile) else "x"])
    before = state(root)
    plan = create_plan(view, manifest, str(root))
    results = run_plan(plan.script, cwd)
    after = state(root)
    if exists:
        assert results == [(1, "created")]
        added = os.fsencode(folder[1:] + "/web.yaml")
        assert after.pop(added) == ("file", 0o600, manifest)
    else:
        assert results == [(1, "failed")]
    assert after == before
    no_canary(tmp_path)


@CASES
def test_delete_list_and_restore_touch_exactly_the_named_files(hostile: str, tmp_path: Path, cwd: Path) -> None:
    root, _, view, pod = node_tree(tmp_path, hostile)
    before = state(root)
    original = dict(before)
    plan = delete_plan(view, pod, str(root), "test")
    assert plan.refused is None
    assert sorted(run_plan(plan.script, cwd)) == [(1, "moved"), (2, "moved")]
    moved = state(root)
    held = QUARANTINE + "/" + (plan.quarantine_id or "")
    for f in plan.files:
        assert moved.pop(os.fsencode(f"{held}/files/{f.index}")) == before[os.fsencode(f.path[1:])]
        del before[os.fsencode(f.path[1:])]
    assert {k for k in moved if k not in before} == {os.fsencode(p) for p in (
        "var/lib/podaudit", QUARANTINE, held, f"{held}/files", f"{held}/journal.json", f"{held}/outcome")}
    assert {k: v for k, v in moved.items() if k in before} == before
    [found] = parse_list(dash(list_script(str(root)), cwd))
    assert found.journal is not None and found.held == {1, 2} and found.moved == {1, 2}
    assert sorted(f["path"] for f in found.journal["files"]) == sorted(f.path for f in plan.files)
    assert parse_list(dash(list_script(str(root), hostile), cwd)) == []  # an ID is one word, never code
    back = restore_plan(found.journal, found.held, str(root))
    assert sorted(run_plan(back.script, cwd)) == [(1, "restored"), (2, "restored")]
    restored = state(root)
    assert {k: v for k, v in restored.items() if k in original} == original  # byte for byte, mode for mode
    no_canary(tmp_path)


@CASES
def test_a_link_changed_as_it_moved_is_journaled_with_its_exact_text(hostile: str, tmp_path: Path, cwd: Path) -> None:
    root, _, view, pod = node_tree(tmp_path, hostile)
    plan = delete_plan(view, pod, str(root), "test")
    link = next(f for f in plan.files if f.kind == "link")
    # Between the check and the move, someone points the link elsewhere: mv does it first.
    new_text = f"/srv/{hostile}.other\n{hostile}"
    wrap = tmp_path / "bin"
    wrap.mkdir()
    victim = os.fsencode(host(root, link.path))
    (wrap / "mv").write_bytes(b"#!/bin/sh\n[ \"$2\" != " + os.fsencode(quote(os.fsdecode(victim))) +
                              b" ] || ln -sfn -- " + os.fsencode(quote(new_text)) + b" \"$2\"\n"
                              b"exec " + os.fsencode(quote(shutil.which("mv") or "mv")) + b" \"$@\"\n")
    (wrap / "mv").chmod(0o755)
    out = dash(plan.script, cwd, f"{wrap}:{os.environ['PATH']}")
    statuses = {r.index: r for r in parse_results(out)}
    assert statuses[link.index].status == "changed" and "it changed between its check and the move" in \
        statuses[link.index].detail
    [found] = parse_list(dash(list_script(str(root)), cwd))
    assert found.journal is not None and found.moved == {1, 2}
    entry = next(f for f in found.journal["files"] if f["index"] == link.index)
    assert os.fsencode(entry["link"]) == os.fsencode(new_text) and entry["sha256"] is None
    back = restore_plan(found.journal, found.held, str(root))
    assert sorted(run_plan(back.script, cwd)) == [(1, "restored"), (2, "restored")]
    assert os.readlink(os.fsencode(host(root, link.path))) == os.fsencode(new_text)
    no_canary(tmp_path)


@CASES
def test_the_gather_script_reads_exactly_the_named_paths(hostile: str, tmp_path: Path, cwd: Path) -> None:
    from podaudit.collect.remote import gather_script, parse_gather

    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (a private /proc: the script must not look at this machine's processes)")
    folder = tmp_path / f"g {hostile}"
    folder.mkdir()
    (folder / hostile).write_bytes(os.fsencode(hostile) + b"\n")
    paths, dirs = [f"{folder}/{hostile}", f"{folder}/{hostile}.absent"], [str(folder)]
    # A kubelet pid that no process has (above Linux's pid_max): the script reads the paths as given.
    script = gather_script(paths, dirs, kubelet_pid=4194305)
    proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", DASH or "dash", "-s"], input=script,
                          capture_output=True, cwd=cwd, timeout=60, check=True)
    snapshot = parse_gather(proc.stdout, "x")
    assert snapshot.files[paths[0]].data == os.fsencode(hostile) + b"\n"
    assert snapshot.files[paths[1]].kind == "missing"
    assert snapshot.dirs[str(folder)].names == (hostile,)
    no_canary(tmp_path)


@CASES
def test_the_debug_container_gets_the_script_as_one_word(hostile: str, tmp_path: Path, cwd: Path) -> None:
    from podaudit.transport.debug import container_command, decode_log

    root, _, view, pod = node_tree(tmp_path, hostile)
    plan = delete_plan(view, pod, str(root), "test")
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "chroot").write_text("#!/bin/sh\nshift\nexec \"$@\"\n")  # the container's chroot /host, here
    (fake / "chroot").chmod(0o755)
    (fake / "sh").symlink_to(DASH or "dash")
    argv = container_command(hostile, plan.script)  # even $0 hostile: the wrapper never evaluates it
    proc = subprocess.run(argv, capture_output=True, cwd=cwd, timeout=60, check=False,
                          env={"PATH": f"{fake}:{os.environ['PATH']}"})
    results: list[Result] = parse_results(decode_log("worker-1", proc.stdout))
    assert sorted((r.index, r.status) for r in results) == [(1, "moved"), (2, "moved")]
    assert not host(root, pod.manifest_path).exists()
    no_canary(tmp_path)


def test_only_podaudit_shell_quotes_for_a_shell() -> None:
    """One module owns quoting: elsewhere shlex may only split (ssh_config words)."""
    uses = []
    for path in (REPO / "podaudit").rglob("*.py"):
        if path.name == "shell.py" and path.parent.name == "podaudit":
            continue
        uses += [f"{path.relative_to(REPO)}: {m}" for m in re.findall(r"shlex\.\w+", path.read_text())
                 if m != "shlex.split"]
    assert uses == []


def test_a_nul_byte_never_reaches_a_shell() -> None:
    for form in (quote, printf_word, display):
        with pytest.raises(ValueError):
            form("a\0b")
