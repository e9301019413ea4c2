"""Second look at issue 11: what a hostile tree, journal or node can still do (regressions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podaudit.remedy.plan import delete_plan, restore_plan
from podaudit.remedy.quarantine import list_script, parse_list
from tests.test_shell_quoting import DASH, dash, host, node_tree, run_plan

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="real owners (chown 0:0) need root"),
              pytest.mark.skipif(DASH is None, reason="needs dash")]


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    (tmp_path / "cwd").mkdir()
    return tmp_path / "cwd"


def test_restore_under_root_never_writes_through_a_planted_temporary_name(tmp_path: Path, cwd: Path) -> None:
    """The restore's temporary name is known to whoever holds the tree (it is the quarantine
    ID): a link planted there must not make cp write the held file over a host file."""
    root, _, view, pod = node_tree(tmp_path, "plain")
    plan = delete_plan(view, pod, str(root), "test")
    assert sorted(run_plan(plan.script, cwd)) == [(1, "moved"), (2, "moved")]
    victim = tmp_path / "host-file"
    victim.write_text("the operator's file\n")
    victim.chmod(0o644)
    [found] = parse_list(dash(list_script(str(root)), cwd))
    assert found.journal is not None
    for f in plan.files:
        parent = os.path.dirname(host(root, f.path))
        os.symlink(victim, os.path.join(parent, f".podaudit-restore-{f.index}-{plan.quarantine_id}"))
    back = restore_plan(found.journal, found.held, str(root))
    run_plan(back.script, cwd)
    assert victim.read_text() == "the operator's file\n"
    assert oct(victim.stat().st_mode & 0o7777) == oct(0o644)


def test_restore_never_makes_a_set_id_file_from_a_journal(tmp_path: Path, cwd: Path) -> None:
    """A journal (read from the node or tree) that asks for mode 4755 root:root would make
    root's restore plant a set-user-ID root program of the tree's choosing."""
    root, _, view, pod = node_tree(tmp_path, "plain")
    plan = delete_plan(view, pod, str(root), "test")
    assert sorted(run_plan(plan.script, cwd)) == [(1, "moved"), (2, "moved")]
    [found] = parse_list(dash(list_script(str(root)), cwd))
    assert found.journal is not None
    for entry in found.journal["files"]:
        entry.update(mode="6755", uid=0, gid=0)
    back = restore_plan(found.journal, found.held, str(root))
    run_plan(back.script, cwd)
    for f in plan.files:
        if f.kind == "file":
            assert os.stat(host(root, f.path)).st_mode & 0o7000 == 0


def test_restore_under_root_never_follows_a_link_in_the_quarantine(tmp_path: Path, cwd: Path) -> None:
    """The quarantine folder is part of the tree: its files/ as a link to a host folder must
    not make root's restore copy a host file into the tree and remove it from the host."""
    import hashlib
    import json

    root, folder, _, _ = node_tree(tmp_path, "plain")
    outside = tmp_path / "host-folder"
    outside.mkdir()
    (outside / "1").write_text("the operator's secret\n")
    held = root / "var/lib/podaudit/quarantine/20260101T000000Z-evil-abcdef"
    held.mkdir(parents=True)
    (held / "files").symlink_to(outside)
    journal = {"id": held.name, "node": "worker-1", "pod": {"namespace": "default", "name": "evil",
                                                             "mirror_name": "evil-worker-1"},
               "files": [{"index": 1, "path": f"{folder}/stolen.yaml", "kind": "file", "mode": "0644", "uid": 0,
                          "gid": 0, "sha256": hashlib.sha256(b"the operator's secret\n").hexdigest()}]}
    (held / "journal.json").write_text(json.dumps(journal))
    found = parse_list(dash(list_script(str(root)), cwd))
    if found and found[0].journal is not None and found[0].held:
        run_plan(restore_plan(found[0].journal, found[0].held, str(root)).script, cwd)
    assert (outside / "1").read_text() == "the operator's secret\n"
    assert not host(root, f"{folder}/stolen.yaml").exists()


def test_a_huge_journal_under_root_is_one_line_not_all_the_memory(tmp_path: Path) -> None:
    """A tree's quarantine journal of 2 GiB (sparse: it costs its author nothing) is read
    by the local runner within the same cap as a node's answer over SSH."""
    import resource
    import subprocess

    from tests.cli_helpers import PODAUDIT

    root, _, _, _ = node_tree(tmp_path, "plain")
    held = root / "var/lib/podaudit/quarantine/20260101T000000Z-evil-abcdef"
    (held / "files").mkdir(parents=True)
    with open(held / "journal.json", "wb") as handle:
        handle.truncate(2 << 30)

    def small() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    proc = subprocess.run([*PODAUDIT, "--root", str(root), "quarantine", "list"], capture_output=True, text=True,
                          timeout=120, preexec_fn=small, check=False)
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode in (0, 1, 2, 3), proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 1, proc.stderr[-2000:]


def _run_small(args: list[str], limit: int = 1 << 30) -> tuple[int, str]:
    """podaudit with at most ``limit`` bytes of address space: memory a hostile input makes
    it take shows up as a MemoryError, not a slow machine."""
    import resource
    import subprocess

    from tests.cli_helpers import PODAUDIT

    def small() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run([*PODAUDIT, *args], capture_output=True, text=True, timeout=180, preexec_fn=small,
                          check=False)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("kind", ["gnu-long-name", "pax-header"])
def test_a_bundle_whose_header_inflates_to_gigabytes_is_one_line(kind: str, tmp_path: Path) -> None:
    """A small gzip whose first tar header (a GNU long name, a pax header) declares 3 GiB of
    text: tarfile reads a header's text whole, before podaudit sees any member (a real bomb
    has the 3 GiB too; tarfile asks for all of it at once either way)."""
    import gzip
    import tarfile

    header = tarfile.TarInfo("././@LongLink" if kind == "gnu-long-name" else "././@PaxHeader")
    header.type = tarfile.GNUTYPE_LONGNAME if kind == "gnu-long-name" else tarfile.XHDTYPE
    header.size = 3 << 30
    bundle = tmp_path / "bomb.tar.gz"
    with gzip.open(bundle, "wb", compresslevel=1) as gz:
        gz.write(header.tobuf(format=tarfile.GNU_FORMAT)[:512])
        block = (b"9 a=b\n" * 200_000)[: 1 << 20]
        for _ in range(16):
            gz.write(block)
        gz.write(b"\0" * 1024)
    status, stderr = _run_small(["analyze", str(bundle)], 2 << 30)
    assert "Error" not in stderr and "Traceback" not in stderr, stderr[-2000:]
    assert status == 2 and len(stderr.strip().splitlines()) == 1 and "bomb.tar.gz" in stderr, stderr[-2000:]


@pytest.mark.parametrize(("namespace", "name"), [("default", "--server=https://attacker.invalid"),
                                                 ("default", "-o=go-template-file=/etc/shadow"),
                                                 ("--all-namespaces", "evil-worker-1")])
def test_a_journal_names_no_kubectl_option_when_restore_waits(namespace: str, name: str, tmp_path: Path) -> None:
    """restore waits for the mirror pod the journal names (the journal is the node's word):
    a name that is a kubectl flag would send the user's credentials to another server."""
    from podaudit.api.kubectl import pod_exists
    from podaudit.transport.kubectl import KubectlOptions

    seen = tmp_path / "argv"
    stub = tmp_path / "kubectl"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {seen}\necho '{{}}'\n")
    stub.chmod(0o755)
    problems: list[str] = []
    answer = pod_exists(KubectlOptions(kubectl=str(stub)), namespace, name, problems)
    words = seen.read_text().splitlines() if seen.exists() else []
    assert not any(w.startswith(("--server", "-o=go", "--all-namespaces")) for w in words), words
    assert answer is None and len(problems) == 1, problems


def test_a_node_name_with_an_address_never_reaches_match_exec(tmp_path: Path) -> None:
    """paramiko runs ssh_config's ``Match exec`` with %h (the name looked up) put into
    ``sh -c`` unquoted, as OpenSSH does: a name from a nodes JSON that holds shell code must be
    refused even when the entry carries an address (it is still the name that is looked up)."""
    import json
    import subprocess

    from tests.cli_helpers import PODAUDIT

    nodes = {"kind": "List", "items": [{"kind": "Node", "metadata": {"name": "w$(touch CANARY)"},
                                        "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.1"}]}}]}
    (tmp_path / "nodes.json").write_text(json.dumps(nodes))
    (tmp_path / "ssh_config").write_text('Match exec "test %h = never"\n  User nobody\n')
    (tmp_path / "known_hosts").write_text("")
    proc = subprocess.run([*PODAUDIT, "--inventory", str(tmp_path / "nodes.json"), "--ssh-config",
                           str(tmp_path / "ssh_config"), "--known-hosts", str(tmp_path / "known_hosts"), "--no-api",
                           "--timeout", "2", "sweep"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          check=False)
    assert not (tmp_path / "CANARY").exists(), proc.stderr
    assert "not a host name" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_a_known_hosts_line_with_a_negative_rsa_exponent_is_skipped_as_ssh_does(tmp_path: Path) -> None:
    """One malformed line (an RSA key whose exponent is a negative mpint) is skipped, as
    OpenSSH skips it: it must not fail every node with "OverflowError"."""
    import base64
    import struct

    import paramiko

    from podaudit.transport.hostkeys import judge, load_known_hosts

    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    bad = string(b"ssh-rsa") + string(b"\xff") + string(b"\x00" + b"\x0f" * 64)
    key = paramiko.PKey.from_type_string("ssh-ed25519", string(b"ssh-ed25519") + string(b"\x01" * 32))
    known = tmp_path / "known_hosts"
    known.write_text(f"192.0.2.1 ssh-rsa {base64.b64encode(bad).decode()}\n"
                     f"192.0.2.1 ssh-ed25519 {base64.b64encode(key.asbytes()).decode()}\n")
    entries = load_known_hosts([str(known)])
    assert judge("192.0.2.1", key, entries)[0] == "known"


def test_create_under_root_never_writes_or_chmods_through_a_planted_temporary_name(
        tmp_path: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tree can hold links at many of create's temporary names (".podaudit-create-" and 6
    random hex digits); noclobber lets the shell write through a link to a device, and chmod
    follows it: a link to /dev/null would leave this machine's /dev/null mode 600."""
    import stat

    from podaudit.remedy import plan as plans
    from podaudit.remedy.create import create_plan, run_manifest

    monkeypatch.setattr(plans.secrets, "token_hex", lambda n: "ab" * n)  # the name the tree guessed
    root, folder, view, _ = node_tree(tmp_path, "plain")
    device = tmp_path / "host-null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    device.chmod(0o666)
    for size in range(1, 17):
        os.symlink(device, host(root, f"{folder}/.podaudit-create-{'ab' * size}"))
    plan = create_plan(view, run_manifest("web", "busybox:1.37", None, None, []), str(root))
    run_plan(plan.script, cwd)
    assert stat.S_IMODE(os.stat(device).st_mode) == 0o666
    assert not host(root, f"{folder}/web.yaml").is_symlink()
