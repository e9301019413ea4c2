"""podaudit collect -> bundle -> podaudit analyze gives the live report: on every fixture
node (--root) and on live lab nodes over SSH; damaged, forged and hostile bundles are refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cli_helpers import run, run_json
from tests.lab_helpers import running_lab, why_no_lab

FIXTURES = Path(__file__).parent / "fixtures" / "nodes"
DEMO_NODES = Path(__file__).parent.parent / "podaudit" / "demo" / "cluster" / "nodes"


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A sweep report without what differs by design: how and when nodes were read."""
    for node in doc["nodes"]:
        node.pop("collection")
        for pod in node["static_pods"]:
            pod.pop("remove")  # names a quarantine folder after the current time
    return {key: doc[key] for key in ("nodes", "findings", "unavailable", "roles")}


def collect(tmp_path: Path, *args: str, name: str = "bundle.tar.gz") -> Path:
    bundle = tmp_path / name
    proc = run(*args, "collect", "--bundle", str(bundle))
    assert proc.returncode == 0, proc.stderr
    assert bundle.stat().st_mode & 0o077 == 0  # holds manifests and kubelet config: private
    return bundle


@pytest.mark.parametrize("node", sorted(p.name for p in FIXTURES.iterdir()))
def test_a_bundle_of_a_fixture_node_gives_the_same_report(node: str, tmp_path: Path) -> None:
    code, live = run_json("--root", str(FIXTURES / node), "sweep")
    bundle = collect(tmp_path, "--root", str(FIXTURES / node))
    again, analyzed = run_json("analyze", str(bundle))
    assert again == code
    assert comparable(analyzed) == comparable(live)


def test_armored_bundles_in_a_log_and_on_stdin(tmp_path: Path) -> None:
    texts = []
    for node in ("node01", "controlplane"):
        proc = run("--root", str(DEMO_NODES / node), "collect", "--bundle", "-", "--armor")
        assert proc.returncode == 0 and proc.stdout.startswith("-----BEGIN PODAUDIT BUNDLE ")
        texts.append(proc.stdout)
    logs = tmp_path / "logs.txt"  # as kubectl logs of the DaemonSet would interleave them
    logs.write_text("I1126 collecting\n" + texts[0] + "some other line\n" + texts[1])
    code, doc = run_json("analyze", str(logs))
    assert code == 0 and [n["node"] for n in doc["nodes"]] == ["controlplane", "node01"]
    proc = subprocess.run(["podaudit", "analyze", "-", "-o", "json"], input=logs.read_text(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and len(json.loads(proc.stdout)["nodes"]) == 2


def test_analyze_takes_the_api_view_beside_the_bundles(tmp_path: Path) -> None:
    bundle = collect(tmp_path, "--root", str(DEMO_NODES / "node01"))
    api = tmp_path / "api"
    api.mkdir()
    pods = json.loads((DEMO_NODES.parent / "api" / "pods.json").read_text())
    pods["items"] = [p for p in pods["items"] if p["metadata"]["name"] != "static-greenbox-node01"]
    (api / "pods.json").write_text(json.dumps(pods))
    (api / "nodes.json").write_text((DEMO_NODES.parent / "api" / "nodes.json").read_text())
    code, doc = run_json("analyze", str(bundle), "--api", str(api))
    assert code == 1 and [f["id"] for f in doc["findings"] if f["id"].startswith("PA3")] == ["PA301"]


def _rewrite(bundle: Path, out: Path, change: Any) -> None:
    with tarfile.open(bundle) as src, tarfile.open(out, "w:gz") as dst:
        for original in src.getmembers():
            data = src.extractfile(original).read() if original.isfile() else None  # type: ignore[union-attr]
            member, data = change(original, data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    bundle = collect(tmp_path, "--root", str(DEMO_NODES / "node01"))

    def edit(member: tarfile.TarInfo, data: bytes | None) -> tuple[tarfile.TarInfo, bytes | None]:
        if member.name.endswith("greenbox.yaml") and data is not None:
            data = data.replace(b"greenbox", b"redbox__")
        return member, data

    _rewrite(bundle, tmp_path / "edited.tar.gz", edit)
    proc = run("analyze", str(tmp_path / "edited.tar.gz"))
    assert proc.returncode == 2
    assert "greenbox.yaml' does not match its checksum" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["../escaped", "/tmp/escaped-absolute", "nodes/x/../../../escaped"])
def test_members_outside_the_bundle_are_refused(tmp_path: Path, name: str) -> None:
    bundle = tmp_path / "evil.tar.gz"
    data = b"pwned\n"
    with tarfile.open(bundle, "w:gz") as tar:
        for member_name, body in ((name, data), ("checksums.json", json.dumps({
                name: __import__("hashlib").sha256(data).hexdigest()}).encode())):
            member = tarfile.TarInfo(member_name)
            member.size = len(body)
            tar.addfile(member, io.BytesIO(body))
    proc = run("analyze", str(bundle))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path.parent / "escaped").exists() and not Path("/tmp/escaped-absolute").exists()


def test_a_link_in_a_bundle_cannot_carry_files_out(tmp_path: Path) -> None:
    """nodes/x/etc -> / followed by nodes/x/etc/evil would write /evil: the tar filter refuses it."""
    bundle = tmp_path / "evil.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        link = tarfile.TarInfo("nodes/x/etc")
        link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path / "outside")
        tar.addfile(link)
        body = b"pwned\n"
        member = tarfile.TarInfo("nodes/x/etc/evil")
        member.size = len(body)
        tar.addfile(member, io.BytesIO(body))
        sums = json.dumps({"nodes/x/etc/evil": __import__("hashlib").sha256(body).hexdigest()}).encode()
        member = tarfile.TarInfo("checksums.json")
        member.size = len(sums)
        tar.addfile(member, io.BytesIO(sums))
    (tmp_path / "outside").mkdir()
    proc = run("analyze", str(bundle))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert list((tmp_path / "outside").iterdir()) == []


def test_one_node_in_two_bundles_is_refused(tmp_path: Path) -> None:
    first = collect(tmp_path, "--root", str(DEMO_NODES / "node01"), name="a.tar.gz")
    proc = run("analyze", str(first), str(first))
    assert proc.returncode == 2 and "node node01 is also in another bundle" in proc.stderr


def test_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01binary junk" * 100)
    proc = run("analyze", str(junk))
    assert proc.returncode == 2 and "neither a tar.gz bundle nor text" in proc.stderr


def test_redact_hides_env_values_and_secret_flags(tmp_path: Path) -> None:
    root = tmp_path / "node"
    subprocess.run(["cp", "-a", str(FIXTURES / "kubeadm-etc"), str(root)], check=True)
    manifest = root / "etc/kubernetes/manifests/db.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: db\n  annotations:\n    last-applied: "
                        "'{\"env\": \"annot-secret\"}'\nspec:\n  containers:\n  - name: db\n"
                        "    image: postgres:16\n    args: [--password=hunter2, --token, s3cr3t, --private-key=pk1, "
                        "'--url=https://u:urlpass@db', --token-auth-file=/etc/tokens.csv]\n"
                        "    livenessProbe:\n      httpGet:\n        path: /\n        port: 80\n"
                        "        httpHeaders: [{name: Authorization, value: probe-secret}]\n"
                        "    env:\n    - name: POSTGRES_PASSWORD\n      value: hunter2\n")
    (root / "etc/kubernetes/manifests/id_rsa").write_text("-----BEGIN PRIVATE KEY-----\nnot-a-pod-secret\n")
    (root / "etc/default").mkdir(exist_ok=True)
    (root / "etc/default/kubelet").write_text('KUBELET_EXTRA_ARGS="--bootstrap-token=envfile-secret"\n')
    bundle = tmp_path / "b.tar.gz"
    assert run("--root", str(root), "collect", "--redact", "--bundle", str(bundle)).returncode == 0
    with tarfile.open(bundle) as tar:
        text = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    for secret in (b"hunter2", b"s3cr3t", b"pk1", b"urlpass", b"probe-secret", b"annot-secret", b"not-a-pod-secret"):
        assert secret not in text, secret
    assert b"--token-auth-file=/etc/tokens.csv" in text and b"POSTGRES_PASSWORD" in text
    _, doc = run_json("analyze", str(bundle))
    assert "db-worker-1" in [p["mirror_name"] for p in doc["nodes"][0]["static_pods"]]




@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if why_no_lab() is not None:
        pytest.skip(str(why_no_lab()))
    with running_lab(tmp_path_factory.mktemp("bundlelab"), "greenbox", "127.0.15.10") as (path, _):
        yield path


def test_live_lab_nodes_over_ssh_round_trip(lab: Path, tmp_path: Path) -> None:
    ssh = ("--ssh-config", str(lab / "ssh_config"), "--inventory", str(lab / "inventory"), "--no-api")
    code, live = run_json(*ssh, "sweep")
    bundle = collect(tmp_path, *ssh)
    again, analyzed = run_json("analyze", str(bundle))
    assert again == code
    assert comparable(analyzed) == comparable(live)
    assert [n["node"] for n in analyzed["nodes"]] == ["controlplane", "node01"]


def test_writing_a_tree_never_follows_a_link_out_of_it(tmp_path: Path) -> None:
    """A node whose /etc/kubernetes is a link to an absolute path: the link is kept as a link,
    and nothing is written through it onto this machine."""
    from podaudit.collect.bundle import write_tree
    from podaudit.model import FileRecord, NodeSnapshot

    outside = tmp_path / "outside"
    outside.mkdir()
    snapshot = NodeSnapshot("n1", files={
        "/etc/kubernetes": FileRecord("/etc/kubernetes", "dir", mode=0o755, link=str(outside), target=str(outside)),
        "/etc/kubernetes/manifests/x.yaml": FileRecord("/etc/kubernetes/manifests/x.yaml", "file", data=b"x"),
    })
    write_tree(snapshot, str(tmp_path / "tree"))
    assert os.readlink(tmp_path / "tree/etc/kubernetes") == str(outside)
    assert list(outside.iterdir()) == []


def test_a_node_name_that_is_a_path_is_not_collected(tmp_path: Path) -> None:
    root = tmp_path / "node"
    subprocess.run(["cp", "-a", str(FIXTURES / "kubeadm-etc"), str(root)], check=True)
    [cmdline] = root.glob("proc/*/cmdline")
    for name in ("../../escaped", str(tmp_path / "absolute")):
        argv = cmdline.read_bytes().rstrip(b"\0").split(b"\0")
        argv = [a for a in argv if not a.startswith(b"--hostname-override")] + [f"--hostname-override={name}".encode()]
        cmdline.write_bytes(b"\0".join(argv) + b"\0")
        proc = run("--root", str(root), "collect", "--bundle", str(tmp_path / "b.tar.gz"))
        assert proc.returncode == 2 and "is not a valid node name" in proc.stderr
    assert not (tmp_path / "absolute").exists() and not any(tmp_path.parent.glob("escaped"))


def _bundle_with(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    import hashlib

    path = tmp_path / "crafted.tar.gz"
    sums = {m.name: hashlib.sha256(d).hexdigest() for m, d in members if m.isfile() and d is not None}
    with tarfile.open(path, "w:gz") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
        _add_json(tar, "bundle.json", {"format": 1, "podaudit": "0.1.0", "time": "2026-01-01T00:00:00Z",
                                       "redacted": False})
        _add_json(tar, "checksums.json", sums)
    return path


def _add_json(tar: tarfile.TarFile, name: str, doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode()
    info = tarfile.TarInfo(name)
    info.size = len(body)
    tar.addfile(info, io.BytesIO(body))


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


@pytest.mark.parametrize("kind", ["api-link", "device", "dotdot", "huge"])
def test_crafted_members_are_refused(tmp_path: Path, kind: str) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    if kind == "api-link":
        link = tarfile.TarInfo("api/pods.json")
        link.type, link.linkname = tarfile.SYMTYPE, str(victim)
        members: list[tuple[tarfile.TarInfo, bytes | None]] = [(link, None)]
    elif kind == "device":
        dev = tarfile.TarInfo("nodes/n1/dev/mem")
        dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 1
        members = [(dev, None)]
    elif kind == "dotdot":
        members = [_file("nodes/../api/pods.json", b"{}")]
    else:
        members = [_file("nodes/n1/big", bytes(65 << 20))]  # a gzip bomb declares its size
    bundle = _bundle_with(tmp_path, members)
    api = tmp_path / "api"
    api.mkdir()
    (api / "pods.json").write_text('{"items": []}')
    proc = run("analyze", str(bundle), "--api", str(api))
    assert proc.returncode == 2 and "refused" in proc.stderr and "Traceback" not in proc.stderr
    assert victim.read_text() == "untouched\n"


def test_armored_text_from_kubectl_logs_with_prefixes_and_crlf(tmp_path: Path) -> None:
    proc = run("--root", str(DEMO_NODES / "node01"), "collect", "--bundle", "-", "--armor")
    stamped = "".join(f"2026-11-26T21:00:00.123456789Z {line}\r\n" for line in proc.stdout.splitlines())
    logs = tmp_path / "logs.txt"
    logs.write_text("[pod/podaudit-abc/collect] " + stamped.replace("\r\n", "\r\n[pod/podaudit-abc/collect] "))
    code, doc = run_json("analyze", str(logs))
    assert code == 0 and [n["node"] for n in doc["nodes"]] == ["node01"]
    logs.write_text(proc.stdout[: len(proc.stdout) // 2])  # cut before its END line
    cut = run("analyze", str(logs))
    assert cut.returncode == 2 and "Traceback" not in cut.stderr


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _dir(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def _cve_2025_4517(top: Path, variant: str) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """CVE-2025-4517's shape (python/cpython gh-135034): 247-character folder names reached
    through one-letter links, so the resolved path outgrows PATH_MAX and os.path.realpath
    gives up resolving; a link at the end of the chain climbs back to the node's folder, the
    escape link then leaves it ("dotdot", or through a link to an absolute path: "absolute"),
    and a member is written through it (or a hard link made through it, then written)."""
    prefix, comp, steps = "nodes/n1", "d" * 247, "abcdefghijklmnop"
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    path = prefix
    for step in steps:
        members += [_dir(f"{path}/{comp}"), _link(f"{path}/{step}", comp)]
        path = f"{path}/{comp}"
    via = "/".join(steps) + "/" + "l" * 254
    members.append(_link(f"{prefix}/{via}", "/".join([".."] * len(steps))))
    if variant == "absolute":
        members += [_link(f"{prefix}/x", str(top)), _link(f"{prefix}/escape", f"{via}/x")]
    else:  # the node's folder is TMPDIR/podaudit-analyze-*/nodes/n1: four levels below top
        members.append(_link(f"{prefix}/escape", f"{via}/../../../.."))
    if variant == "hardlink":
        return [*members, _link(f"{prefix}/h", f"{prefix}/escape/victim", tarfile.LNKTYPE),
                _file(f"{prefix}/h", b"pwned\n")]
    return [*members, _file(f"{prefix}/escape/canary-written", b"pwned\n")]


@pytest.mark.parametrize("variant", ["dotdot", "absolute", "hardlink"])
def test_the_tarfile_link_chain_bypass_writes_nothing_outside(tmp_path: Path, variant: str) -> None:
    (tmp_path / "t").mkdir()
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    bundle = _bundle_with(tmp_path, _cve_2025_4517(tmp_path, variant))
    proc = run("analyze", str(bundle), env={"TMPDIR": str(tmp_path / "t")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "refused" in proc.stderr
    assert not (tmp_path / "canary-written").exists() and victim.read_text() == "untouched\n"
    assert list((tmp_path / "t").iterdir()) == []  # the extraction folder is gone too


@pytest.mark.parametrize("links", [
    [("nodes/n1/etc/up", "../../outside")],  # '..' past the node's root
    [("nodes/n1/d/b", "/"), ("nodes/n1/d/a", "b/..")],  # inside by its text, out through b
    [("nodes/n1/d/b", "../c"), ("nodes/n1/c", "/d/../.."), ("nodes/n1/d/a", "b")],
])
def test_a_link_that_leads_out_of_its_node_is_refused(tmp_path: Path, links: list[tuple[str, str]]) -> None:
    bundle = _bundle_with(tmp_path, [_file("nodes/n1/etc/kubernetes/x", b"x"),
                                     *(_link(name, target) for name, target in links)])
    proc = run("analyze", str(bundle))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "leads out of nodes/n1/" in proc.stderr


def test_a_linked_manifest_folder_survives_the_round_trip(tmp_path: Path) -> None:
    """manifests -> /etc/kubernetes/real-manifests: bundled as that link (an absolute target
    means the node's own root), unpacked as a link, read inside the node: the same report."""
    root = tmp_path / "node"
    subprocess.run(["cp", "-a", str(FIXTURES / "kubeadm-etc"), str(root)], check=True)
    (root / "etc/kubernetes/manifests").rename(root / "etc/kubernetes/real-manifests")
    os.symlink("/etc/kubernetes/real-manifests", root / "etc/kubernetes/manifests")
    code, live = run_json("--root", str(root), "sweep")
    bundle = collect(tmp_path, "--root", str(root))
    again, analyzed = run_json("analyze", str(bundle))
    assert again == code and comparable(analyzed) == comparable(live)
    assert analyzed["nodes"][0]["static_pods"]


def _valid_bundle() -> bytes:
    folder = Path(__file__).parent / "fixtures" / "nodes" / "kubeadm-etc"
    proc = subprocess.run([sys.executable, "-m", "podaudit", "--root", str(folder), "collect", "--bundle", "-"],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0
    return proc.stdout


def _mutated(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    raw = bytearray(data)
    for position, value in edits:
        raw[position % len(raw)] = value
    return bytes(raw[:cut] if cut is not None else raw)


VALID_BUNDLE: list[bytes] = []


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["random", "gzip", "tar", "armor"]), junk=st.binary(max_size=2048),
       edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8),
       cut=st.none() | st.integers(0, 1 << 16))
def test_any_bytes_give_a_bundle_error_or_a_bundle(kind: str, junk: bytes, edits: list[tuple[int, int]],
                                                   cut: int | None) -> None:
    """The bundle reader on random and mutated input: it unpacks, or raises BundleError."""
    import gzip
    import tempfile

    from podaudit.collect.bundle import BundleError, armor, read_inputs, unpack

    if not VALID_BUNDLE:
        VALID_BUNDLE.append(_valid_bundle())
    valid = VALID_BUNDLE[0]
    if kind == "random":
        data = junk
    elif kind == "gzip":
        data = _mutated(valid, edits, cut)
    elif kind == "tar":  # damage the tar inside and compress it again: headers, names, sizes
        data = gzip.compress(_mutated(gzip.decompress(valid), edits, cut))
    else:
        data = _mutated(armor("n", valid).encode(), edits, cut)
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "input")
        with open(source, "wb") as handle:
            handle.write(data)
        try:
            for number, blob in enumerate(read_inputs(source)):
                into = os.path.join(folder, f"out{number}")
                os.mkdir(into)
                unpack(blob, source, into)
        except BundleError as exc:
            assert "\n" not in str(exc)


NAME = st.sampled_from(["a", "b", "c"])
PART = st.sampled_from(["a", "b", "c", "..", "."])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(NAME, min_size=1, max_size=4), st.sampled_from(["file", "dir", "link"]),
                          st.lists(PART, max_size=5), st.booleans()), max_size=12, unique_by=lambda e: tuple(e[0])))
def test_random_trees_of_links_are_unpacked_inside_or_refused(entries: list[tuple[list[str], str, list[str], bool]]
                                                             ) -> None:
    """Random files, folders and links (targets of a, b, c, '..', '.', absolute or not) in a
    bundle with valid checksums: unpacked or refused (BundleError), never written outside."""
    import hashlib
    import tempfile

    from podaudit.collect.bundle import BundleError, unpack

    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for parts, kind, target, absolute in entries:
        name = "nodes/n1/" + "/".join(parts)
        if kind == "file":
            members.append(_file(name, b"x"))
        elif kind == "dir":
            members.append(_dir(name))
        else:
            members.append(_link(name, ("/" if absolute else "") + "/".join(target)))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
        sums = {m.name: hashlib.sha256(d).hexdigest() for m, d in members if m.isfile() and d is not None}
        _add_json(tar, "checksums.json", sums)
    with tempfile.TemporaryDirectory() as folder:
        into = os.path.join(folder, "a", "into")  # 'a' beside 'into': the first place a '..' would land
        os.makedirs(into)
        try:
            unpack(out.getvalue(), "fuzz", into)
        except BundleError as exc:
            assert "\n" not in str(exc)
        assert sorted(os.listdir(folder)) == ["a"] and os.listdir(os.path.join(folder, "a")) == ["into"]


def _witnessed_snapshot() -> Any:
    """A node snapshot with what its runtime said (a kube-apiserver crash-looping) and what
    its kubelet said (/pods and /configz with a staticPodURLHeader secret)."""
    from dataclasses import replace

    from podaudit.collect.witnesses import HttpAnswer, WitnessRecords, witnesses_of
    from podaudit.model import FileRecord, NodeSnapshot
    from tests.test_crictl import answers, broken_control_plane

    pod_list = json.dumps({"items": [{"metadata": {"name": "kube-apiserver-cp1", "namespace": "kube-system",
                                                   "uid": "u1", "annotations": {"kubernetes.io/config.source": "file"}},
                                      "status": {"containerStatuses": [{"name": "kube-apiserver", "restartCount": 14,
                                                                         "state": {"running": {}}}]}}]}).encode()
    configz = json.dumps({"kubeletconfig": {"staticPodPath": "/etc/kubernetes/manifests",
                                            "staticPodURLHeader": {"Authorization": ["Bearer s3cr3t-t0ken"]}}}).encode()
    url = "https://127.0.0.1:10250"
    said = witnesses_of(WitnessRecords(
        cri=answers(*broken_control_plane()),
        http=[HttpAnswer("pods", 0, 200, f"{url}/pods", "admin.conf", pod_list),
              HttpAnswer("configz", 0, 200, f"{url}/configz", "admin.conf", configz)]))
    snapshot = NodeSnapshot("cp1", hostname="cp1")
    snapshot.files["/etc/hostname"] = FileRecord("/etc/hostname", "file", data=b"cp1\n", mode=0o644, uid=0, gid=0,
                                                 mtime=1.0, size=4)
    return replace(snapshot, witnesses=said)


def test_a_bundle_keeps_what_the_nodes_witnesses_said(tmp_path: Path) -> None:
    """podaudit.meta.json carries the parsed witnesses (not crictl's or the kubelet's raw
    answers), and reading the tree gives them back as they were."""
    from podaudit.collect.bundle import write_tree
    from podaudit.collect.local import LocalNode

    snapshot = _witnessed_snapshot()
    write_tree(snapshot, str(tmp_path / "cp1"))
    meta = (tmp_path / "cp1" / "podaudit.meta.json").read_text()
    assert '"exit_code": 1' in meta and "podSandboxId" not in meta and "createdAt" not in meta
    assert LocalNode(str(tmp_path / "cp1")).snapshot.witnesses == snapshot.witnesses


def test_a_bundle_without_witnesses_reads_as_not_asked(tmp_path: Path) -> None:
    """Old bundles (and nodes read without them) have no ``witnesses``: None, not "absent"."""
    from dataclasses import replace

    from podaudit.collect.bundle import write_tree
    from podaudit.collect.local import LocalNode

    write_tree(replace(_witnessed_snapshot(), witnesses=None), str(tmp_path / "cp1"))
    assert "witnesses" not in json.loads((tmp_path / "cp1" / "podaudit.meta.json").read_text())
    assert LocalNode(str(tmp_path / "cp1")).snapshot.witnesses is None


def test_unpacking_makes_each_folder_once_not_once_per_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle's members come folder by folder: each folder is made (mkdir) and opened about
    once, not walked again from the top for every member below it (1,000 nodes: 167,000 mkdir
    for 15,000 folders before); the tree unpacked is the same. Counts, not timings."""
    from podaudit.collect import untar
    from podaudit.collect.bundle import unpack
    from scripts.bench import Generator

    Generator(7).write(tmp_path / "fleet", 40)
    bundle = collect(tmp_path, "--snapshot", str(tmp_path / "fleet"))
    calls = {"mkdir": 0, "open": 0}
    real_mkdir, real_open = os.mkdir, os.open

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(untar.os, "mkdir", counted("mkdir", real_mkdir))
    monkeypatch.setattr(untar.os, "open", counted("open", real_open))
    into = tmp_path / "unpacked"
    into.mkdir()
    nodes = unpack(bundle.read_bytes(), "bundle", str(into))
    monkeypatch.undo()
    folders = [p for p in into.rglob("*") if p.is_dir() and not p.is_symlink()]
    files = [p for p in into.rglob("*") if p.is_file() and not p.is_symlink()]
    assert len(nodes) == 40 and len(folders) > 500
    assert calls["mkdir"] <= 1.2 * len(folders)
    assert calls["open"] <= 2.5 * len(folders) + len(files)  # each folder in two passes, each file once
    for node in ("worker-0001", "worker-0002"):  # the same bytes as the snapshot's
        source = tmp_path / "fleet" / "nodes" / node
        for path in source.rglob("*.yaml"):
            assert (into / "nodes" / node / path.relative_to(source)).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("shape", ["deep", "wide"])
def test_unpacking_holds_few_descriptors_whatever_the_shape(tmp_path: Path, shape: str) -> None:
    """Under a limit of 64 open files: a folder 97 deep (the deepest a bundle may hold) and 600
    folders side by side unpack whole, with their modes; the folders kept open while unpacking
    stay few, whatever the depth or the width."""
    from podaudit.collect import untar

    if shape == "deep":
        deep = "nodes/n1/" + "/".join(["d"] * (untar.MAX_DEPTH - 3))
        members = [_dir("nodes"), _dir("nodes/n1"), _file(f"{deep}/f.yaml", b"x: 1\n")]
        expected = [f"{deep}/f.yaml"]
    else:
        members = [_dir("nodes")]
        for node in range(200):
            members += [_dir(f"nodes/n{node}"), _dir(f"nodes/n{node}/etc"),
                        _file(f"nodes/n{node}/etc/kubernetes/manifests/a.yaml", b"x: 1\n")]
        expected = [f"nodes/n{node}/etc/kubernetes/manifests/a.yaml" for node in range(200)]
    for info, _ in members:
        if info.isdir():
            info.mode = 0o750
    bundle = _bundle_with(tmp_path, members)
    into = tmp_path / "into"
    into.mkdir()
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
            "from podaudit.collect.bundle import unpack\n"
            "print(len(unpack(open(sys.argv[1], 'rb').read(), 'bundle', sys.argv[2])))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(bundle), str(into)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert all((into / name).read_bytes() == b"x: 1\n" for name in expected)
    assert (into / "nodes/n1").stat().st_mode & 0o777 == 0o750  # the mode pass reached it too


def test_a_bundle_nested_too_deep_is_refused_in_one_line(tmp_path: Path) -> None:
    """1,500 folders deep unpacked fine, but could not be removed again (shutil.rmtree recurses
    once per folder: RecursionError, the tree left in the temp folder): refused before
    anything is written, in one line, and nothing is left behind."""
    deep = "nodes/n1/" + "/".join(["d"] * 1500)
    bundle = _bundle_with(tmp_path, [_dir("nodes"), _dir("nodes/n1"), _file(f"{deep}/f.yaml", b"x: 1\n")])
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = subprocess.run([sys.executable, "-m", "podaudit", "analyze", str(bundle)], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(temp)}, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "nested in more than 99 folders" in proc.stderr and str(bundle) in proc.stderr
    assert list(temp.iterdir()) == []


def test_a_node_path_nested_too_deep_for_a_bundle_is_recorded_unread(tmp_path: Path) -> None:
    """A hostile node's manifest folder 150 folders deep: collect keeps the rest and says the
    file was not kept (the analysis shows it unread), so that analyze, which refuses bundles
    nested that deep, still reads the bundle collect wrote."""
    from podaudit.collect.bundle import NODE_DEPTH, pack, unpack, write_tree
    from podaudit.collect.local import LocalNode
    from podaudit.model import FileRecord, NodeSnapshot

    deep = "/" + "/".join(["m"] * 150) + "/pod.yaml"
    snapshot = NodeSnapshot("n1", files={
        deep: FileRecord(deep, "file", 0o600, 0, 0, 0.0, 4, b"x: 1"),
        "/etc/kubernetes/manifests/etcd.yaml": FileRecord("/etc/kubernetes/manifests/etcd.yaml", "file", 0o600,
                                                          0, 0, 0.0, 4, b"x: 2")})
    folder = tmp_path / "cluster"
    write_tree(snapshot, str(folder / "nodes" / "n1"))
    meta = json.loads((folder / "nodes" / "n1" / "podaudit.meta.json").read_text())
    assert meta["unread"][deep]["error"] == f"nested in more than {NODE_DEPTH} folders: not kept in a bundle"
    assert not (folder / "nodes" / "n1" / "m").exists()
    into = tmp_path / "into"
    into.mkdir()
    assert unpack(pack(str(folder), "test", False), "bundle", str(into)) == ["n1"]
    node = LocalNode(str(into / "nodes" / "n1"))
    assert node.snapshot is not None and node.file("/etc/kubernetes/manifests/etcd.yaml").data == b"x: 2"
    assert node.file(deep).kind == "error"
