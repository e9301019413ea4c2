"""A tree that pretends to be a live host (proc/self, proc/<pid>/ns/mnt, proc/<pid>/root -> /)
is still a tree: nothing under --root, --snapshot or a bundle is read from outside it.

The "host side" is a canary folder under tmp_path that only absolute links lead to; every
test asserts its bytes appear nowhere: not in reports, not in bundles.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.cli_helpers import run

MARK = "canary-7f3a"  # the pod's name and the bytes of every canary file
CONFIG = f"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: {{path}}\n# {MARK}\n"
POD = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {MARK}\nspec:\n  containers:\n  - name: c\n    image: busybox\n"


def host_side(top: Path) -> Path:
    """A /root/.ssh-like folder outside every tree: a kubelet config and a pod, a private key."""
    ssh = top / "root" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "kubelet.yaml").write_text(CONFIG.format(path=str(ssh)))
    (ssh / "config.yaml").write_text(CONFIG.format(path="/root/.ssh"))
    (ssh / "pod.yaml").write_text(POD)
    (ssh / "id_ed25519").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{MARK}\n")
    return ssh


def fake_live_tree(tree: Path, argv: list[str], root_link: str, cwd: str = "/") -> None:
    """What a live procfs shows, as plain files and links anyone can write."""
    pid = tree / "proc" / "1"
    (pid / "ns").mkdir(parents=True)
    os.symlink("1", tree / "proc/self")
    os.symlink("mnt:[4026531840]", pid / "ns/mnt")  # never this process's namespace
    os.symlink(root_link, pid / "root")
    os.symlink(cwd, pid / "cwd")
    os.symlink("/usr/bin/kubelet", pid / "exe")
    (pid / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (tree / "proc/sys/kernel").mkdir(parents=True)
    (tree / "proc/sys/kernel/hostname").write_text("tree-node\n")
    (tree / "podaudit.meta.json").write_text(json.dumps({"interfaces": {"eth-tree": ["10.99.0.5/24"]}}))


def variants(tmp_path: Path) -> dict[str, Path]:
    """Three ways a tree's links point at the canary: its root is '/', its root is the host
    side's absolute path, its cwd is the canary and --config is relative."""
    ssh = host_side(tmp_path / "host")
    kubelet = "/usr/bin/kubelet"
    trees = {"root-is-slash": ([kubelet, f"--config={ssh}/kubelet.yaml"], "/", "/"),
             "root-is-elsewhere": ([kubelet, "--config=/root/.ssh/config.yaml"], str(tmp_path / "host"), "/"),
             "cwd-is-elsewhere": ([kubelet, "--config", "kubelet.yaml"], "/", str(ssh))}
    made = {}
    for name, (argv, root, cwd) in trees.items():
        fake_live_tree(tmp_path / name, argv, root, cwd)
        made[name] = tmp_path / name
    return made


def assert_no_canary(*texts: str | bytes) -> None:
    for text in texts:
        assert MARK not in (text if isinstance(text, str) else text.decode("utf-8", "replace"))


@pytest.mark.parametrize("variant", ["root-is-slash", "root-is-elsewhere", "cwd-is-elsewhere"])
def test_node_root_never_reads_the_host_side(tmp_path: Path, variant: str) -> None:
    tree = variants(tmp_path)[variant]
    proc = run("--output", "json", "node", "--root", str(tree))
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_canary(proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    assert doc["static_pods"] == [] and doc["kubelet"]["pid"] == 1


@pytest.mark.parametrize("variant", ["root-is-slash", "root-is-elsewhere", "cwd-is-elsewhere"])
def test_snapshot_never_reads_the_host_side(tmp_path: Path, variant: str) -> None:
    tree = variants(tmp_path)[variant]
    (tmp_path / "snap/nodes").mkdir(parents=True)
    tree.rename(tmp_path / "snap/nodes/tree-node")
    proc = run("--output", "json", "--snapshot", str(tmp_path / "snap"), "sweep")
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_canary(proc.stdout, proc.stderr)


def bundle_bytes(bundle: Path) -> bytes:
    """Every byte a bundle holds, names and link targets included."""
    raw = gzip.decompress(bundle.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        contents = [tar.extractfile(m).read() for m in tar if m.isfile()]  # type: ignore[union-attr]
    return raw + b"".join(contents)


@pytest.mark.parametrize("variant", ["root-is-slash", "root-is-elsewhere", "cwd-is-elsewhere"])
def test_collect_and_analyze_never_bundle_the_host_side(tmp_path: Path, variant: str) -> None:
    tree = variants(tmp_path)[variant]
    bundle = tmp_path / "b.tar.gz"
    proc = run("--root", str(tree), "collect", "--bundle", str(bundle))
    assert proc.returncode == 0, proc.stderr
    assert_no_canary(proc.stderr, bundle_bytes(bundle))
    analyzed = run("--output", "json", "analyze", str(bundle))
    assert analyzed.returncode in (0, 1), analyzed.stderr
    assert_no_canary(analyzed.stdout, analyzed.stderr)


def test_a_tree_gets_its_side_files_interfaces_not_this_machines(tmp_path: Path) -> None:
    tree = variants(tmp_path)["root-is-slash"]
    bundle = tmp_path / "b.tar.gz"
    assert run("--root", str(tree), "collect", "--bundle", str(bundle)).returncode == 0
    with tarfile.open(bundle) as tar:
        meta = json.load(tar.extractfile("nodes/tree-node/podaudit.meta.json"))  # type: ignore[arg-type]
    assert meta["interfaces"] == {"eth-tree": ["10.99.0.5/24"]}


def small_node(root: Path, pod_name: str) -> None:
    (root / "proc/7").mkdir(parents=True)
    (root / "proc/7/cmdline").write_bytes(b"/usr/bin/kubelet\0--pod-manifest-path=/etc/kubernetes/manifests\0")
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    (root / "etc/kubernetes/manifests/p.yaml").write_text(POD.replace(MARK, pod_name))


def test_a_snapshot_whose_nodes_folder_is_a_link_is_refused(tmp_path: Path) -> None:
    small_node(tmp_path / "outside/nodes/n1", MARK)
    (tmp_path / "snap").mkdir()
    os.symlink(tmp_path / "outside/nodes", tmp_path / "snap/nodes")
    proc = run("--output", "json", "--snapshot", str(tmp_path / "snap"), "sweep")
    assert proc.returncode == 2 and "nodes/ is a link" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert_no_canary(proc.stdout, proc.stderr)


@pytest.mark.parametrize("link", ["api", "api/pods.json"])
def test_a_snapshot_api_view_through_a_link_is_not_read(tmp_path: Path, link: str) -> None:
    small_node(tmp_path / "snap/nodes/n1", "static")
    outside = tmp_path / "outside"
    outside.mkdir()
    # A mirror pod with no manifest: a finding names it, if this file is ever read.
    pods = {"items": [{"metadata": {"name": f"{MARK}-n1", "namespace": "default",
                                    "annotations": {"kubernetes.io/config.mirror": "x"}},
                       "spec": {"nodeName": "n1"}}]}
    (outside / "pods.json").write_text(json.dumps(pods))
    if link == "api":
        os.symlink(outside, tmp_path / "snap/api")
    else:
        (tmp_path / "snap/api").mkdir()
        os.symlink(outside / "pods.json", tmp_path / "snap/api/pods.json")
    proc = run("--output", "json", "--snapshot", str(tmp_path / "snap"), "sweep")
    assert proc.returncode in (0, 1), proc.stderr
    assert_no_canary(proc.stdout, proc.stderr)
    assert f"{link} is a link" in proc.stdout


# -- a live procfs under a root (the DaemonSet's /host) -----------------------------------------
def _static_kubelet(tmp_path: Path) -> Path | None:
    out = tmp_path / "kubelet-static"
    source = Path(__file__).parent / "support" / "fake_kubelet.c"
    built = subprocess.run(["cc", "-static", "-O2", "-o", str(out), str(source)], capture_output=True)
    return out if built.returncode == 0 else None


def test_a_live_procfs_under_a_root_reads_the_kubelets_own_root(tmp_path: Path) -> None:
    """The DaemonSet's case, in a fresh pid namespace: <root>/proc is a real procfs, the
    kubelet runs chrooted, and its absolute link /etc/kubernetes -> /opt/k means ITS /opt/k
    (read through /proc/<pid>/root with chroot semantics), never the reader's."""
    binary = _static_kubelet(tmp_path)
    if binary is None or shutil.which("unshare") is None or shutil.which("chroot") is None:
        pytest.skip("needs cc -static, unshare and chroot")
    jail = tmp_path / "jail"
    (jail / "usr/bin").mkdir(parents=True)
    shutil.copy(binary, jail / "usr/bin/kubelet")
    (jail / "opt/k/manifests").mkdir(parents=True)
    (jail / "etc").mkdir()
    os.symlink("/opt/k", jail / "etc/kubernetes")
    (jail / "opt/k/kubelet.yaml").write_text(CONFIG.format(path="/etc/kubernetes/manifests").replace(MARK, ""))
    (jail / "opt/k/manifests/p.yaml").write_text(POD.replace(MARK, "jailed"))
    host = tmp_path / "host"
    (host / "proc").mkdir(parents=True)
    script = (f"chroot {jail} /usr/bin/kubelet --config=/etc/kubernetes/kubelet.yaml --hostname-override=n1 & "
              f"sleep 0.3; exec {sys.executable} -m podaudit --output json node --root {host}")
    proc = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--propagation", "private",
                           f"--mount-proc={host}/proc", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120, cwd=str(Path(__file__).parent.parent))
    if proc.returncode not in (0, 1) and "unshare" in proc.stderr:
        pytest.skip(f"no namespaces here: {proc.stderr.strip()}")
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["config_file"] == "/etc/kubernetes/kubelet.yaml"
    assert [p["manifest_path"] for p in doc["static_pods"]] == ["/etc/kubernetes/manifests/p.yaml"]
    assert [p["mirror_name"] for p in doc["static_pods"]] == ["jailed-n1"]


@pytest.mark.parametrize("link", ["pods.json", "configz/n1.json"])
def test_analyze_never_follows_a_link_in_the_api_folder(tmp_path: Path, link: str) -> None:
    """--api DIR is copied beside the bundles: a link in it is refused, not followed."""
    small_node(tmp_path / "node", "static")
    (tmp_path / "node/proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "node/proc/sys/kernel/hostname").write_text("n1\n")
    bundle = tmp_path / "b.tar.gz"
    assert run("--root", str(tmp_path / "node"), "collect", "--bundle", str(bundle)).returncode == 0
    secret = tmp_path / "outside.json"
    secret.write_text(json.dumps({"items": [{"metadata": {"name": f"{MARK}-n1", "namespace": "default",
                                                          "annotations": {"kubernetes.io/config.mirror": "x"}},
                                             "spec": {"nodeName": "n1"}}],
                                  "kubeletconfig": {"staticPodPath": MARK}}))
    api = tmp_path / "api"
    (api / "configz").mkdir(parents=True)
    (api / "nodes.json").write_text(json.dumps({"items": [{"metadata": {"name": "n1"}}]}))
    os.symlink(secret, api / link)
    proc = run("--output", "json", "analyze", str(bundle), "--api", str(api))
    assert proc.returncode == 2 and f"{link} is a link" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert_no_canary(proc.stdout, proc.stderr)
