"""podaudit watch on a node's filesystem (--root): real inotify on real files, the command
run as a user runs it, its JSON lines read as a program reads them."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.cli_helpers import PODAUDIT

FIXTURE = Path(__file__).parent / "fixtures/nodes/kubeadm-etc"
MANIFESTS = "/etc/kubernetes/manifests"
POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec: {containers: [{name: a, image: b}]}\n"
WITHIN = 10.0  # seconds an event may take (generous: speed is the bench's)

Event = dict[str, Any]


@pytest.fixture
def node(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


_RUNNING: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_watch_left() -> Any:
    yield
    while _RUNNING:
        proc = _RUNNING.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


class Watching:
    """``podaudit watch --root ROOT -o jsonl`` running; its events as they come."""

    def __init__(self, root: Path, *extra: str, output: str = "jsonl") -> None:
        self.proc = subprocess.Popen([*PODAUDIT, "watch", "--root", str(root), "-o", output, "--for", "120", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "COLUMNS": "200"})
        _RUNNING.append(self.proc)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[Event] = []
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)

    def next(self, wanted: Callable[[Event], bool], within: float = WITHIN) -> Event:
        end = time.monotonic() + within
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no such event within {within} s; seen: {self.seen}; "
                                     f"stderr: {self._stderr()}") from None
            event = json.loads(line)
            self.seen.append(event)
            if wanted(event):
                return event

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read() if self.proc.stderr else ""

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM, as a service manager stops it: a clean exit 0 (what stdout still held)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        time.sleep(0.2)  # the pump thread drains the pipe
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return self.proc.returncode, "".join(rest), self.proc.stderr.read() if self.proc.stderr else ""


def kind(name: str, path: str | None = None) -> Callable[[Event], bool]:
    return lambda e: e["event"] == name and (path is None or e["path"] == path)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_once_says_what_is_watched_with_the_findings_of_now(node: Path) -> None:
    done = subprocess.run([*PODAUDIT, "watch", "--root", str(node), "-o", "jsonl", "--once"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [event] = [json.loads(line) for line in done.stdout.splitlines()]
    # the kubelet's name for the node (its hostname), as sweep and the mirror pods name it
    assert (event["event"], event["node"], event["path"]) == ("watching", "worker-1", MANIFESTS)
    assert any(f["id"] == "PA405" for f in event["findings"]["appeared"])  # nginx-proxy on a worker


def test_a_manifest_added_changed_and_removed(node: Path) -> None:
    watch = Watching(node)
    watch.next(kind("watching"))
    web = node / "etc/kubernetes/manifests/web.yaml"
    web.write_text(POD % "web")
    added = watch.next(kind("manifest-added"))
    assert (added["path"], added["pod"], added["mirror"]) == (f"{MANIFESTS}/web.yaml", "default/web", "web-worker-1")
    assert (added["sha256"], added["previous_sha256"]) == (sha(web), None)
    before = sha(web)
    web.write_text(POD % "web-2")
    changed = watch.next(kind("manifest-changed"))
    assert (changed["sha256"], changed["previous_sha256"], changed["pod"]) == (sha(web), before, "default/web-2")
    web.unlink()
    removed = watch.next(kind("manifest-removed"))
    assert (removed["sha256"], removed["previous_sha256"], removed["path"]) == (None, changed["sha256"], added["path"])
    code, _, err = watch.stop()
    assert code == 0, err


def test_an_editors_save_is_one_change(node: Path) -> None:
    watch = Watching(node)
    watch.next(kind("watching"))
    folder = node / "etc/kubernetes/manifests"
    temporary = folder / ".nginx-proxy.yml.swp"  # the kubelet skips dot-files
    temporary.write_text((folder / "nginx-proxy.yml").read_text() + "# saved\n")
    temporary.rename(folder / "nginx-proxy.yml")
    watch.next(kind("manifest-changed", f"{MANIFESTS}/nginx-proxy.yml"))
    (folder / "marker.yaml").write_text(POD % "marker")  # then something else: all events before it are in
    watch.next(kind("manifest-added", f"{MANIFESTS}/marker.yaml"))
    assert [e["event"] for e in watch.seen] == ["watching", "manifest-changed", "manifest-added"]
    watch.stop()


def test_the_static_pod_folder_deleted_and_recreated_is_still_watched(node: Path) -> None:
    watch = Watching(node)
    watch.next(kind("watching"))
    folder = node / "etc/kubernetes/manifests"
    shutil.rmtree(folder)
    watch.next(kind("manifest-removed", f"{MANIFESTS}/nginx-proxy.yml"))
    folder.mkdir()
    (folder / "back.yaml").write_text(POD % "back")
    assert watch.next(kind("manifest-added", f"{MANIFESTS}/back.yaml"))["pod"] == "default/back"
    (folder / "again.yaml").write_text(POD % "again")  # the recreated folder's own watch
    watch.next(kind("manifest-added", f"{MANIFESTS}/again.yaml"))
    watch.stop()


def test_a_new_static_pod_path_is_followed(node: Path) -> None:
    watch = Watching(node)
    watch.next(kind("watching"))
    (node / "srv/pods").mkdir(parents=True)
    config = node / "var/lib/kubelet/config.yaml"
    config.write_text(config.read_text().replace(f"staticPodPath: {MANIFESTS}", "staticPodPath: /srv/pods"))
    settings = watch.next(kind("settings-changed"))
    assert (settings["detail"]["old_path"], settings["detail"]["new_path"]) == (MANIFESTS, "/srv/pods")
    (node / "srv/pods/new.yaml").write_text(POD % "new")
    assert watch.next(kind("manifest-added", "/srv/pods/new.yaml"))["pod"] == "default/new"
    watch.stop()


def test_ten_thousand_files_at_once_are_one_coalesced_event_that_counts_them_all(node: Path, tmp_path: Path) -> None:
    staging = node / "staging"  # same filesystem: each rename is one entry appearing
    staging.mkdir()
    for i in range(10_000):
        (staging / f"p{i:05d}.yaml").write_text(POD % f"p{i}")
    watch = Watching(node)
    watch.next(kind("watching"))
    peak = [0]
    sampling = threading.Event()

    def sample() -> None:
        process = psutil.Process(watch.proc.pid)
        while not sampling.is_set():
            try:
                peak[0] = max(peak[0], process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    folder = node / "etc/kubernetes/manifests"
    for name in os.listdir(staging):
        os.rename(staging / name, folder / name)
    summary = watch.next(kind("coalesced"), within=120)
    sampling.set()
    assert summary["detail"]["counts"]["manifest-added"] == 10_000 and summary["detail"]["total"] == 10_000
    assert len(summary["detail"]["paths"]) + summary["detail"]["paths_left_off"] == 10_000
    assert len(summary["findings"]["appeared"]) <= 100  # one line stays a line
    assert summary["detail"]["findings_left_off"]["appeared"] >= 9_900
    assert [e["event"] for e in watch.seen] == ["watching", "coalesced"]  # one reading for the burst
    assert peak[0] < 600 * 2**20, f"peak RSS {peak[0] / 2**20:.0f} MiB"
    watch.stop()


def test_exec_gets_each_event_as_json_on_stdin_and_report_appends(node: Path, tmp_path: Path) -> None:
    hooked, report = tmp_path / "hook.jsonl", tmp_path / "events.jsonl"
    for _ in range(2):
        done = subprocess.run([*PODAUDIT, "watch", "--root", str(node), "-o", "jsonl", "--once",
                               "--exec", f"tee -a {hooked}", "--report", f"jsonl={report}"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    hooks = [json.loads(line) for line in hooked.read_text().splitlines()]
    assert [(e["event"], e["path"]) for e in hooks] == [("watching", MANIFESTS)] * 2
    assert "--exec tee: {" in done.stderr  # the program's output, on stderr, prefixed
    assert len(report.read_text().splitlines()) == 2 and report.stat().st_mode & 0o777 == 0o600


def test_a_hostile_file_name_is_escaped_in_the_terminal_view(node: Path, tmp_path: Path) -> None:
    report = tmp_path / "events.jsonl"
    watch = Watching(node, "--report", f"jsonl={report}", output="table")
    _wait_for(report, "watching")
    hostile = "evil\x1b]0;pwned\x07\n\x9b2J.yaml"
    (node / "etc/kubernetes/manifests" / hostile).write_text(POD % "evil")
    _wait_for(report, "manifest-added")
    code, out, err = watch.stop()
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "evil\\x1b]0;pwned\\x07\\x0a\\x9b2J.yaml" in out and "manifest-added" in out
    line = json.loads(report.read_text().splitlines()[-1])
    assert line["path"] == f"{MANIFESTS}/{hostile}"  # the JSON keeps it exact


def _wait_for(report: Path, event: str) -> None:
    end = time.monotonic() + WITHIN
    while time.monotonic() < end:
        if report.exists() and f'"event":"{event}"' in report.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event} in {report}")


def test_a_suppression_window_silences_the_apiserver_rewrite_only(node: Path, tmp_path: Path) -> None:
    folder = node / "etc/kubernetes/manifests"
    (folder / "kube-apiserver.yaml").write_text(POD % "kube-apiserver")
    until = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("apiVersion: podaudit/v1\nkind: Baseline\nsuppress:\n"
                        f"  - {{id: manifest-changed, node: '*', path: {MANIFESTS}/kube-apiserver.yaml,\n"
                        f"     reason: upgrade to 1.31, until: '{until}'}}\n")
    hooked = tmp_path / "hook.jsonl"
    watch = Watching(node, "--baseline", str(baseline), "--exec", f"tee -a {hooked}")
    watch.next(kind("watching"))
    (folder / "kube-apiserver.yaml").write_text(POD % "kube-apiserver" + "# upgraded\n")
    assert watch.next(kind("manifest-changed"))["suppressed"] is True
    (folder / "nginx-proxy.yml").write_text(POD % "nginx-proxy")
    assert watch.next(kind("manifest-changed"))["suppressed"] is False
    watch.stop()
    sent = [json.loads(line)["path"] for line in hooked.read_text().splitlines()]
    assert f"{MANIFESTS}/nginx-proxy.yml" in sent and f"{MANIFESTS}/kube-apiserver.yaml" not in sent


def test_a_bad_window_is_one_line(node: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("apiVersion: podaudit/v1\nkind: Baseline\nsuppress:\n"
                        "  - {id: manifest-changed, reason: r, until: '2027-03-07 18:00'}\n")
    done = subprocess.run([*PODAUDIT, "watch", "--root", str(node), "--once", "--baseline", str(baseline)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "until '2027-03-07 18:00' is not an RFC 3339 time" in done.stderr


def test_the_kubelet_ending_is_seen_through_its_pidfd(tmp_path: Path) -> None:
    from podaudit.watch.local import LocalFeed

    # A child of the test stands in for the kubelet (never the host's own kubelets).
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    feed = LocalFeed(str(tmp_path), interval=600, kubelet=True)
    try:
        feed.watch([], child.pid)
        assert feed.wait(0.2) is None
        child.terminate()
        change = feed.wait(WITHIN)
        assert change is not None and change.kubelet
    finally:
        child.kill()
        child.wait()
        feed.close()


def test_with_no_kubelet_a_new_one_is_found_by_the_slow_check(tmp_path: Path) -> None:
    from podaudit.watch.local import LocalFeed

    feed = LocalFeed(str(tmp_path), interval=0.2, kubelet=True)
    try:
        feed.watch([], None)
        assert feed.wait(0.5) is None
        (tmp_path / "proc/4242").mkdir(parents=True)
        (tmp_path / "proc/4242/cmdline").write_bytes(b"/usr/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0")
        end = time.monotonic() + WITHIN
        change = None
        while change is None and time.monotonic() < end:
            change = feed.wait(0.5)
        assert change is not None and change.kubelet
    finally:
        feed.close()


def test_the_live_table_on_a_terminal_escapes_a_hostile_node_name(tmp_path: Path) -> None:
    import pty

    root = tmp_path / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    # the node's own hostname names it (the kubelet's name): hostile text from the node
    (root / "proc/sys/kernel/hostname").write_text("node\x1b]0;pwned\x07\n")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([*PODAUDIT, "watch", "--root", str(root), "--for", "3"], stdin=secondary,
                            stdout=secondary, stderr=secondary, env={**os.environ, "COLUMNS": "200", "TERM": "xterm"})
    os.close(secondary)
    shown = b""
    try:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's last writer ended
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
        assert proc.wait(timeout=60) == 0
    text = shown.decode("utf-8", "replace")
    assert "node\\x1b]0;pwned\\x07" in text and "/etc/kubernetes/manifests" in text  # the table's row
    assert b"\x1b]0;pwned" not in shown and b"\x07" not in shown


def test_a_slow_hook_never_holds_the_watch_and_its_drops_are_counted(tmp_path: Path) -> None:
    from podaudit.run.hook import ExecHook
    from podaudit.watch.events import WatchEvent

    said: list[str] = []
    hook = ExecHook(["sleep", "5"], said.append, timeout=0.5, size=1)
    start = time.monotonic()
    for i in range(5):
        hook.emit(WatchEvent("t", "n", "manifest-added", f"/m/{i}"))
    assert time.monotonic() - start < 1.0  # emit only queues
    hook.close()
    assert hook.dropped >= 3
    assert any("still running after 0.5 s; stopped" in line for line in said)
    assert said[-1].endswith(f"{hook.dropped} events dropped (the program was slower than the events)")
