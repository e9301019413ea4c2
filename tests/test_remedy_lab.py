"""Safe remediation (delete, restore, quarantine list, create) against the SSH lab.

Every check that matters is made on the node itself, over ssh: the bytes (sha256), the mode
and owner (stat), what the watched directory holds. The lab is shared by the module; after
each test the node is put back as it was (greenbox.yaml alone, no quarantine).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from podaudit import __version__
from podaudit.shell import quote
from tests.cli_helpers import run_json
from tests.lab_helpers import running_lab, why_no_lab

WATCHED = "/etc/just-to-mess-with-you"
GREENBOX = f"{WATCHED}/greenbox.yaml"
QUARANTINE = "/var/lib/podaudit/quarantine"
MIRROR = "static-greenbox-node01"
SUDO = ("--user", "auditor", "--sudo")
PODAUDIT = [sys.executable, "-m", "podaudit"]




pytestmark = pytest.mark.skipif(why_no_lab() is not None, reason=str(why_no_lab()))


@dataclass(frozen=True)
class Lab:
    dir: Path
    original: bytes  # greenbox.yaml as the lab made it

    @property
    def ssh_config(self) -> str:
        return str(self.dir / "ssh_config")


def on_node(lab: Lab | Path, script: str, user: str | None = None) -> str:
    """Run a POSIX sh script as root (or ``user``) on node01; its stdout. Fails the test on error."""
    config = lab.ssh_config if isinstance(lab, Lab) else str(lab / "ssh_config")
    argv = ["ssh", "-F", config, *(["-o", f"User={user}"] if user else []), "node01", "sh -s"]
    done = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode("utf-8", "surrogateescape")


def facts(lab: Lab, path: str) -> tuple[str, str]:
    """(sha256, "mode uid gid") of a file on node01."""
    out = on_node(lab, f"sha256sum < {quote(path)}; stat -c '%a %u %g' -- {quote(path)}")
    digest, stat = out.splitlines()
    return digest.split()[0], stat


def exists(lab: Lab, path: str) -> bool:
    p = quote(path)
    return on_node(lab, f"if [ -e {p} ] || [ -L {p} ]; then echo yes; else echo no; fi").strip() == "yes"


def listing(lab: Lab, folder: str = WATCHED) -> set[str]:
    """Exact names in a folder on node01 (newlines and all)."""
    out = on_node(lab, f"cd {quote(folder)} && find . -mindepth 1 -maxdepth 1 -print0")
    return {name[2:] for name in out.split("\0") if name}


def write_file(lab: Lab, path: str, data: bytes, mode: str = "600", owner: str = "0:0") -> None:
    p = quote(path)
    on_node(lab, f"printf '%s' {base64.b64encode(data).decode()} | base64 -d > {p} && chown {owner} {p} "
                 f"&& chmod {mode} {p}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("remedylab"), "greenbox", "127.0.14.10") as (lab_dir, _):
        original = base64.b64decode(on_node(lab_dir, f"base64 < {GREENBOX}"))
        assert b"name: static-greenbox" in original
        yield Lab(lab_dir, original)


@pytest.fixture
def node(lab: Lab) -> Iterator[Lab]:
    """The lab, checked pristine before the test and made pristine again after it."""
    assert listing(lab) == {"greenbox.yaml"}
    assert not exists(lab, QUARANTINE) or listing(lab, QUARANTINE) == set()
    yield lab
    on_node(lab, f"find {WATCHED} -mindepth 1 -delete; rm -rf /var/lib/podaudit")
    write_file(lab, GREENBOX, lab.original)


@dataclass
class User:
    """Where podaudit runs: its own HOME, state dir (change record) and working directory."""

    env: dict[str, str]
    cwd: Path
    state: Path


@pytest.fixture
def user(tmp_path: Path) -> User:
    home, state, cwd = tmp_path / "home", tmp_path / "state", tmp_path / "cwd"
    for d in (home, state, cwd):
        d.mkdir()
    env = {**os.environ, "COLUMNS": "200", "HOME": str(home), "XDG_STATE_HOME": str(state), "KUBECONFIG": ""}
    return User(env, cwd, state)


def podaudit(lab: Lab, who: User, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODAUDIT, *args, "--ssh-config", lab.ssh_config], capture_output=True, text=True,
                          timeout=120, env=who.env, cwd=who.cwd, errors="surrogateescape")


def podaudit_json(lab: Lab, who: User, *args: str) -> tuple[int, dict[str, Any]]:
    """For the Plan and QuarantineList kinds, which the schema does not know yet."""
    proc = podaudit(lab, who, *args, "-o", "json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def delete(lab: Lab, who: User, mirror: str, *extra: str) -> dict[str, Any]:
    code, doc = podaudit_json(lab, who, "delete", mirror, "--nodes", "node01", *SUDO, "--yes", *extra)
    assert code == 0, doc
    assert doc["outcome"] == "done"
    assert doc["quarantine_id"]
    return doc


def restore(lab: Lab, who: User, quarantine_id: str, *extra: str) -> tuple[int, dict[str, Any]]:
    return podaudit_json(lab, who, "restore", quarantine_id, "--yes", *extra)


def held(lab: Lab, quarantine_id: str, index: int) -> str:
    return f"{QUARANTINE}/{quarantine_id}/files/{index}"


def quarantines(lab: Lab, who: User) -> dict[str, dict[str, Any]]:
    code, doc = podaudit_json(lab, who, "quarantine", "list", "node01")
    assert code == 0, doc
    assert doc["kind"] == "QuarantineList"
    return {q["quarantine_id"]: q for q in doc["quarantines"]}


def test_delete_over_sudo_then_restore_is_byte_identical(node: Lab, user: User) -> None:
    on_node(node, f"chown 1234:2345 {GREENBOX} && chmod 640 {GREENBOX}")  # not the defaults: must be kept
    before = facts(node, GREENBOX)
    assert before[1] == "640 1234 2345"

    doc = delete(node, user, MIRROR)
    qid = doc["quarantine_id"]
    [moved] = doc["files"]
    assert (moved["path"], moved["status"]) == (GREENBOX, "moved")
    assert moved["detail"] == f"{before[0]} {before[1]}"

    # On the node: gone from the watched dir, held whole with its mode and owner.
    assert listing(node) == set()
    assert facts(node, held(node, qid, 1)) == before
    journal = json.loads(on_node(node, f"cat {QUARANTINE}/{qid}/journal.json"))
    assert journal["id"] == qid
    assert journal["podaudit"] == __version__
    assert journal["pod"] == {"namespace": "default", "name": "static-greenbox", "mirror_name": MIRROR}
    when = datetime.fromisoformat(journal["time"])
    assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=5)
    [entry] = journal["files"]
    assert entry["path"] == GREENBOX
    assert entry["sha256"] == before[0]
    assert (entry["mode"], entry["uid"], entry["gid"]) == ("0640", 1234, 2345)

    # The local change record.
    records = [json.loads(line) for line in (user.state / "podaudit" / "changes.jsonl").read_text().splitlines()]
    [record] = [r for r in records if r.get("quarantine_id") == qid]
    assert (record["action"], record["node"], record["outcome"]) == ("delete", "node01", "done")
    assert [(f["path"], f["sha256"], f["status"]) for f in record["files"]] == [(GREENBOX, before[0], "moved")]

    # The pod is gone for podaudit too: not found is exit 2.
    gone = podaudit(node, user, "find", MIRROR, "--nodes", "node01", *SUDO)
    assert gone.returncode == 2, gone.stdout + gone.stderr

    # Restore (the node comes from the change record).
    code, back = restore(node, user, qid, *SUDO)
    assert code == 0, back
    assert back["outcome"] == "done"
    assert [f["status"] for f in back["files"]] == ["restored"]
    assert facts(node, GREENBOX) == before
    assert listing(node) == {"greenbox.yaml"}
    assert not exists(node, held(node, qid, 1))

    listed = quarantines(node, user)[qid]
    assert listed["held"] == []
    assert listed["problem"] is None
    table = podaudit(node, user, "quarantine", "list", "node01")
    assert table.returncode == 0, table.stderr
    [line] = [ln for ln in table.stdout.splitlines() if qid in ln]
    assert line.rstrip().endswith("restored")
    assert podaudit(node, user, "find", MIRROR, "--nodes", "node01", *SUDO).returncode == 0


def test_a_bak_twin_is_moved_and_restored_too(node: Lab, user: User) -> None:
    twin = f"{GREENBOX}.bak"
    write_file(node, twin, node.original + b"# the .bak copy\n", mode="644", owner="7:8")  # sorts later: wins
    main, bak = facts(node, GREENBOX), facts(node, twin)
    assert main[0] != bak[0]

    doc = delete(node, user, MIRROR)
    qid = doc["quarantine_id"]
    assert {f["path"]: f["status"] for f in doc["files"]} == {twin: "moved", GREENBOX: "moved"}
    assert listing(node) == set()
    by_path = {f["path"]: f["index"] for f in doc["files"]}
    assert facts(node, held(node, qid, by_path[twin])) == bak
    assert facts(node, held(node, qid, by_path[GREENBOX])) == main

    code, back = restore(node, user, qid, *SUDO)
    assert code == 0, back
    assert {f["path"]: f["status"] for f in back["files"]} == {twin: "restored", GREENBOX: "restored"}
    assert listing(node) == {"greenbox.yaml", "greenbox.yaml.bak"}
    assert facts(node, GREENBOX) == main
    assert facts(node, twin) == bak
    assert quarantines(node, user)[qid]["held"] == []


HOSTILE = {"evil-one": "$(touch pwned).yaml", "evil-two": "evil\ntwo.yaml"}


def no_canary(node: Lab, user: User) -> None:
    assert not any(p.name == "pwned" for p in user.cwd.rglob("*"))
    assert not Path("/tmp/pwned").exists()  # the remote sudo shell starts in /tmp (auditor's home)
    found = on_node(node, "for d in / /root /tmp /var/lib/podaudit; do [ -e \"$d/pwned\" ] && echo \"$d/pwned\"; done;"
                          f" find {WATCHED} /var/lib/podaudit -xdev -name pwned 2>/dev/null; true")
    assert found == ""


def test_hostile_file_names_are_moved_and_restored_exactly(node: Lab, user: User) -> None:
    before = {}
    for pod, name in HOSTILE.items():
        path = f"{WATCHED}/{name}"
        write_file(node, path, node.original.replace(b"name: static-greenbox", f"name: {pod}".encode()), "644")
        before[path] = facts(node, path)
    assert listing(node) == {"greenbox.yaml", *HOSTILE.values()}

    plans, docs = [], []
    for pod in HOSTILE:
        plans.append(podaudit(node, user, "delete", f"{pod}-node01", "--nodes", "node01", *SUDO))  # for people
        docs.append(podaudit_json(node, user, "delete", f"{pod}-node01", "--nodes", "node01", *SUDO, "--yes"))
    no_canary(node, user)  # before anything else: a failed move may still have run the name
    for table in plans:
        assert table.returncode == 0, table.stderr
        assert "evil\ntwo" not in table.stdout  # a newline in a name is never printed raw
    ids = []
    for (code, doc), name in zip(docs, HOSTILE.values(), strict=True):
        assert code == 0, doc
        [moved] = doc["files"]
        assert (moved["path"], moved["status"]) == (f"{WATCHED}/{name}", "moved")
        assert facts(node, held(node, doc["quarantine_id"], 1)) == before[moved["path"]]
        ids.append(doc["quarantine_id"])
    assert listing(node) == {"greenbox.yaml"}

    backs = [restore(node, user, qid) for qid in ids]  # restored by a root login this time (no sudo)
    no_canary(node, user)
    for code, back in backs:
        assert code == 0, back
        assert [f["status"] for f in back["files"]] == ["restored"]
    assert listing(node) == {"greenbox.yaml", *HOSTILE.values()}
    for path, was in before.items():
        assert facts(node, path) == was
    listed = quarantines(node, user)
    assert {listed[q]["journal"]["files"][0]["path"] for q in ids} == set(before)


def _plan_and_change(node: Lab) -> tuple[Any, tuple[str, str]]:
    """A delete plan built from the node as read, then greenbox.yaml changed behind its back."""
    from podaudit.collect.over_ssh import collect_over_ssh, root_shell
    from podaudit.model import InventoryEntry
    from podaudit.remedy.apply import apply
    from podaudit.remedy.plan import delete_plan
    from podaudit.transport import SshOptions
    from podaudit.transport.ssh import load_ssh_config

    options = SshOptions(ssh_config=node.ssh_config, user="auditor")
    config = load_ssh_config(node.ssh_config)
    entry = InventoryEntry("node01")
    view, _, _ = collect_over_ssh(entry, options, True, config)
    [pod] = [p for p in view.static_pods if p.mirror_name == MIRROR]
    plan = delete_plan(view, pod, "/", __version__)
    assert plan.refused is None
    assert [f.sha256 for f in plan.files] == [facts(node, GREENBOX)[0]]

    on_node(node, f"echo '# edited after the plan' >> {GREENBOX}")
    changed = facts(node, GREENBOX)
    with root_shell(entry, options, True, config) as run:
        apply(plan, run)
    return plan, changed


def test_a_file_changed_since_the_plan_is_left_alone(node: Lab) -> None:
    from podaudit.remedy.apply import outcome

    plan, changed = _plan_and_change(node)
    assert plan.applied
    assert [(r.index, r.status) for r in plan.results] == [(1, "changed")]
    assert outcome(plan) != "done"
    assert facts(node, GREENBOX) == changed  # untouched, still in the watched dir
    assert listing(node) == {"greenbox.yaml"}
    assert not exists(node, f"{QUARANTINE}/{plan.quarantine_id}")  # nothing moved: no quarantine kept


def test_quarantine_list_does_not_call_a_never_moved_file_restored(node: Lab, user: User) -> None:
    _plan_and_change(node)
    table = podaudit(node, user, "quarantine", "list", "node01")
    assert table.returncode == 0, table.stderr
    assert "restored" not in table.stdout, table.stdout


def test_create_places_a_valid_manifest_and_never_overwrites(node: Lab, user: User) -> None:
    web = f"{WATCHED}/web.yaml"
    made = podaudit(node, user, "create", "web", "--image", "nginx:1.27", "--port", "80", "--nodes", "node01",
                    *SUDO, "--yes")
    assert made.returncode == 0, made.stdout + made.stderr
    assert listing(node) == {"greenbox.yaml", "web.yaml"}  # no temporary file left behind
    digest, stat = facts(node, web)
    assert stat == "600 0 0"
    pod = yaml.safe_load(on_node(node, f"cat {web}"))
    [container] = pod["spec"]["containers"]
    assert (pod["metadata"]["name"], container["image"]) == ("web", "nginx:1.27")
    assert container["ports"] == [{"containerPort": 80}]

    code, found = run_json("find", "web-node01", "--nodes", "node01", "--ssh-config", node.ssh_config, *SUDO,
                           env=user.env)
    assert code == 0, found
    [match] = found["matches"]
    assert (match["node"], match["manifest_path"]) == ("node01", web)

    inode = on_node(node, f"stat -c '%i %Y' {web}")
    again = podaudit(node, user, "create", "web", "--image", "busybox", "--nodes", "node01", *SUDO, "--yes")
    assert again.returncode == 2, again.stdout + again.stderr
    assert facts(node, web) == (digest, stat)
    assert on_node(node, f"stat -c '%i %Y' {web}") == inode

    bad = user.cwd / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: BadName\nspec:\n  containers:\n"
                   "  - name: c\n    image: busybox\n")
    refused = podaudit(node, user, "create", "-f", str(bad), "--nodes", "node01", *SUDO, "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert listing(node) == {"greenbox.yaml", "web.yaml"}
    assert not exists(node, f"{WATCHED}/BadName.yaml")


def test_restore_never_overwrites_a_different_file(node: Lab, user: User) -> None:
    before = facts(node, GREENBOX)
    qid = delete(node, user, MIRROR)["quarantine_id"]
    write_file(node, GREENBOX, b"someone else's file\n", mode="644", owner="5:5")
    other = facts(node, GREENBOX)

    code, doc = restore(node, user, qid, *SUDO)
    assert code == 3, doc
    assert doc["outcome"] != "done"
    assert [f["status"] for f in doc["files"]] == ["conflict"]
    assert facts(node, GREENBOX) == other  # untouched
    assert facts(node, held(node, qid, 1)) == before  # and the held copy kept
    assert quarantines(node, user)[qid]["held"] == [1]

    # An identical file there: "same", and the held copy is let go.
    write_file(node, GREENBOX, node.original)
    code, doc = restore(node, user, qid, *SUDO)
    assert code == 0, doc
    assert [f["status"] for f in doc["files"]] == ["same"]
    assert facts(node, GREENBOX) == before
    assert not exists(node, held(node, qid, 1))


def test_restore_same_bytes_but_other_mode_is_not_silently_accepted(node: Lab, user: User) -> None:
    before = facts(node, GREENBOX)
    qid = delete(node, user, MIRROR)["quarantine_id"]
    write_file(node, GREENBOX, node.original, mode="666", owner="1000:1000")  # world-writable manifest

    _, doc = restore(node, user, qid, *SUDO)
    [status] = [f["status"] for f in doc["files"]]
    # Either the recorded mode and owner are put back, or the file is reported and the held copy kept.
    assert facts(node, GREENBOX) == before or (status == "conflict" and exists(node, held(node, qid, 1)))


def test_a_hostile_static_pod_path_is_never_run_on_the_node(node: Lab, user: User) -> None:
    config = "/var/lib/kubelet/config.yaml"
    original = base64.b64decode(on_node(node, f"base64 < {config}"))
    assert f"staticPodPath: {WATCHED}".encode() in original
    mode_owner = on_node(node, f"stat -c '%a %u:%g' {config}").split()
    hostile = '/etc/x"; }; touch /tmp/pwned; { echo "'
    write_file(node, config, original.replace(f"staticPodPath: {WATCHED}".encode(),
                                              b"staticPodPath: " + json.dumps(hostile).encode()), *mode_owner)
    try:
        made = podaudit(node, user, "create", "web", "--image", "nginx:1.27", "--nodes", "node01", *SUDO, "--yes")
        no_canary(node, user)
        assert made.returncode == 3, made.stdout + made.stderr  # the folder is not there: one failed line
        assert f"{hostile} is not a folder on the node" in made.stdout
    finally:
        write_file(node, config, original, *mode_owner)


def test_a_file_changed_between_its_check_and_its_move_is_held_as_moved(node: Lab, user: User) -> None:
    """mv on the node rewrites the file first, as another writer would exactly between the check
    and the move: the result is 'changed', the quarantine holds what moved, restore brings it back."""
    from podaudit.collect.over_ssh import collect_over_ssh, root_shell
    from podaudit.model import InventoryEntry
    from podaudit.remedy.apply import apply, outcome
    from podaudit.remedy.plan import delete_plan
    from podaudit.transport import SshOptions
    from podaudit.transport.ssh import load_ssh_config

    wrap = "/var/lib/podaudit-test-bin"  # /var is the node's own (an overlay); /run is not
    real_mv = on_node(node, f"mkdir -p {wrap} && command -v mv").strip()
    write_file(node, f"{wrap}/mv", f'#!/bin/sh\n[ "$2" != {GREENBOX} ] || echo "# edited as it moved" >> "$2"\n'
                                   f'exec {quote(real_mv)} "$@"\n'.encode(), mode="755")
    try:
        options = SshOptions(ssh_config=node.ssh_config, user="auditor")
        config, entry = load_ssh_config(node.ssh_config), InventoryEntry("node01")
        view, _, _ = collect_over_ssh(entry, options, True, config)
        [pod] = [p for p in view.static_pods if p.mirror_name == MIRROR]
        plan = delete_plan(view, pod, "/", __version__)
        plan.script = f"PATH={wrap}:$PATH\n".encode() + plan.script
        with root_shell(entry, options, True, config) as run:
            apply(plan, run)
    finally:
        on_node(node, f"rm -rf {wrap}")
    assert [(r.index, r.status) for r in plan.results] == [(1, "changed")] and outcome(plan) == "partial"
    moved = facts(node, held(node, plan.quarantine_id or "", 1))
    assert on_node(node, f"tail -n 1 {held(node, plan.quarantine_id or '', 1)}") == "# edited as it moved\n"
    listed = quarantines(node, user)[plan.quarantine_id or ""]
    assert (listed["held"], listed["moved"], listed["journal"]["files"][0]["sha256"]) == ([1], [1], moved[0])
    code, back = restore(node, user, plan.quarantine_id or "", "--node", "node01", *SUDO)
    assert code == 0 and [f["status"] for f in back["files"]] == ["restored"], back
    assert facts(node, GREENBOX)[0] == moved[0]
