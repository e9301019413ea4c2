"""``podaudit watch`` over SSH on the real lab: one login per node, one node-side loop
(podaudit/collect/gather/watch.sh: inotifywait -m when the node has it, else a stat loop),
reconnecting with backoff.

Lab facts relied on: each node's /usr is an overlay (removing inotifywait there hides it from
that node only); a node's sshd runs ``-D`` so each login is a child of its listener (killing
those children drops the sessions, SIGSTOP on the listener makes new logins time out, and
SIGHUP re-executes it: sshd(8)); the kubelet is tests/support/fake_kubelet.c, restarted here
with its argv.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from podaudit.collect.over_ssh import SshNode
from podaudit.kubelet.resolve import NodeView
from podaudit.model import InventoryEntry
from podaudit.transport import SshOptions
from podaudit.watch.feed import Change
from podaudit.watch.paths import feed_paths
from podaudit.watch.remote import RemoteFeed, remote_feed, watch_script
from podaudit.watch.remote_session import persistent_reader, session_for
from tests.lab_helpers import listening_sshd, running_lab, why_no_lab

pytestmark = pytest.mark.skipif(why_no_lab() is not None, reason=str(why_no_lab()))
WITHIN = 10.0  # the bound for an event over SSH; generous for a loaded CI machine
HOSTILE = "it's $(touch pwned)\n`id`;__PATHS__ \\x1b[31m.yaml"


@pytest.fixture(scope="module")
def greenbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    with running_lab(tmp_path_factory.mktemp("lab"), "greenbox", "127.0.47.10") as found:
        yield found


@pytest.fixture(autouse=True)
def no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def on_node(lab: Path, node: str, command: str) -> str:
    done = subprocess.run(["ssh", "-F", str(lab / "ssh_config"), node, command], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Watched:
    """One node watched as the loop watches it: read, watch the paths, wait, read again."""

    source: SshNode
    feed: RemoteFeed
    read: Callable[[], Any]
    view: NodeView | None = None
    seen: list[Change] = field(default_factory=list)

    def reread(self) -> NodeView:
        result = self.read()
        assert result.view is not None, result.failure
        self.view = result.view
        process = result.view.invocation.process
        self.feed.watch(feed_paths(result.view), process.pid if process else None)
        assert self.feed.settled(WITHIN)
        return result.view

    def expect(self, wanted: Callable[[Change], bool], within: float = WITHIN) -> Change:
        end = time.monotonic() + within
        while time.monotonic() < end:
            change = self.feed.wait(end - time.monotonic())
            if change is not None:
                self.seen.append(change)
                if wanted(change):
                    return change
        raise AssertionError(f"no such change within {within:g}s; saw {self.seen}")

    @property
    def logins(self) -> int:
        return session_for(self.source).logins


@pytest.fixture
def watch(greenbox: tuple[Path, dict[str, Any]]) -> Iterator[Callable[..., Watched]]:
    lab, _ = greenbox
    opened: list[RemoteFeed] = []

    def start(node: str, client: str = "paramiko", interval: float = 0.5, timeout: float = 5.0,
              user: str | None = None) -> Watched:
        options = SshOptions(ssh_config=str(lab / "ssh_config"), timeout=timeout, client=client)  # type: ignore[arg-type]
        source = SshNode(InventoryEntry(node, user=user), options, sudo=user is not None)
        feed = remote_feed(source, interval)
        opened.append(feed)
        watched = Watched(source, feed, persistent_reader(source))
        watched.reread()
        return watched

    yield start
    for feed in opened:
        feed.close()


def static_dir(view: NodeView) -> str:
    assert view.static_pod_path.value is not None
    return view.static_pod_path.value


def names(view: NodeView) -> set[str]:
    return {os.path.basename(e.path) for e in view.entries}


MANIFEST = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  containers:\n" \
           "  - name: c\n    image: registry.k8s.io/pause:3.9\n"


def drop(lab: Path, node: str, folder: str, name: str) -> None:
    """A manifest landing in a node's folder: written beside it as a dot-file (which the
    kubelet skips), then renamed in, as tools do."""
    command = shlex.join(["sh", "-c", 'cat > "$1/.tmp" && mv "$1/.tmp" "$1/$2"', "sh", folder, name])
    subprocess.run(["ssh", "-F", str(lab / "ssh_config"), node, command], input=MANIFEST.format(name="landed"),
                   text=True, timeout=30, check=True)


@pytest.mark.parametrize(("node", "client", "mode"), [
    ("controlplane", "paramiko", "inotify"),
    ("controlplane", "openssh", "inotify"),
    ("node01", "paramiko", "stat"),
])
def test_a_manifest_landing_is_seen_over_one_login(greenbox: Any, watch: Callable[..., Watched],
                                                   node: str, client: str, mode: str) -> None:
    lab, state = greenbox
    if mode == "stat":  # only this node loses inotifywait: its /usr is an overlay of the host's
        assert "/usr" in next(n for n in state["nodes"] if n["name"] == node)["overlays"]
        on_node(lab, node, "rm -f /usr/bin/inotifywait; ! command -v inotifywait")
    watched = watch(node, client)
    folder = static_dir(watched.view)  # type: ignore[arg-type]
    name = f"landed-{client}.yaml"
    drop(lab, node, folder, name)
    change = watched.expect(lambda c: folder in c.paths or any(p.startswith(folder + "/") for p in c.paths))
    assert watched.feed.mode == mode
    assert name in names(watched.reread())
    assert change.lost is None
    assert watched.logins == 1  # the readings and the node-side loop share one login


def in_folder(folder: str) -> Callable[[Change], bool]:
    return lambda c: folder in c.paths or any(p.startswith(folder + "/") for p in c.paths) or c.overflow


def test_with_sudo_and_nothing_left_on_the_node(greenbox: Any, watch: Callable[..., Watched]) -> None:
    """As a sudo user (``sudo -n sh -s``, as the gather script runs); closing the feed ends
    the node-side loop and its inotifywait (its stdin closes)."""
    lab, _ = greenbox
    watched = watch("controlplane", user="auditor")
    folder = static_dir(watched.view)  # type: ignore[arg-type]
    assert int(on_node(lab, "controlplane", "pgrep -c -x inotifywait || true")) >= 1
    drop(lab, "controlplane", folder, "with-sudo.yaml")
    watched.expect(in_folder(folder))
    watched.feed.close()
    end = time.monotonic() + WITHIN
    while on_node(lab, "controlplane", "pgrep -c -x inotifywait || true").strip() != "0":
        assert time.monotonic() < end, "the node-side loop outlived its session"
        time.sleep(0.2)


def test_hostile_names_survive_the_node_side_loop(greenbox: Any, watch: Callable[..., Watched]) -> None:
    """A manifest named with quotes, $(...), a newline and the script's own placeholder is
    one quoted word in the script; it comes back as its exact path, never run."""
    lab, _ = greenbox
    watched = watch("controlplane")
    folder = static_dir(watched.view)  # type: ignore[arg-type]
    drop(lab, "controlplane", folder, HOSTILE)
    watched.expect(in_folder(folder))
    view = watched.reread()  # the hostile manifest is on the list now, one word of the script
    assert HOSTILE in names(view)
    hostile = f"{folder}/{HOSTILE}"
    assert hostile in feed_paths(view)
    on_node(lab, "controlplane", shlex.join(["sh", "-c", 'echo more >> "$1"', "sh", hostile]))
    watched.expect(in_folder(folder))
    assert watched.feed.mode == "inotify" and watched.seen[-1].lost is None
    # the node-side loop runs in root's home (sshd's cwd) or /; neither got the file
    assert on_node(lab, "controlplane", "ls /pwned ~/pwned 2>/dev/null || echo none") == "none\n"


def test_the_script_quotes_every_path() -> None:
    """The paths a shell sees are exactly those sent, placeholders and quotes included."""
    paths = ["/a/__PATHS__", "/b/'$(x)'", "/c/\n`y` \udcff"]
    script = watch_script(paths, 7, 1.0)
    line = script[script.index(b"\nset -- ") + 1:script.index(b"\n\n# kstart")]
    done = subprocess.run(["sh", "-c", line.decode("utf-8", "surrogateescape") + '; printf "%s\\0" "$@"'],
                          capture_output=True, check=True)
    assert done.stdout.split(b"\0")[:-1] == [*(p.encode("utf-8", "surrogateescape") for p in paths), b"-"]
    assert b"kpid=7\n" in script and b"interval=1.000\n" in script


def node_of(state: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in state["nodes"] if n["name"] == name)


def sessions(pid: int) -> list[int]:
    """The listener's children: one per login (sshd -D forks one per connection)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(proc.name))
    return found


def test_a_node_going_down_and_coming_back(greenbox: Any, watch: Callable[..., Watched]) -> None:
    """Its sessions cut and new logins hanging: lost (one line), then back (reconnected
    with backoff, the same host key checks), then read again and watched as before."""
    lab, state = greenbox
    watched = watch("controlplane")
    sshd = listening_sshd(node_of(state, "controlplane"))
    assert len(sessions(sshd)) == 1  # the watch's one login
    os.kill(sshd, signal.SIGSTOP)
    try:
        for pid in sessions(sshd):
            os.kill(pid, signal.SIGKILL)
        lost = watched.expect(lambda c: c.lost is not None)
        assert lost.lost is not None and "\n" not in lost.lost and "controlplane" in lost.lost
        time.sleep(3)  # logins meanwhile time out
    finally:
        os.kill(sshd, signal.SIGCONT)
    watched.expect(lambda c: c.back, within=60)
    assert [c for c in watched.seen if c.lost] == [lost]  # said once
    folder = static_dir(watched.reread())
    drop(lab, "controlplane", folder, "after-the-outage.yaml")
    watched.expect(in_folder(folder))
    assert "after-the-outage.yaml" in names(watched.reread())
    assert watched.logins == 2 and len(sessions(sshd)) == 1


def test_sshd_restarted(greenbox: Any, watch: Callable[..., Watched]) -> None:
    """sshd re-executed (SIGHUP, as `systemctl reload/restart ssh` leaves sessions be): the
    session and its loop go on, no new login."""
    lab, state = greenbox
    watched = watch("node01")
    sshd = listening_sshd(node_of(state, "node01"))
    os.kill(sshd, signal.SIGHUP)
    time.sleep(1)
    folder = static_dir(watched.view)  # type: ignore[arg-type]
    drop(lab, "node01", folder, "after-sighup.yaml")
    watched.expect(in_folder(folder))
    assert "after-sighup.yaml" in names(watched.reread())
    assert watched.logins == 1 and not any(c.lost for c in watched.seen)


def test_the_directory_deleted_and_recreated(greenbox: Any, watch: Callable[..., Watched]) -> None:
    lab, _ = greenbox
    watched = watch("controlplane")
    folder = static_dir(watched.view)  # type: ignore[arg-type]
    parent = os.path.dirname(folder)
    on_node(lab, "controlplane", shlex.join(["rm", "-rf", "--", folder]))
    watched.expect(in_folder(folder))
    assert names(watched.reread()) == set()  # now its parent is watched, for its return
    on_node(lab, "controlplane", shlex.join(["mkdir", "--", folder]))
    watched.expect(lambda c: parent in c.paths or folder in c.paths)
    watched.reread()
    drop(lab, "controlplane", folder, "recreated.yaml")
    watched.expect(in_folder(folder))
    assert names(watched.reread()) == {"recreated.yaml"}


def test_the_static_pod_path_moved_by_a_config_edit_and_a_restart(greenbox: Any,
                                                                   watch: Callable[..., Watched]) -> None:
    """The config edited (a change of a watched file), the kubelet restarted with it (the
    kubelet line), then the new directory is the one watched."""
    lab, state = greenbox
    watched = watch("node01")
    config = "/var/lib/kubelet/config.yaml"
    assert config in feed_paths(watched.view)  # type: ignore[arg-type]
    on_node(lab, "node01", f"mkdir -p /etc/moved && sed -i 's|^staticPodPath: .*|staticPodPath: /etc/moved|' {config}")
    watched.expect(lambda c: config in c.paths or os.path.dirname(config) in c.paths)
    watched.reread()
    kubelet = node_of(state, "node01")["kubelets"][0]
    restart = (f"kill $(pgrep -x kubelet); (cd {shlex.quote(kubelet['cwd'])} && exec {shlex.join(kubelet['argv'])})"
               " </dev/null >/dev/null 2>&1 &")
    on_node(lab, "node01", restart)
    watched.expect(lambda c: c.kubelet)
    assert static_dir(watched.reread()) == "/etc/moved"
    drop(lab, "node01", "/etc/moved", "moved.yaml")
    watched.expect(in_folder("/etc/moved"))
    assert names(watched.reread()) == {"moved.yaml"}


def test_ten_thousand_files_at_once(greenbox: Any, watch: Callable[..., Watched]) -> None:
    """One burst, a handful of changes, each naming the watched directory: the client keeps
    a set of watched paths, not 10,000 lines. Then the list the loop sends for such a node
    (every manifest) still starts at once: the node-side loop watches the one directory."""
    lab, _ = greenbox
    watched = watch("controlplane")
    folder = static_dir(watched.view)  # type: ignore[arg-type]
    on_node(lab, "controlplane", f"cd {shlex.quote(folder)} && seq 1 10000 | sed 's/.*/bulk-&.yaml/' | xargs touch")
    try:
        bulk(watched, lab, folder)
    finally:  # reading 10,000 manifests over SSH takes a minute: the other tests' nodes stay small
        on_node(lab, "controlplane", f"find {shlex.quote(folder)} -name 'bulk-*' -delete")


def bulk(watched: Watched, lab: Path, folder: str) -> None:
    watched.expect(in_folder(folder))
    time.sleep(3)
    while (change := watched.feed.wait(0.5)) is not None:
        watched.seen.append(change)
    assert len(watched.seen) < 50
    assert all(set(c.paths) <= {folder} for c in watched.seen), watched.seen
    process = watched.view.invocation.process  # type: ignore[union-attr]
    every = [folder, *(f"{folder}/bulk-{i}.yaml" for i in range(1, 10001))]
    watched.feed.watch(every, process.pid if process else None)
    assert watched.feed.settled(WITHIN)
    drop(lab, "controlplane", folder, "one-more.yaml")
    watched.expect(lambda c: c.paths == (folder,))
    assert watched.logins == 1


def test_a_changed_host_key_is_never_accepted_on_reconnect(greenbox: Any, watch: Callable[..., Watched],
                                                           tmp_path: Path) -> None:
    """The node comes back with another host key: the feed stays lost, logs in no more, and a
    login says HOST KEY CHANGED (the same strict checking as the first login)."""
    _, state = greenbox
    node = node_of(state, "node01")
    watched = watch("node01")
    key = Path(node["home"]) / "ssh_host_ed25519_key"
    saved = {p: p.read_bytes() for p in (key, Path(f"{key}.pub"))}
    sshd = listening_sshd(node)
    try:
        key.unlink()
        Path(f"{key}.pub").unlink()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        os.kill(sshd, signal.SIGHUP)  # new logins get the new key
        time.sleep(1)
        for pid in sessions(sshd):
            os.kill(pid, signal.SIGKILL)
        watched.expect(lambda c: c.lost is not None)
        with pytest.raises(AssertionError):
            watched.expect(lambda c: c.back, within=8)
        assert watched.logins == 1  # (a refused attempt may be a child of sshd for a moment)
        result = watched.read()
        assert result.failure is not None and result.failure.kind.value == "host-key-changed", result.failure
    finally:
        for path, data in saved.items():
            path.write_bytes(data)
        os.kill(sshd, signal.SIGHUP)
    watched.expect(lambda c: c.back, within=60)


@pytest.mark.parametrize("client", ["paramiko", "openssh"])
def test_podaudit_watch_over_ssh(greenbox: Any, tmp_path: Path, client: str) -> None:
    """The command as a user runs it: a manifest landing is a manifest-added line within 10 s;
    each node holds one login (sshd's children) for the whole watch."""
    import json

    from tests.cli_helpers import PODAUDIT

    lab, state = greenbox
    (tmp_path / "home").mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "SSH_AUTH_SOCK": ""}
    argv = [*PODAUDIT, "watch", "--nodes", "controlplane,node01", "--ssh-config", str(lab / "ssh_config"),
            "--ssh-client", client, "--no-api", "-o", "jsonl", "--interval", "0.5", "--for", "40"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    try:
        events: list[dict[str, Any]] = []
        while {e["node"] for e in events if e["event"] == "watching"} != {"controlplane", "node01"}:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            events.append(json.loads(line))
        folder = next(e["path"] for e in events if e["event"] == "watching" and e["node"] == "controlplane")
        time.sleep(1)  # the node-side loop starts after the reading
        start = time.monotonic()
        drop(lab, "controlplane", folder, f"cli-{client}.yaml")
        while True:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            event = json.loads(line)
            if event["event"] == "manifest-added" and event["path"] == f"{folder}/cli-{client}.yaml":
                break
        assert time.monotonic() - start < WITHIN
        for name in ("controlplane", "node01"):
            assert len(sessions(listening_sshd(node_of(state, name)))) == 1, name
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_kubelet_starting_where_none_ran(greenbox: Any, watch: Callable[..., Watched]) -> None:
    lab, state = greenbox
    kubelet = node_of(state, "node01")["kubelets"][0]
    on_node(lab, "node01", "pkill -x kubelet; while pgrep -x kubelet >/dev/null; do sleep 0.1; done")
    watched = watch("node01")
    assert watched.view is not None and watched.view.invocation.process is None
    on_node(lab, "node01", f"(cd {shlex.quote(kubelet['cwd'])} && exec {shlex.join(kubelet['argv'])})"
                           " </dev/null >/dev/null 2>&1 &")
    watched.expect(lambda c: c.kubelet)
    assert watched.reread().invocation.process is not None


def test_the_script_parses_in_every_shell() -> None:
    import shutil

    script = watch_script(["/a\n'b", "/c/__CASES__", "/"], None, 0.5, 2)
    for name in ("sh", "dash", "bash", "busybox"):
        if shutil.which(name):
            argv = ["busybox", "sh", "-n"] if name == "busybox" else [name, "-n"]
            proc = subprocess.run(argv, input=script, capture_output=True, check=False)
            assert proc.returncode == 0, (name, proc.stderr)
