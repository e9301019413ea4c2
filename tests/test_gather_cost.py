"""What the gather script costs a node: the programs it runs and the bytes it sends back (issue 17).

Each pass is one ``sh``; the node's CPU goes mostly to the programs that sh starts (each exec
costs about as much as a cat or an ls), so these tests count them with ``strace -f`` on a
kubeadm control-plane node (tests/test_remote_collector.py's, in a private PID and mount
namespace) and on a directory of many manifests, and assert the counts the script reaches:
a regression (one program per file again) fails here. No timings: scripts/bench shows those.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from podaudit.collect.gather_parse import _Cursor, _read_p
from podaudit.collect.records import GatherError, Raw
from podaudit.collect.remote import gather_script, parse_gather
from podaudit.collect.rootfs import RootFS
from podaudit.kubelet.invocation import KUBELET_UNITS
from podaudit.kubelet.resolve import analyze_node
from podaudit.kubelet.unitfiles import UNIT_DIRS
from tests.test_remote_collector import (  # noqa: F401 (fixtures, shared with that module)
    POD,
    Node,
    Shell,
    kubeadm_node,
    missing_paths,
    no_injection,
    static_kubelet,
    workdir,
)
from tests.test_witness_node import Node as WitnessNode
from tests.test_witness_node import WitnessStatus, ask, node, refused  # noqa: F401 (fixtures)

EXEC = re.compile(r'^\d+ +execve\("([^"]+)"')


def traced(tmp_path: Path, name: str) -> tuple[Shell, Path]:
    """sh under strace, writing every successful execve of it and its children to a file."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / f"{name}.trace"
    argv = ("strace", "-f", "-qq", "-e", "trace=execve", "-e", "status=successful", "-e", "signal=none",
            "-o", str(trace), "sh")
    return Shell("strace", argv), trace


def programs(trace: Path) -> list[str]:
    """The programs run, by name, in order: every execve but the first (sh itself)."""
    found = [m.group(1).rpartition("/")[2] for line in trace.read_text().splitlines() if (m := EXEC.match(line))]
    assert found[0] == "sh", found
    return found[1:]


# A clone, fork or vfork that returned a child's pid (strace -f: maybe on a "resumed" line).
CLONE = re.compile(r"^(\d+) +(?:<\.\.\. )?(?:clone3?|v?fork)\b.* = (\d+)$")


def programs_outside(trace: Path, name: str) -> list[str]:
    """programs(trace), less what program ``name`` ran (its children, the fake crictl's)."""
    parent: dict[str, str] = {}
    ran: list[tuple[str, str]] = []
    for line in trace.read_text().splitlines():
        if m := CLONE.match(line):
            parent[m.group(2)] = m.group(1)
        elif m := EXEC.match(line):
            ran.append((line.split()[0], m.group(1).rpartition("/")[2]))
    named = {pid for pid, program in ran if program == name}

    def inside(pid: str) -> bool:
        while pid in parent:
            pid = parent[pid]
            if pid in named:
                return True
        return False

    assert ran[0][1] == "sh", ran
    return [program for pid, program in ran[1:] if not inside(pid)]


def test_the_first_pass_on_a_kubeadm_node_runs_nine_programs(tmp_path, workdir, static_kubelet):  # noqa: F811
    shell, trace = traced(tmp_path, "discover")
    run = kubeadm_node(tmp_path, static_kubelet, collect=False, local=False, scripts=[gather_script()]).run(
        tmp_path / "run", shell, workdir)
    ran = programs(trace)
    print(f"the first pass ran {len(ran)} programs and sent {len(run.streams[0])} bytes: {ran}")
    # Finding the kubelet (grep; ls: every exe, and the cwd of what grep found), its argv for the
    # P record too (tr: no od, no readlink), the addresses (ip), then one find for every listing
    # and one stat, one cat (bounded by one head) and one stat again (the files are still those
    # stat saw) for every file of the pass: the 4 manifests, 2 units, 2 env files and the
    # config are not a program each.
    assert sorted(ran) == sorted(["grep", "ls", "tr", "find", "stat", "cat", "head", "stat",
                                  *(["ip"] if shutil.which("ip") else [])])
    # 17.4 KB before the units and settings files of other kinds of kubelet were left out.
    assert len(run.streams[0]) <= 8_000  # 6.3 KB here; the rest: paths and addresses of the machine
    snapshot = parse_gather(run.streams[0], "cp-1")
    assert snapshot.files["/etc/kubernetes/manifests/etcd.yaml"].data == POD.format(name="etcd").encode()


def test_a_running_kubelet_s_first_pass_asks_only_for_its_own_unit(tmp_path, workdir, static_kubelet):  # noqa: F811
    """With a kubelet running, the model reads the unit that started it and no other
    (invocation._unit_of; find_invocation tries every KUBELET_UNITS only when none runs), and
    the k3s, rke2 and MicroK8s settings files only for those kinds (invocation._finish), so the
    first pass asks nothing of theirs on a kubeadm node, and still misses nothing."""
    run = kubeadm_node(tmp_path, static_kubelet, collect=False, local=False, scripts=[gather_script()]).run(
        tmp_path / "run", Shell("sh", ("sh",)), workdir)
    snapshot = parse_gather(run.streams[0], "cp-1")
    asked = {p for p in (*snapshot.files, *snapshot.dirs) if p.startswith(UNIT_DIRS)}
    others = [u.removesuffix(".service") for u in KUBELET_UNITS if u != "kubelet.service"]
    assert asked and not [p for p in asked if any(u in p for u in others)]
    assert "/usr/lib/systemd/system/kubelet.service.d" in asked
    assert not [p for p in (*snapshot.files, *snapshot.dirs) if p.startswith(("/etc/rancher", "/var/lib/rancher",
                                                                              "/var/snap"))]
    assert missing_paths(snapshot) == ([], [])
    assert analyze_node(snapshot).invocation.unit.unit_path == "/usr/lib/systemd/system/kubelet.service"


def test_a_pass_over_many_manifests_runs_the_same_programs_as_over_one(tmp_path, workdir):  # noqa: F811
    """One find, one stat, one cat per chunk of 500 paths, never one program a file (it was
    a dd and a stat per file: a node of 10,000 manifests took over 60 s)."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    for i in range(1200):
        (folder / f"pod-{i:04}.yaml").write_text(POD.format(name=f"pod-{i}"))
    (folder / "link.yaml").symlink_to("pod-0000.yaml")
    shell, trace = traced(tmp_path, "paths")
    script = gather_script([], [str(folder)], kubelet_pid=1)  # pid 1 of the namespace: its root is /
    run = Node(collect=False, local=False, scripts=[script]).run(tmp_path / "run", shell, workdir)
    ran = programs(trace)
    # 1202 F records (the directory, its entries) in 3 chunks: a stat, a cat, its head and a stat
    # again each, one stat for the link's own inode and one readlink; one find for the listing.
    assert sorted(ran) == sorted(["find", *["stat", "cat", "head", "stat"] * 3, "stat", "readlink"]), ran
    snapshot = parse_gather(run.streams[0], "x")
    local = RootFS("/")
    for name in ("pod-0000.yaml", "pod-0499.yaml", "pod-0500.yaml", "pod-1199.yaml", "link.yaml"):
        assert snapshot.files[f"{folder}/{name}"] == local.read(f"{folder}/{name}"), name
    assert snapshot.dirs[str(folder)] == local.listdir(str(folder))
    # Beyond the bytes: a record header, the path, and its entry in the listing, a file.
    overhead = len(run.streams[0]) - sum(p.stat().st_size for p in folder.iterdir() if not p.is_symlink())
    print(f"{len(run.streams[0])} bytes, {overhead / 1201:.0f} a file beyond its bytes")
    assert overhead <= 1201 * (2 * len(f"{folder}/pod-0000.yaml") + 80)


def test_sizes_that_change_and_change_back_never_move_bytes_into_another_file(tmp_path, workdir):  # noqa: F811
    """A chunk's files travel as one cat. Its owner grows one file and shrinks a later one by as
    much between stat and cat (here a cat that does it first): the total is unchanged, and
    without a check the root-owned file between them would carry the owner's bytes. The stat
    after the cat sees other sizes and ctimes, the closing line (with the node's random UUID,
    which no file can hold) says so, and all the chunk's files are void; the records after
    still parse (review of issue 17's batching)."""
    real = shutil.which("cat")
    head = shutil.which("head")
    assert real is not None and head is not None
    grown, victim, shrunk = tmp_path / "a.yaml", tmp_path / "c.yaml", tmp_path / "b.yaml"
    for path in (grown, victim, shrunk):
        path.write_text(POD.format(name=path.stem))
    size = shrunk.stat().st_size
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cat").write_text(
        f"#!/bin/sh\nprintf EVIL >> '{grown}'\n{head} -c {size - 4} '{shrunk}' > '{tmp_path}/t'\n"
        f"{real} '{tmp_path}/t' > '{shrunk}'\nexec {real} \"$@\"\n")
    (bin_dir / "cat").chmod(0o755)
    paths = [str(grown), str(victim), str(shrunk), str(tmp_path / "absent")]
    script = gather_script(paths, kubelet_pid=1)
    run = Node(collect=False, local=False, scripts=[script]).run(tmp_path / "run", Shell("sh", ("sh",), str(bin_dir)),
                                                                 workdir)
    assert shrunk.stat().st_size == size - 4 and b"EVIL" in grown.read_bytes()  # the total stayed
    snapshot = parse_gather(run.streams[0], "x")
    for path in (grown, victim, shrunk):
        record = snapshot.files[str(path)]
        assert (record.kind, record.data, record.error) == ("file", None, "the file changed while it was read")
    assert snapshot.files[str(tmp_path / "absent")].kind == "missing"
    # The same stream cut anywhere is refused, never mis-framed.
    for end in range(len(run.streams[0])):
        with pytest.raises(GatherError):
            parse_gather(run.streams[0][:end], "x")


def test_a_cat_that_says_more_than_the_files_hold_is_cut_at_their_sizes(tmp_path, workdir):  # noqa: F811
    """head bounds the cat at the sizes stat saw: extra bytes (a file swapped for /dev/zero after
    its stat, a cat that adds text) never reach the records or shift the stream."""
    real = shutil.which("cat")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cat").write_text(f'#!/bin/sh\n{real} "$@"\nprintf "grown\\nX 0\\n"\n')
    (bin_dir / "cat").chmod(0o755)
    files = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    for path in files:
        path.write_text(POD.format(name=path.stem))
    script = gather_script([str(p) for p in files], kubelet_pid=1)
    run = Node(collect=False, local=False, scripts=[script]).run(tmp_path / "run", Shell("sh", ("sh",), str(bin_dir)),
                                                                 workdir)
    snapshot = parse_gather(run.streams[0], "x")
    assert [snapshot.files[str(p)].data for p in files] == [p.read_bytes() for p in files]
    assert b"grown" not in run.streams[0]


def test_each_crictl_call_is_timeout_crictl_and_head(tmp_path: Path, node: WitnessNode,  # noqa: F811
                                                     refused: int) -> None:  # noqa: F811
    """The runtime witness of a control plane whose kube-apiserver crash-loops: pods, ps -a,
    then inspect and logs of the failing container. Each call is timeout(1), crictl and head
    (tail for the log's end); its answer stays in the shell (no tr, no cat of a file), one
    private directory holds the statuses and stderr (one mktemp, one rm), and timeout(1) is
    not probed (it was `timeout N true`: two programs a node). Identical answers: the
    container's restarts and last log line as before."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    node.socket()
    node.broken_control_plane()
    trace = node.root.parent / "witness.trace"
    shell = f"strace -f -qq -e trace=execve,clone,clone3,fork,vfork -e status=successful -e signal=none -o {trace} sh"
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}", shell)
    runtime = asked.witnesses.runtime
    assert runtime.witness.status is WitnessStatus.HEARD
    api = next(p for p in runtime.sandboxes or () if p.name == "kube-apiserver-cp1")
    assert (api.containers[0].exit_code, api.containers[0].restarts) == (1, 14)
    assert [call.split()[2] for call in node.calls()] == ["pods", "ps", "inspect", "logs"]
    ran = programs_outside(trace, "crictl")
    print(f"the witnesses-only script ran {len(ran)} programs: {ran}")
    # Finding the kubelet (grep, ls; a tr for each process whose argv names one: here this
    # test's own runner's too), then the four calls and the private directory.
    assert sorted(p for p in ran if p != "tr") == sorted(["grep", "ls", "mktemp", *["timeout", "crictl"] * 4,
                                                         "head", "head", "head", "tail", "rm"])
    assert asked.leftovers == []


def test_an_old_busybox_timeout_is_learnt_from_the_first_call(tmp_path: Path, node: WitnessNode,  # noqa: F811
                                                              refused: int) -> None:  # noqa: F811
    """busybox's timeout before 1.30 takes its seconds as -t N: given `timeout N crictl`, it
    fails to run a program named N (status 127). That first call is made again its way, and
    every later one too; the answers are the same."""
    tools = tmp_path / "old-busybox"
    tools.mkdir()
    (tools / "crictl").symlink_to(node.tools / "crictl")
    (tools / "timeout").write_text('#!/bin/sh\n[ "$1" = -t ] || { echo "timeout: can\'t execute \'$1\': '
                                   'No such file or directory" >&2; exit 127; }\nshift 2\nexec "$@"\n')
    (tools / "timeout").chmod(0o755)
    node.socket()
    node.broken_control_plane()
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}", "dash", tools=tools)
    runtime = asked.witnesses.runtime
    assert runtime.witness.status is WitnessStatus.HEARD
    api = next(p for p in runtime.sandboxes or () if p.name == "kube-apiserver-cp1")
    assert (api.containers[0].exit_code, api.containers[0].restarts) == (1, 14)
    assert [call.split()[2] for call in node.calls()] == ["pods", "ps", "inspect", "logs"]


@pytest.mark.parametrize("odd", ["--x=\ny z", "--x=\x01", "--\u00e9t\u00e9=1"])
def test_a_kubelets_argv_is_sent_by_one_tr_unless_an_argument_could_be_misread(tmp_path, workdir,  # noqa: F811
                                                                                fake_kubelet_binary, odd):
    """Its arguments one a line (tr: NUL to newline, newline to \\001) when none holds a control
    character or a byte beyond ASCII; otherwise od's hex as before. Either way the same argv,
    empty and tab-holding arguments included."""
    plain = [str(fake_kubelet_binary), "--config", "k.yaml", "", "--t=\t", "--last"]
    odd_argv = [str(fake_kubelet_binary), odd, ""]
    home = tmp_path / "var-lib" / "kubelet"  # a cwd named like a kubelet's exe: ls lists it too
    home.mkdir(parents=True)
    shell, trace = traced(tmp_path, "argv")
    run = Node([(plain, str(home)), (odd_argv, None)], collect=False, local=False,
               scripts=[gather_script()]).run(tmp_path / "run", shell, workdir)
    found = sorted(parse_gather(run.streams[0], "x").processes, key=lambda p: p.argv)
    # A trailing empty argument is lost, as before (records.py strips trailing NULs).
    assert [p.argv for p in found] == sorted([tuple(plain), tuple(odd_argv[:-1])])
    assert [p.cwd for p in found if p.argv == tuple(plain)] == [str(home)]
    ran = programs(trace)
    assert ran.count("od") == 1 and "readlink" not in ran  # od: the odd one's; both cwds are ls's


def test_a_cmdline_sent_as_lines_is_the_bytes_od_would_have_sent():
    for argv in ([b"/usr/bin/kubelet", b"--config=/a b", b"", b"--t=\t"], [b"k3s\x20server"]):
        lines, raw = Raw(), Raw()
        text = b"P 7 tec\n" + b"\n".join(argv) + b"\0/x\0/\0\0\0"
        hexed = b"P 7 ec\n" + (b"\0".join(argv) + b"\0").hex().encode() + b"\0/x\0/\0\0\0"
        for stream, into in ((text, lines), (hexed, raw)):
            cur = _Cursor(stream)
            _read_p(cur, cur.line(), into)
        assert lines.procs == raw.procs
