"""The remote collector's script, run for real on this machine, against the local collector.

Each scenario runs in a private pid and mount namespace (``unshare``), so the only kubelets
are the test's own: real sleeping processes named kubelet whose files live in a temp dir.
There the gather script runs under ``sh -s`` (and dash, bash, and busybox sh with busybox's
tools) and ``LocalNode("/")`` reads the same node; the tests then check that
``parse_gather`` builds exactly the records the local collector read, and that the kubelet
model answers the same from both. No mocks.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import pickle
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podaudit.collect.local import LocalNode
from podaudit.collect.passes import RecordingReader, kubelet_pid, still_needed
from podaudit.collect.records import GatherError
from podaudit.collect.remote import GATHER_VERSION, PIECES, gather_script, parse_gather, script_template
from podaudit.collect.rootfs import RootFS
from podaudit.kubelet.resolve import NodeView, analyze_node
from podaudit.model import DENIED, NodeSnapshot
from tests.sandbox import UNSHARE, private_tmp, why_no_namespaces

REPO = Path(__file__).parent.parent
PIECES_DIR = REPO / "podaudit/collect/gather"
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
CONFIG = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: {path}\n"
# Tools the script runs; busybox provides each as an applet.
TOOLS = ("stat", "find", "head", "dd", "od", "tr", "grep", "ls", "readlink", "cat", "ip")
# Names no shell may execute: each would create a file named pwned* if it were run.
INJECTIONS = [b"$(touch pwned)", b"`touch pwned2`", b"$(cd;touch pwned3)", b"';touch pwned4;'",
              b'";touch pwned5;"', b"x;touch pwned6", b"$(touch pwned7)\n"]
NOBODY = 65534


# --- shells ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shell:
    name: str
    argv: tuple[str, ...]
    path_prefix: str | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.path_prefix:
            env["PATH"] = f"{self.path_prefix}:{env.get('PATH', '/usr/bin:/bin')}"
        return env

    def run(self, script: bytes, cwd: Path) -> bytes:
        proc = subprocess.run([*self.argv, "-s"], input=script, capture_output=True, cwd=cwd, env=self.env(),
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return proc.stdout


@pytest.fixture(scope="session")
def busybox_tools(tmp_path_factory: pytest.TempPathFactory) -> str | None:
    busybox = shutil.which("busybox")
    if busybox is None:
        return None
    directory = tmp_path_factory.mktemp("busybox-bin")
    applets = set(subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split())
    for tool in TOOLS:
        if tool in applets:
            (directory / tool).symlink_to(busybox)
    return str(directory)


@pytest.fixture(params=["sh", "dash", "bash", "busybox"])
def shell(request: pytest.FixtureRequest, busybox_tools: str | None) -> Shell:
    name = request.param
    if name == "busybox":
        if busybox_tools is None:
            pytest.skip("busybox is not installed (apt-get install -y busybox)")
        return Shell(name, ("busybox", "sh"), busybox_tools)
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed")
    return Shell(name, (name, "--posix") if name == "bash" else (name,))


@pytest.fixture
def sh() -> Shell:
    return Shell("sh", ("sh",))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Where the script runs (its cwd): injected commands would write here."""
    path = tmp_path / "cwd"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def no_injection(tmp_path: Path) -> Iterator[None]:
    # The scripts run in tmp_path (their cwd and the node's private /tmp are there), "cd" takes
    # them to the suite's private HOME, and "/" is where a "cd /" would land.
    places = [Path(os.environ["HOME"]), Path("/")]
    before = {p for place in places for p in place.glob("pwned*")}
    yield
    created = [p for p in (*tmp_path.rglob("pwned*"), *(p for place in places for p in place.glob("pwned*")))
               if p not in before]
    assert not created, f"a name was executed as a command: {created}"


@pytest.fixture(autouse=True)
def churn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Directories above each test's tree change all the time, as /tmp does on a busy machine:
    the isolated runs must not see it (their /tmp is their own), or the mtimes that the two
    collectors record a moment apart differ."""
    busy = tmp_path_factory.getbasetemp()
    stop = threading.Event()

    def change() -> None:
        while not stop.wait(0.002):
            (busy / "churn").mkdir()
            (busy / "churn").rmdir()

    worker = threading.Thread(target=change, daemon=True)
    worker.start()
    yield
    stop.set()
    worker.join()


# --- running a node in isolation ---------------------------------------------------------

INNER = """
# Runs as pid 1 of a private pid namespace: starts the kubelets, reads the node with
# LocalNode and with the gather script, and pickles what it saw for the test.
import os, pickle, subprocess, sys, time
sys.path.insert(0, sys.argv[2])
from podaudit.collect.local import LocalNode
from podaudit.collect.passes import collect_view, kubelet_pid
from podaudit.collect.remote import gather_script, parse_gather
from podaudit.kubelet.resolve import analyze_node

with open(sys.argv[1], "rb") as handle:
    spec = pickle.load(handle)
# The witness piece's private directory (mktemp -d) goes where no compared folder is: a
# directory made in /tmp would change the mtime of /tmp, a parent of the test's trees.
os.environ["TMPDIR"] = os.path.join(os.path.dirname(spec["out"]), "witness-tmp")
os.makedirs(os.environ["TMPDIR"], mode=0o700, exist_ok=True)
kubelets = [subprocess.Popen(argv, cwd=cwd, executable=exe) for argv, cwd, exe in spec["kubelets"]]
try:
    time.sleep(0.3 if kubelets else 0)
    assert all(k.poll() is None for k in kubelets), "a kubelet exited"
    if spec["user"] is not None:  # read as another user; the kubelets stay root's
        child = dict(spec, kubelets=[], user=None)
        child_spec = sys.argv[1] + ".child"
        with open(child_spec, "wb") as handle:
            pickle.dump(child, handle)
        os.chmod(child_spec, 0o644)
        user = str(spec["user"])
        subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--clear-groups", sys.executable, __file__,
                        child_spec, sys.argv[2]], check=True)
        with open(spec["out"], "rb") as handle:
            result = pickle.load(handle)
        result["kubelets"] = [k.pid for k in kubelets]
    else:
        result = {"kubelets": [k.pid for k in kubelets], "scripts": [], "streams": []}
        if spec["local"]:
            local = LocalNode("/")
            result["local"], result["view"] = local, analyze_node(local.snapshot, local)
        env = dict(os.environ, PATH=spec["path"])

        def run(script):
            proc = subprocess.run([*spec["shell"], "-s"], input=script, capture_output=True, cwd=spec["cwd"],
                                  env=env)
            if proc.returncode:
                raise SystemExit(proc.stderr.decode(errors="replace"))
            result["scripts"].append(script)
            result["streams"].append(proc.stdout)
            return proc.stdout

        snapshot = collect_view(run, "localhost")[0] if spec["collect"] else None
        for script in spec["scripts"]:
            run(script)
        for paths, dirs in spec["followups"]:  # later passes, through the kubelet's root
            run(gather_script(paths, dirs, kubelet_pid=kubelet_pid(snapshot)))
    with open(spec["out"], "wb") as handle:
        pickle.dump(result, handle)
finally:
    for kubelet in kubelets:
        kubelet.kill()
        kubelet.wait()
"""


@dataclass
class Run:
    """What one isolated run saw: the kubelets' pids (in the namespace), the local
    collector and its model answer, and every script run with its output."""

    kubelets: list[int]
    scripts: list[bytes]
    streams: list[bytes]
    local: LocalNode | None = None
    view: NodeView | None = None

    def remote(self, upto: int | None = None) -> NodeSnapshot:
        """The snapshot the streams build, pass after pass."""
        snapshot = None
        for stream in self.streams[:upto]:
            snapshot = parse_gather(stream, "localhost", into=snapshot)
        assert snapshot is not None
        return snapshot


@dataclass
class Node:
    """A scenario: kubelets to start, and what to run against the node they make."""

    # (argv, cwd, executable when argv[0] is not it: a rewritten process title)
    kubelets: list[tuple[Sequence[str], str | None] | tuple[Sequence[str], str | None, str]] = field(
        default_factory=list)
    mounts: dict[str, Path] = field(default_factory=dict)
    collect: bool = True
    scripts: list[bytes] = field(default_factory=list)
    followups: list[tuple[list[str], list[str]]] = field(default_factory=list)
    local: bool = True
    user: int | None = None

    def run(self, work: Path, shell: Shell, cwd: Path) -> Run:
        """Run the scenario alone (its own PID namespace and /proc, and a /tmp of its own in
        which only the test's tree under work.parent and the binaries it uses are visible)."""
        why = why_no_namespaces()
        if why:
            pytest.skip(why)
        work.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            work.chmod(0o777)  # the other user writes its result here
        inner, spec_file, out = work / "inner.py", work / "spec.pickle", work / "result.pickle"
        inner.write_text(INNER)
        kubelets = [(list(k[0]), k[1], k[2] if len(k) > 2 else None) for k in self.kubelets]  # type: ignore[misc]
        spec = {"kubelets": kubelets, "collect": self.collect,
                "scripts": self.scripts, "followups": self.followups, "local": self.local, "user": self.user,
                "shell": list(shell.argv), "path": shell.env()["PATH"], "cwd": str(cwd), "out": str(out)}
        with open(spec_file, "wb") as handle:
            pickle.dump(spec, handle)
        prefix = list(UNSHARE)
        if self.mounts:
            binds = " && ".join(f"mount --bind {shlex.quote(str(src))} {shlex.quote(dst)}"
                                for dst, src in self.mounts.items())
            prefix += ["sh", "-c", f'{binds} && exec "$@"', "sh"]
        prefix += private_tmp(work / "tmp", [work.parent, *self.binaries(shell)])
        proc = subprocess.run([*prefix, sys.executable, str(inner), str(spec_file), str(REPO)],
                              capture_output=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        with open(out, "rb") as handle:
            return Run(**pickle.load(handle))  # written by the test's own inner script

    def binaries(self, shell: Shell) -> list[Path]:
        """The directories of the programs the run starts by absolute path, and the shell's tools."""
        found = [Path(shell.path_prefix)] if shell.path_prefix else []
        for kubelet in self.kubelets:
            found += [Path(p).parent for p in (kubelet[0][0], *kubelet[2:]) if str(p).startswith("/")]
        return found


# --- comparing ---------------------------------------------------------------------------


def assert_same_records(local: LocalNode | None, remote: NodeSnapshot) -> None:
    """Every path the local collector read is in the remote snapshot, recorded identically."""
    assert local is not None and local.snapshot.files, "the model read nothing"
    for path, record in local.snapshot.files.items():
        assert remote.files.get(path) == record, path
    for path, listing in local.snapshot.dirs.items():
        assert remote.dirs.get(path) == listing, path
    assert remote.processes == local.snapshot.processes
    assert remote.hostname == local.snapshot.hostname
    assert remote.errors == local.snapshot.errors
    assert remote.default_route == local.snapshot.default_route
    if shutil.which("ip"):
        assert remote.interfaces == local.snapshot.interfaces


def missing_paths(snapshot: NodeSnapshot) -> tuple[list[str], list[str]]:
    """(files, dirs) the kubelet model asked for that the snapshot lacks (what one more pass
    would gather)."""
    reader = RecordingReader(snapshot)
    return still_needed(reader, analyze_node(snapshot, reader))


def gathered_as_local(run: Run) -> tuple[NodeSnapshot, NodeView]:
    """The model's view of what the streams gathered, once it is checked to need nothing
    more and to match the local collector, record for record and view for view."""
    remote = run.remote()
    assert missing_paths(remote) == ([], [])
    assert_same_records(run.local, remote)
    view = analyze_node(remote)
    assert_same_view(run.view, view)
    return remote, view


def assert_same_view(local: NodeView | None, remote: NodeView) -> None:
    assert local is not None
    assert remote.static_pod_path == local.static_pod_path
    assert remote.static_pods == local.static_pods
    assert [(e.path, e.fate, e.reason) for e in remote.entries] == [(e.path, e.fate, e.reason) for e in local.entries]
    assert remote == local  # everything else too: invocation, config, problems, staleness, network


def fsname(raw: bytes) -> str:
    return os.fsdecode(raw)


def write_pod(path: Path, name: str) -> None:
    path.write_text(POD.format(name=name))


def hostile_manifests(directory: Path) -> dict[str, str]:
    """Manifests whose names no shell may mangle or run; returns name → pod name."""
    directory.mkdir(parents=True)
    raw_names = [
        b"new\nline.yaml", b"quote'\"s.yaml", b"bad\xffbyte.yaml", b"-leading-dash.yaml",
        b"trailing-newline\n", b"back\\slash.yaml", b"glob*[x]?.yaml", b"percent%s%n%%.yaml",
        b" spaced .yaml", b"tab\there.yaml", b"ctl\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a.yaml",
        b"x" * 200 + b".yaml", b"\xe2\x80\xae-rtl.yaml", *INJECTIONS,
    ]
    pods = {}
    for i, raw in enumerate(raw_names):
        write_pod(directory / fsname(raw), f"hostile{i}")
        pods[fsname(raw)] = f"hostile{i}"
    write_pod(directory / ".hidden.yaml", "hidden")
    (directory / "loop.yaml").symlink_to("loop.yaml")
    (directory / "loop-a").symlink_to("loop-b")
    (directory / "loop-b").symlink_to("loop-a")
    (directory / "dangling.yaml").symlink_to("nowhere.yaml")
    elsewhere = directory.parent / "elsewhere"
    elsewhere.mkdir()
    write_pod(elsewhere / "real.yaml", "linked")
    (directory / "linked.yaml").symlink_to("../elsewhere/real.yaml")
    (directory / "linked-dir").symlink_to("../elsewhere")
    (directory / "devnull.yaml").symlink_to("/dev/null")
    with open(directory / "big.yaml", "wb") as handle:  # 20 MB (sparse): too large, never sent
        handle.write(POD.format(name="big").encode())
        handle.truncate(20_000_000)
    locked = directory / "locked.yaml"
    write_pod(locked, "locked")
    locked.chmod(0)
    (directory / "empty.yaml").write_bytes(b"")
    (directory / "binary.yaml").write_bytes(bytes(range(256)) * 3)
    (directory / "subdir").mkdir()
    os.mkfifo(directory / "fifo")
    return pods


# --- the first pass ----------------------------------------------------------------------


def test_first_pass_matches_the_local_collector(tmp_path, workdir, shell, fake_kubelet_binary):
    pods = hostile_manifests(tmp_path / "manifests")
    (tmp_path / "kubelet.yaml").write_text(CONFIG.format(path="manifests"))
    argv = [str(fake_kubelet_binary), f"--config={tmp_path}/kubelet.yaml", "--hostname-override=Remote-Node",
            "--v", "2"]
    run = Node([(argv, None)]).run(tmp_path / "run", shell, workdir)
    assert len(run.streams) == 1  # one exec: nothing the model needed was left out
    remote, view = gathered_as_local(run)

    assert view.invocation.process is not None and view.invocation.process.pid == run.kubelets[0]
    assert view.static_pod_path.value == str(tmp_path / "manifests")
    assert view.static_pod_path.source == "config"
    running = {p.manifest_path.rpartition("/")[2]: p.name for p in view.static_pods}
    assert {name: running.get(name) for name in pods} == pods
    assert running["linked.yaml"] == "linked" and running["locked.yaml"] == "locked"
    manifests = str(tmp_path / "manifests")
    big = remote.files[f"{manifests}/big.yaml"]
    assert (big.kind, big.data, big.size) == ("file", None, 20_000_000)
    assert big.error == "too large: 20000000 bytes; the kubelet refuses files of 10485760 bytes or more"
    assert len(run.streams[0]) < 1_000_000  # the 20 MB file was not sent
    assert remote.files[f"{manifests}/loop.yaml"].error == "symbolic link loop"
    assert remote.files[f"{manifests}/dangling.yaml"].kind == "missing"
    locked = remote.files[f"{manifests}/locked.yaml"]
    assert locked.mode == 0 and locked.readable
    assert remote.files[f"{manifests}/linked.yaml"].target == str(tmp_path / "elsewhere/real.yaml")
    assert remote.files[f"{manifests}/linked.yaml"].link == "../elsewhere/real.yaml"
    assert remote.files[f"{manifests}/devnull.yaml"].kind == "other"
    assert remote.files[f"{manifests}/fifo"].kind == "other"
    assert remote.files[f"{manifests}/binary.yaml"].data == bytes(range(256)) * 3
    assert remote.files[f"{manifests}/empty.yaml"].data == b""
    assert f"{manifests}/.hidden.yaml" not in remote.files  # the kubelet never reads dot-files
    listing = remote.dirs[manifests].names
    assert listing is not None and ".hidden.yaml" in listing and fsname(b"bad\xffbyte.yaml") in listing


def test_processes_and_node_facts(tmp_path, workdir, sh, fake_kubelet_binary):
    (tmp_path / "kubelet.yaml").write_text(CONFIG.format(path="/nonexistent-podaudit"))
    first = [str(fake_kubelet_binary), "--config", "kubelet.yaml", "--x=\ny z", "", "--t=\t"]
    second = [str(fake_kubelet_binary), f"--config={tmp_path}/kubelet.yaml"]
    run = Node([(first, str(tmp_path)), (second, None)]).run(tmp_path / "run", sh, workdir)
    remote = run.remote()
    assert_same_records(run.local, remote)
    assert_same_view(run.view, analyze_node(remote))
    ours = {p.pid: p for p in remote.processes}
    assert sorted(ours) == sorted(run.kubelets)
    one = ours[run.kubelets[0]]
    assert one.argv == (str(fake_kubelet_binary), "--config", "kubelet.yaml", "--x=\ny z", "", "--t=\t")
    assert one.cwd == str(tmp_path) and one.exe == str(fake_kubelet_binary)
    assert one.start_time is not None
    assert remote.files[str(tmp_path / "kubelet.yaml")].kind == "file"  # relative --config, against the cwd
    missing = remote.files["/nonexistent-podaudit"]
    assert (missing.kind, missing.error) == ("missing", "missing")
    assert any("2 kubelet processes" in p.text() for p in analyze_node(remote).problems)


# --- later passes ------------------------------------------------------------------------


def test_second_pass_fills_what_the_model_needed(tmp_path, workdir, shell, fake_kubelet_binary):
    """staticPodPath set only in a JSON --config-dir drop-in: the script cannot guess it."""
    (tmp_path / "kubelet.yaml").write_text(CONFIG.format(path="/nonexistent-podaudit"))
    conf_d = tmp_path / "conf.d"
    (conf_d / "nested").mkdir(parents=True)
    (conf_d / "nested/20-more.conf").write_text('{"kind": "KubeletConfiguration", '
                                                 '"apiVersion": "kubelet.config.k8s.io/v1beta1", "maxPods": 7}')
    hidden = tmp_path / "hidden-pods"
    (conf_d / "10-path.conf").write_text(
        '{"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", '
        f'"staticPodPath": "{tmp_path}/hidden\\u002dpods"}}')
    (conf_d / ".dot.conf").write_text("ignored")
    hidden.mkdir()
    write_pod(hidden / "late.yaml", "late")
    write_pod(hidden / "new\nline $(touch pwned).yaml", "late2")
    argv = [str(fake_kubelet_binary), f"--config={tmp_path}/kubelet.yaml", f"--config-dir={conf_d}"]
    run = Node([(argv, None)]).run(tmp_path / "run", shell, workdir)

    first = run.remote(1)
    assert first.files[str(conf_d / "nested/20-more.conf")].data  # the drop-in dir was walked
    files, dirs = missing_paths(first)
    assert (files, dirs) == ([], [str(hidden)])
    assert run.scripts[1] == gather_script(files, dirs, kubelet_pid=kubelet_pid(first))
    assert len(run.streams) == 2  # collect_view() stopped after the second exec
    remote = parse_gather(run.streams[1], "ignored", into=first)
    assert remote is first
    assert missing_paths(remote) == ([], [])
    assert_same_records(run.local, remote)
    assert_same_view(run.view, analyze_node(remote))
    assert sorted(p.name for p in analyze_node(remote).static_pods) == ["late", "late2"]


def test_paths_mode_gathers_exactly_the_given_paths(tmp_path, workdir, shell):
    """Paths holding every byte but NUL and '/' are embedded safely and reported as given."""
    every = bytes(b for b in range(1, 256) if b != ord("/"))
    names = [every, b"\n", b"trail\n\n", b"%s%n%%", b"-n", b"-", *INJECTIONS]
    directory = tmp_path / "paths"
    directory.mkdir()
    for i, raw in enumerate(names):
        (directory / fsname(raw)).write_bytes(b"content %d\n" % i)
    (directory / "link").symlink_to(fsname(every))
    wanted = [f"{directory}/{fsname(raw)}" for raw in names]
    wanted += [f"{directory}/link", f"{directory}/absent\n", "/nonexistent-podaudit/x/y",
               f"{directory}/{fsname(names[0])}/x", f"{directory}/link/x", f"{str(directory)[1:]}/link",
               f"/{directory}//./link", "/", "/proc/self/status"]
    run = Node(collect=False, local=False, scripts=[gather_script(wanted, [str(directory)])]).run(
        tmp_path / "run", shell, workdir)
    remote = run.remote()
    local = RootFS("/")
    for path in wanted[:-1]:
        assert remote.files[path] == local.read(path), path
    assert remote.files["/proc/self/status"].kind == "file"  # a size-0 procfs file: read to its end
    assert remote.dirs[str(directory)] == local.listdir(str(directory))
    assert remote.files[f"{directory}/{fsname(every)}"].data == b"content 0\n"
    assert remote.processes == [] and remote.hostname is None


def test_a_failed_listing_is_not_taken_for_an_empty_directory(tmp_path, workdir):
    broken = tmp_path / "broken-bin"
    broken.mkdir()
    (broken / "find").write_text("#!/bin/sh\nexit 1\n")
    (broken / "find").chmod(0o755)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir/a.yaml").write_text("x")
    shell = Shell("sh", ("sh",), str(broken))
    run = Node(collect=False, local=False, scripts=[gather_script([], [str(tmp_path / "dir")])]).run(
        tmp_path / "run", shell, workdir)
    listing = run.remote().dirs[str(tmp_path / "dir")]
    assert (listing.names, listing.error) == (None, "could not be listed (find failed on the node)")


def test_a_small_cap_refuses_files_of_cap_bytes_or_more(tmp_path, workdir, sh):
    for size in (99, 100, 101):
        (tmp_path / f"f{size}").write_bytes(b"x" * size)
    procfs = "/proc/self/status"  # says size 0, holds more than the cap
    paths = [str(tmp_path / f"f{size}") for size in (99, 100, 101)] + [procfs]
    hostname = "/proc/sys/kernel/hostname"
    scripts = [gather_script(paths, cap=100), gather_script([hostname])]
    run = Node(collect=False, local=False, scripts=scripts).run(tmp_path / "run", sh, workdir)
    remote = parse_gather(run.streams[0], "x")
    for path in paths[:3]:
        assert remote.files[path] == RootFS("/").read(path, limit=100), path
    assert remote.files[procfs].error == "too large: the kubelet refuses files of 100 bytes or more"
    # The script reads in small blocks; RootFS asks read(2) for the whole cap at once, which
    # sysctl files refuse with ENOMEM at 10 MiB, so compare with a small limit.
    small = parse_gather(run.streams[1], "x")
    assert small.files[hostname].data == RootFS("/").read(hostname, 4096).data


# --- a kubelet that sees another root ----------------------------------------------------

KUBEADM_UNIT = """[Unit]
Description=kubelet: The Kubernetes Node Agent

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
"""
KUBEADM_DROPIN = """[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
KUBEADM_ARGV = ["/usr/bin/kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
                "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
                "--pod-infra-container-image=registry.k8s.io/pause:3.10"]


@pytest.fixture(scope="session")
def static_kubelet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake kubelet linked statically, to run inside a bare root directory."""
    out = tmp_path_factory.mktemp("static") / "kubelet"
    source = Path(__file__).parent / "support/fake_kubelet.c"
    built = subprocess.run(["cc", "-static", "-O2", "-o", str(out), str(source)], capture_output=True, check=False)
    if built.returncode != 0:
        pytest.skip("cannot link a static fake kubelet (cc -static)")
    return out


def kubeadm_root(root: Path, binary: Path) -> None:
    """A kubeadm control-plane node's files, as a root directory to chroot into."""
    (root / "usr/bin").mkdir(parents=True)
    shutil.copy(binary, root / "usr/bin/kubelet")
    units = root / "usr/lib/systemd/system"
    (units / "kubelet.service.d").mkdir(parents=True)
    (units / "kubelet.service").write_text(KUBEADM_UNIT)
    (units / "kubelet.service.d/10-kubeadm.conf").write_text(KUBEADM_DROPIN)
    (root / "lib").symlink_to("usr/lib")
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/default/kubelet").write_text("KUBELET_EXTRA_ARGS=\n")
    (root / "etc/hostname").write_text("CP-1\n")
    (root / "var/lib/kubelet").mkdir(parents=True)
    (root / "var/lib/kubelet/kubeadm-flags.env").write_text(
        'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock '
        '--pod-infra-container-image=registry.k8s.io/pause:3.10"\n')
    (root / "var/lib/kubelet/config.yaml").write_text(CONFIG.format(path="/etc/kubernetes/manifests"))
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        write_pod(root / f"etc/kubernetes/manifests/{name}.yaml", name)


def kubeadm_node(tmp_path: Path, binary: Path, **options: object) -> Node:
    if shutil.which("chroot") is None:
        pytest.skip("chroot is not installed")
    root = tmp_path / "node"
    kubeadm_root(root, binary)
    return Node([(["chroot", str(root), *KUBEADM_ARGV], None)], **options)  # type: ignore[arg-type]


def test_kubelet_in_another_root_is_read_through_proc_root(tmp_path, workdir, shell, static_kubelet):
    etcd = "/etc/kubernetes/manifests/etcd.yaml"
    node = kubeadm_node(tmp_path, static_kubelet, followups=[([etcd], [])])
    run = node.run(tmp_path / "run", shell, workdir)
    assert run.local is not None and run.local.view is not run.local.host  # read through /proc/<pid>/root
    remote = run.remote(1)
    assert missing_paths(remote) == ([], [])
    assert_same_records(run.local, remote)
    view = analyze_node(remote)
    assert_same_view(run.view, view)
    assert remote.hostname == "CP-1"
    assert sorted(p.mirror_name for p in view.static_pods) == [
        "etcd-cp-1", "kube-apiserver-cp-1", "kube-controller-manager-cp-1", "kube-scheduler-cp-1"]
    unit = view.invocation.unit
    assert unit is not None and unit.unit_path == "/usr/lib/systemd/system/kubelet.service"
    # A later pass reads through the same root.
    later = parse_gather(run.streams[-1], "x")
    assert later.files[etcd] == run.local.file(etcd)


def test_fork_budget_on_a_kubeadm_node(tmp_path, workdir, static_kubelet):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace"
    strace = Shell("strace", ("strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3", "-o", str(trace), "sh"))
    kubeadm_node(tmp_path, static_kubelet, collect=False, local=False, scripts=[gather_script()]).run(
        tmp_path / "run", strace, workdir)
    calls = [line for line in trace.read_text().splitlines()
             if line.split(" ", 1)[-1].lstrip().startswith(("fork(", "vfork(", "clone(", "clone3("))
             and "= -1" not in line]
    print(f"the gather script forked {len(calls)} processes on a kubeadm control-plane node")
    # 30, plus one stat per parent of the static pod directory (PA403), plus the witness
    # piece's 6 on a node with neither crictl nor a client certificate (mktemp, one curl to
    # the read-only port: its pipeline of 4, rm).
    assert len(calls) <= 42


# --- no kubelet running, and a reader without root ---------------------------------------

def no_kubelet_layers(base: Path) -> dict[str, Path]:
    """A kubeadm node whose kubelet is stopped: units, env files and a non-default config."""
    run_units = base / "run-systemd/system"
    (run_units / "kubelet.service.d").mkdir(parents=True)
    (run_units / "kubelet.service").write_text(KUBEADM_UNIT)
    (run_units / "kubelet.service.d/10-kubeadm.conf").write_text(
        KUBEADM_DROPIN.replace("/var/lib/kubelet/config.yaml", "/var/lib/kubelet/custom config.yaml")
        .replace('"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/custom config.yaml"',
                 "KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/custom-config.yaml")
        .replace("EnvironmentFile=-/etc/default/kubelet", "EnvironmentFile=-/etc/default/kubelet-extra.env"))
    (run_units / "kubelet.service.d/.hidden.conf").write_text("[Service]\nExecStart=\n")
    etc_units = base / "etc-systemd-system"
    (etc_units / "kubelet.service.d").mkdir(parents=True)
    (etc_units / "kubelet.service.d/20-more.conf").write_text('[Service]\nEnvironment="KUBELET_EXTRA_ARGS=--v=2"\n')
    (etc_units / "k3s.service").symlink_to("/dev/null")
    var_lib = base / "var-lib"
    (var_lib / "kubelet/static").mkdir(parents=True)
    (var_lib / "kubelet/kubeadm-flags.env").write_text('KUBELET_KUBEADM_ARGS="--node-ip=192.0.2.9"\n')
    (var_lib / "kubelet/custom-config.yaml").write_text(CONFIG.format(path='"static"  # relative'))
    write_pod(var_lib / "kubelet/static/etcd.yaml", "etcd")
    write_pod(var_lib / "kubelet/static/new\nline.yaml", "odd")
    etc_default = base / "etc-default"
    etc_default.mkdir()
    (etc_default / "kubelet-extra.env").write_text("KUBELET_EXTRA_ARGS=--hostname-override=Stopped-Node\n")
    return {"/run/systemd": base / "run-systemd", "/etc/systemd/system": etc_units, "/var/lib": var_lib,
            "/etc/default": etc_default}


def test_no_kubelet_running_is_gathered_from_the_units_in_one_pass(tmp_path, workdir, shell):
    run = Node(mounts=no_kubelet_layers(tmp_path / "layers")).run(tmp_path / "run", shell, workdir)
    assert run.local is not None and run.local.snapshot.processes == []
    assert len(run.streams) == 1
    _, view = gathered_as_local(run)
    assert view.invocation.argv_source == "systemd"
    assert view.static_pod_path.value == "/var/lib/kubelet/static"
    assert sorted(p.mirror_name for p in view.static_pods) == ["etcd-stopped-node", "odd-stopped-node"]


def test_k3s_with_a_rewritten_title_and_its_default_dirs(tmp_path, workdir, shell, fake_kubelet_binary):
    """k3s runs the kubelet in-process: its defaults dir and manifests are gathered in pass 1."""
    var_lib = tmp_path / "var-lib"
    conf_d = var_lib / "rancher/k3s/agent/etc/kubelet.conf.d"
    conf_d.mkdir(parents=True)
    manifests = var_lib / "rancher/k3s/agent/pod-manifests"
    (conf_d / "00-k3s-defaults.conf").write_text(CONFIG.format(path="/var/lib/rancher/k3s/agent/pod-manifests"))
    manifests.mkdir()
    write_pod(manifests / "coredns.yaml", "coredns")
    binary = tmp_path / "k3s"  # its exe must not be named kubelet
    shutil.copy(fake_kubelet_binary, binary)
    k3s = [("/usr/local/bin/k3s server",), None, str(binary)]
    run = Node([k3s], mounts={"/var/lib": var_lib}).run(tmp_path / "run", shell, workdir)  # type: ignore[list-item]
    assert len(run.streams) == 1
    _, view = gathered_as_local(run)
    assert view.invocation.kind == "k3s"
    assert view.static_pod_path.value == "/var/lib/rancher/k3s/agent/pod-manifests"
    assert [p.name for p in view.static_pods] == ["coredns"]


def test_rke2_s_kubelet_child_and_its_manifests_in_one_pass(tmp_path, workdir, shell, fake_kubelet_binary):
    """rke2 starts the kubelet as a child with only --config-dir=<data-dir>/agent/etc/kubelet.conf.d,
    where rke2's drop-in sets staticPodPath to <data-dir>/agent/pod-manifests: the first pass
    gathers that folder (the script reads no staticPodPath from drop-ins), so one exec does."""
    var_lib = tmp_path / "var-lib"
    conf_d = var_lib / "rancher/rke2/agent/etc/kubelet.conf.d"
    conf_d.mkdir(parents=True)
    (conf_d / "00-rke2-defaults.conf").write_text(CONFIG.format(path="/var/lib/rancher/rke2/agent/pod-manifests"))
    manifests = var_lib / "rancher/rke2/agent/pod-manifests"
    manifests.mkdir()
    write_pod(manifests / "etcd.yaml", "etcd")
    argv = [str(fake_kubelet_binary), "--config-dir=/var/lib/rancher/rke2/agent/etc/kubelet.conf.d",
            "--hostname-override=rke2-cp", "--file-check-frequency=5s"]
    run = Node([(argv, None)], mounts={"/var/lib": var_lib}).run(tmp_path / "run", shell, workdir)
    assert len(run.streams) == 1
    _, view = gathered_as_local(run)
    assert view.invocation.kind == "kubelet"
    assert view.static_pod_path.value == "/var/lib/rancher/rke2/agent/pod-manifests"
    assert [p.mirror_name for p in view.static_pods] == ["etcd-rke2-cp"]


def test_a_reader_without_root_records_what_it_may_not_read(tmp_path, fake_kubelet_binary, sh):
    base = tmp_path / "nobody"  # in the run's own /tmp its parents are open to nobody
    base.mkdir()
    try:
        base.chmod(0o777)
        manifests = base / "manifests"
        manifests.mkdir(mode=0o755)
        write_pod(manifests / "open.yaml", "open")
        write_pod(manifests / "secret.yaml", "secret")
        (manifests / "secret.yaml").chmod(0o600)
        (manifests / "unlisted").mkdir()
        (manifests / "unlisted").chmod(0o311)
        conf_d = base / "conf.d"
        conf_d.mkdir()
        conf_d.chmod(0o700)
        (base / "kubelet.yaml").write_text(CONFIG.format(path=manifests))
        binary = base / "kubelet"
        shutil.copy(fake_kubelet_binary, binary)
        argv = [str(binary), f"--config={base}/kubelet.yaml", f"--config-dir={conf_d}"]
        run = Node([(argv, None)], user=NOBODY).run(base / "run", sh, base)
        remote = run.remote()
        assert missing_paths(remote) == ([], [])
        assert_same_records(run.local, remote)
        view = analyze_node(remote)
        assert_same_view(run.view, view)
        secret = remote.files[f"{manifests}/secret.yaml"]
        assert (secret.kind, secret.error, secret.mode) == ("denied", DENIED, 0o600)
        assert remote.dirs[str(conf_d)].error == DENIED
        assert remote.processes[0].exe is None  # /proc/<pid>/exe of root's process
        assert view.incomplete
    finally:
        shutil.rmtree(base)


# --- the stream and the script -----------------------------------------------------------


def test_no_marker_means_the_script_did_not_run():
    with pytest.raises(GatherError, match="did not run"):
        parse_gather(b"", "x")
    with pytest.raises(GatherError, match="did not run"):
        parse_gather(b"sudo: a password is required\n", "x")
    with pytest.raises(GatherError, match="version"):
        parse_gather(b"PODAUDIT-GATHER 99\nEND\n", "x")
    assert GATHER_VERSION == 3


def test_scripts_parse_in_every_shell():
    template = script_template().encode("ascii")
    for script in (template, gather_script(), gather_script(["/a\n'b"], ["/c"], kubelet_pid=1)):
        for name in ("sh", "dash", "bash", "busybox"):
            if shutil.which(name):
                argv = ["busybox", "sh", "-n"] if name == "busybox" else [name, "-n"]
                proc = subprocess.run(argv, input=script, capture_output=True, check=False)
                assert proc.returncode == 0, (name, proc.stderr)
    assert gather_script().isascii() and gather_script(["/\xff\n"]).isascii()


def test_the_script_is_every_piece_once_and_runs_only_at_its_last_line():
    """The pieces in podaudit/collect/gather/ are joined in PIECES order into the one script
    sent per pass; none is forgotten, and until main.sh's last line the script only defines
    (so a node runs nothing before it has read the whole script)."""
    # watch.sh is not a piece: podaudit watch's node-side loop (watch/remote.py), sent alone
    assert sorted(PIECES) == sorted(p.name for p in PIECES_DIR.iterdir() if p.name != "watch.sh")
    assert (PIECES[0], PIECES[-1]) == ("prelude.sh", "main.sh")
    template = script_template()
    *body, last = template.rstrip("\n").split("\n")
    assert last == "main </dev/null" and template.count("main </dev/null") == 1
    for name in ("sh", "dash", "bash", "busybox"):
        if shutil.which(name):
            argv = ["busybox", "sh", "-s"] if name == "busybox" else [name, "-s"]
            proc = subprocess.run(argv, input="\n".join(body).encode(), capture_output=True, check=False)
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b""), name
    # Shipped: the package data globs (pyproject's [tool.setuptools.package-data]) match each piece.
    data = re.search(r"^podaudit = \[(.*)\]$", (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    assert data is not None
    shipped = re.findall(r'"([^"]+)"', data.group(1))
    assert all(any(fnmatch.fnmatch(f"collect/gather/{p}", glob) for glob in shipped) for p in PIECES)


def test_invalid_paths_are_answered_as_the_local_collector_would():
    snapshot = NodeSnapshot("x")
    reader = RecordingReader(snapshot)
    assert reader.file("/a\0b") == RootFS("/").read("/a\0b")
    assert reader.listdir("/a\0b") == RootFS("/").listdir("/a\0b")
    assert reader.file("/etc/x").kind == "uncollected"
    assert (reader.wanted_files, reader.wanted_dirs) == ({"/etc/x"}, set())
    assert b"\\000" not in gather_script(["/a\0b"])


@functools.cache
def sample_stream() -> bytes:
    return subprocess.run(["sh", "-s"], input=gather_script(["/etc/hostname", "/nonexistent"], ["/etc/default"]),
                          capture_output=True, check=True).stdout


def test_every_truncation_is_an_error():
    stream = sample_stream()
    parse_gather(stream, "x")
    for end in range(len(stream)):
        with pytest.raises(GatherError):
            parse_gather(stream[:end], "x")


WITNESS_STREAM = (b"PODAUDIT-GATHER 3\nM witnesses 10485760\n"
                  b"W cri pods 0\nunix:///run/containerd/containerd.sock\0{\"items\": []}\0\0"
                  b"W cri ps 0\nunix:///run/containerd/containerd.sock\0{\"containers\": []}\0\0"
                  b"W none https\nno client certificate on the node\0"
                  b"W http pods 0 403\nhttp://127.0.0.1:10255/pods\0read-only-port\0Forbidden (user=x)\0\0END\n")


def test_witness_records_are_read_and_every_truncation_is_an_error():
    """The W records (gather/witnesses.sh) make snapshot.witnesses; cut anywhere, the stream
    is refused as any other."""
    witnesses = parse_gather(WITNESS_STREAM, "x").witnesses
    assert witnesses is not None
    assert (witnesses.runtime.witness.status.value, witnesses.runtime.sandboxes) == ("heard", ())
    assert witnesses.kubelet.witness.status.value == "refused"
    assert "no client certificate" in witnesses.kubelet.witness.detail
    assert parse_gather(sample_stream(), "x").witnesses is None  # a later pass asks no witness
    for end in range(len(WITNESS_STREAM)):
        with pytest.raises(GatherError):
            parse_gather(WITNESS_STREAM[:end], "x")
    for bad in (b"W cri pods\n", b"W http pods 0 2000\n", b"W none disk\nx\0", b"W maybe\n"):
        with pytest.raises(GatherError):
            parse_gather(b"PODAUDIT-GATHER 3\nM witnesses 1\n" + bad + b"END\n", "x")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_gather_error(data):
    for stream in (data, b"PODAUDIT-GATHER 3\n" + data):
        try:
            parse_gather(stream, "x")
        except GatherError as exc:
            assert "\n" not in str(exc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupted_streams_raise_only_gather_error(data):
    stream = bytearray(sample_stream())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(stream) - 1))
        stream[at] = data.draw(st.integers(0, 255))
    try:
        parse_gather(bytes(stream), "x")
    except GatherError as exc:
        assert "\n" not in str(exc)



TOKENS = st.one_of(st.sampled_from(["ok", "err", "list", "none", "deny", "fail", "raw", "hex", "big", "discover",
                                    "paths", "host", "proc", "0", "1", "-", "ecsg", "81a4", "41ed", "a1ff",
                                    "witnesses", "cri", "http", "runtime", "kubelet", "https", "pods", "ps",
                                    "inspect", "logs", "configz", "200", "403", "124", "cat", "no"]),
                   st.integers(-(10**30), 10**30).map(str), st.text("0123456789abcdef-", min_size=1, max_size=30))
RECORDS = st.lists(st.tuples(st.sampled_from(list("MFVDPHBKRICEWXLZ")), st.lists(TOKENS, max_size=12),
                             st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"")), max_size=8),
                             st.binary(max_size=30)), max_size=8)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS, st.booleans())
def test_record_shaped_garbage_raises_only_gather_error(records, end):
    stream = b"PODAUDIT-GATHER 3\n" + b"".join(
        " ".join([kind, *tokens]).encode() + b"\n" + b"".join(s + b"\0" for s in strings) + tail
        for kind, tokens, strings, tail in records) + (b"END\n" if end else b"")
    try:
        snapshot = parse_gather(stream, "x")
    except GatherError as exc:
        assert "\n" not in str(exc)
    else:
        analyze_node(snapshot)  # whatever parsed is a snapshot the model can read
