"""RootFS on real files: chroot-style resolution, caps and errors as data."""

import os

from podaudit.collect.rootfs import RootFS
from podaudit.model import MAX_FILE_BYTES


def write(root, path, data=b"x"):
    full = root / path.lstrip("/")
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_bytes(data)
    return full


def test_absolute_symlink_resolves_inside_the_root(tmp_path):
    write(tmp_path, "/opt/manifests/a.yaml", b"inside")
    (tmp_path / "etc").mkdir()
    os.symlink("/opt/manifests", tmp_path / "etc/manifests")
    record = RootFS(str(tmp_path)).read("/etc/manifests/a.yaml")
    assert record.kind == "file" and record.data == b"inside"
    assert record.target == "/opt/manifests/a.yaml"


def test_symlink_never_escapes_to_this_machine(tmp_path):
    (tmp_path / "etc").mkdir()
    os.symlink("/etc/hostname", tmp_path / "etc/escape")  # exists on this machine, not in the root
    os.symlink("../../../../etc/passwd", tmp_path / "etc/dotdot")
    fs = RootFS(str(tmp_path))
    assert fs.read("/etc/escape").kind == "missing"
    assert fs.read("/etc/dotdot").kind == "missing"


def test_symlink_loop_is_an_error_record(tmp_path):
    (tmp_path / "m").mkdir()
    os.symlink("/m/b", tmp_path / "m/a")
    os.symlink("/m/a", tmp_path / "m/b")
    record = RootFS(str(tmp_path)).read("/m/a")
    assert record.kind == "error" and record.error == "symbolic link loop"


def test_files_at_the_kubelet_limit_are_refused_unread(tmp_path):
    big = write(tmp_path, "/m/big", b"")
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES)  # exactly 10 MiB: utilio.ReadAtMost fails too
    record = RootFS(str(tmp_path)).read("/m/big")
    assert record.kind == "file" and record.data is None
    assert "too large" in (record.error or "")
    assert record.size == MAX_FILE_BYTES


def test_stat_fields_are_real(tmp_path):
    full = write(tmp_path, "/m/a", b"abc")
    os.chmod(full, 0o640)
    os.utime(full, (1000, 2000))
    record = RootFS(str(tmp_path)).read("/m/a")
    assert (record.mode, record.size, record.mtime) == (0o640, 3, 2000)
    assert (record.target, record.link) == (None, None)  # no links on the way
    assert record.inode == full.stat().st_ino


def test_listdir_and_missing_dir(tmp_path):
    write(tmp_path, "/m/a")
    fs = RootFS(str(tmp_path))
    assert fs.listdir("/m").names == ("a",)
    assert fs.listdir("/nope").error == "missing"


def test_fifo_is_other_and_never_blocks(tmp_path):
    (tmp_path / "m").mkdir()
    os.mkfifo(tmp_path / "m/pipe")
    assert RootFS(str(tmp_path)).read("/m/pipe").kind == "other"


def test_live_root_uses_the_kernel():
    record = RootFS("/").read("/proc/self/cmdline")
    assert record.kind == "file" and record.data


def test_unit_masked_with_dev_null_link_in_a_snapshot(tmp_path):
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    os.symlink("/dev/null", tmp_path / "etc/systemd/system/kubelet.service")
    record = RootFS(str(tmp_path)).read("/etc/systemd/system/kubelet.service")
    assert (record.kind, record.target) == ("other", "/dev/null")


def test_config_dir_walk_does_not_follow_symlinked_directories(tmp_path):
    from podaudit.collect.local import LocalNode
    from podaudit.kubelet.config import dropin_files

    head = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
    write(tmp_path, "/d/10.conf", head.encode())
    write(tmp_path, "/elsewhere/20.conf", head.encode())
    os.symlink("/elsewhere", tmp_path / "d/sub")
    files, problems = dropin_files(LocalNode(str(tmp_path)), "/d")
    assert files == ["/d/10.conf"] and problems == []
