"""``scripts/bench watch``: how fast ``podaudit watch`` tells a change, and what it costs idle.

Latency (``--latency``): a file lands in a node's static pod directory; the time until the
event line (``manifest-added`` for that path) is read from podaudit's stdout. Locally
(``watch --local --root TREE``, a copy of the kubeadm-etc fixture) and over SSH
(``watch --inventory`` on fleet lab nodes, the file written through ``/proc/<sshd>/root``, so
it lands in the node's own mount namespace as a write on the node would). Paired: each write
is seen at once by podaudit and by the baseline watching the same directory, ``inotifywait
-m`` locally, and ``ssh NODE inotifywait -m`` (one session, the floor of any SSH watcher) over
SSH; median and p99 of each over ``--changes`` writes (50), 0.4 s apart (beyond the watch's
150 ms debounce, so no write is merged into another).

Idle cost (``--idle``): ``podaudit watch`` on ``--nodes`` fleet lab nodes (100) for
``--minutes`` (5): its CPU (user + system, all threads) from the first minute to the end as a
share of one core, and its RSS at 1 minute and at the end (flat memory). Beside it, the
floor: one process holding one paramiko session per node, each running ``inotifywait -m`` on
the node's static pod directory, measured the same way at the same time.

Targets (issue 16): local < 0.5 s, SSH < 2 s (p99 shown beside), idle CPU < 5 % of a core,
RSS at the end < 1.25x RSS at 1 minute. Needs root for the lab (as scripts/bench).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "scripts" / "lab"
FIXTURE = ROOT / "tests" / "fixtures" / "nodes" / "kubeadm-etc"
FIXTURE_DIR = "etc/kubernetes/manifests"
LAB_DIR = "/etc/just-to-mess-with-you"  # the fleet nodes' staticPodPath (scripts/lab_scenarios.py)
LOCAL_MAX_S, SSH_MAX_S, IDLE_MAX_CPU, FLAT_MAX_RATIO = 0.5, 2.0, 0.05, 1.25
POD = "apiVersion: v1\nkind: Pod\nmetadata: {{name: bench-{i}, namespace: default}}\n" \
      "spec: {{containers: [{{name: c, image: busybox}}]}}\n"
FLOOR = "_idle_floor"  # internal: bench_watch.py _idle_floor STATE N


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench watch", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", action="store_true", help="only the latency bench (~2 min)")
    parser.add_argument("--idle", action="store_true", help="only the idle cost bench (--minutes + ~1 min)")
    parser.add_argument("--local-only", action="store_true", help="latency: only the local watch (no lab, no root)")
    parser.add_argument("--changes", type=int, default=50, help="writes per latency run (default %(default)s)")
    parser.add_argument("--nodes", type=int, default=100, help="lab nodes watched idle (default %(default)s)")
    parser.add_argument("--minutes", type=float, default=5.0, help="idle minutes (default %(default)s)")
    parser.add_argument("--dir", default="/tmp/podaudit-bench-watch")  # noqa: S108 (the lab refuses foreign dirs)
    args = parser.parse_args(argv)
    both = not (args.latency or args.idle)
    print(f"podaudit watch bench: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before, "
          f"podaudit {revision()}")
    verdicts: list[tuple[str, bool | None, str]] = []
    if both or args.latency:
        verdicts += latency_bench(args)
    if both or args.idle:
        verdicts += idle_bench(args)
    print(f"\ntargets (load average {os.getloadavg()[0]:.2f} after)")
    for name, ok, detail in verdicts:
        print(f"  {'INFO' if ok is None else 'PASS' if ok else 'FAIL'}  {name:44} {detail}")
    return 0 if all(ok is not False for _, ok, _ in verdicts) else 1


def revision() -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() or "(no git)"


def podaudit(*args: str) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "python"), "-m", "podaudit", *args]


# ---------------------------------------------------------------- lines read as they come

class Lines:
    """A child's stdout: the monotonic time each key (``key_of`` a line) was first read. Keys,
    not an order: one reading may report several files, in its own order."""

    def __init__(self, argv: list[str], key_of: Callable[[str], str | None]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.key_of = key_of
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in stream:
            now = time.monotonic()
            key = self.key_of(raw.decode("utf-8", "replace"))
            if key is not None:
                with self.cond:
                    self.seen.setdefault(key, now)
                    self.cond.notify_all()

    def until(self, wanted: Callable[[dict[str, float]], bool], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: wanted(self.seen), timeout)

    def when(self, key: str, timeout: float) -> float | None:
        """The time ``key`` was first read, waiting up to ``timeout`` for it."""
        with self.cond:
            self.cond.wait_for(lambda: key in self.seen, timeout)
            return self.seen.get(key)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def event_key(line: str) -> str | None:
    """``watching NODE`` and ``added NAME`` (the file's name) of podaudit's JSON lines."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if event.get("event") == "watching":
        return f"watching {event.get('node')}"
    if event.get("event") == "manifest-added":
        return "added " + str(event.get("path", "")).rsplit("/", 1)[-1]
    return None


def name_key(line: str) -> str | None:
    """inotifywait --format %f: the name."""
    return "added " + line.rstrip("\n")


def watching(count: int) -> Callable[[dict[str, float]], bool]:
    return lambda seen: sum(key.startswith("watching ") for key in seen) >= count


# ---------------------------------------------------------------- latency

def paired_writes(folders: list[Path], watched: list[tuple[str, Lines]], changes: int,
                  tag: str) -> dict[str, list[float]]:
    """Write ``changes`` manifests (round robin over ``folders``), each seen by every watcher."""
    out: dict[str, list[float]] = {name: [] for name, _ in watched}
    for i in range(changes):
        name = f"bench-{tag}-{i:03d}.yaml"
        path = folders[i % len(folders)] / name
        path.write_text(POD.format(i=i))  # open, write, close: the file has landed
        landed = time.monotonic()
        for who, lines in watched:
            seen = lines.when(f"added {name}", 10.0)
            out[who].append(float("inf") if seen is None else seen - landed)
        time.sleep(0.4)
    return out


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def show(title: str, rows: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print(f"  {'watcher':44} {'median ms':>9} {'p99 ms':>8} {'max ms':>8} {'missed':>6}")
    for who, values in rows.items():
        seen = [v for v in values if v != float("inf")]
        missed = len(values) - len(seen)
        if not seen:
            print(f"  {who:44} {'-':>9} {'-':>8} {'-':>8} {missed:>6}")
            continue
        print(f"  {who:44} {1000 * statistics.median(seen):9.1f} {1000 * p99(seen):8.1f} "
              f"{1000 * max(seen):8.1f} {missed:>6}")


def verdict(name: str, values: list[float], limit: float) -> tuple[str, bool, str]:
    seen = [v for v in values if v != float("inf")]
    missed = len(values) - len(seen)
    median = statistics.median(seen) if seen else float("inf")
    worst = p99(seen) if seen else float("inf")
    return (f"{name} p99 < {limit:g} s, none missed", worst < limit and not missed,
            f"median {1000 * median:.0f} ms, p99 {1000 * worst:.0f} ms, {missed} missed")


def latency_bench(args: argparse.Namespace) -> list[tuple[str, bool | None, str]]:
    verdicts: list[tuple[str, bool | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="podaudit-bench-watch-") as tmp:
        tree = Path(tmp) / "node"
        shutil.copytree(FIXTURE, tree, symlinks=True)
        folder = tree / FIXTURE_DIR
        mine = Lines(podaudit("watch", "--local", "--root", str(tree), "-o", "jsonl"), event_key)
        floor = Lines(["inotifywait", "-m", "-q", "-e", "close_write,moved_to", "--format", "%f", str(folder)],
                      name_key)
        try:
            assert mine.until(watching(1), 60), "podaudit watch did not start"
            time.sleep(1.0)  # inotifywait has set its watch by now
            local = paired_writes([folder], [("podaudit watch --local --root TREE", mine),
                                             ("inotifywait -m (floor)", floor)], args.changes, "local")
        finally:
            mine.stop()
            floor.stop()
    show(f"local: a manifest lands in a tree's static pod dir -> event line ({args.changes} writes)", local)
    verdicts.append(verdict("local latency", local["podaudit watch --local --root TREE"], LOCAL_MAX_S))
    if args.local_only:
        return verdicts
    with lab_up(Path(args.dir), 5) as state:
        nodes = state["nodes"]
        folders = [node_folder(n) for n in nodes]
        inventory = Path(args.dir) / "inventory-latency"
        inventory.write_text("".join(f"{n['name']}\n" for n in nodes))
        mine = Lines(podaudit("watch", "--inventory", str(inventory), "--ssh-config", state["ssh_config"],
                              "-o", "jsonl"), event_key)
        floor = Lines(["ssh", "-F", state["ssh_config"], nodes[0]["name"],
                       f"inotifywait -m -q -e close_write,moved_to --format %f {LAB_DIR}"], name_key)
        try:
            assert mine.until(watching(len(nodes)), 120), "podaudit watch did not read every node"
            time.sleep(2.0)
            ssh = paired_writes(folders, [(f"podaudit watch --inventory ({len(nodes)} nodes)", mine)],
                                args.changes, "fleet")
            # The floor watches one node: its own paired run, writes to that node only (0.4 s
            # apart: a write may land during the reading of the one before).
            pair = paired_writes(folders[:1], [("podaudit watch, node 1 only", mine),
                                               ("ssh NODE inotifywait -m (floor)", floor)], args.changes, "one")
        finally:
            mine.stop()
            floor.stop()
    show(f"over SSH: a manifest lands in a lab node's static pod dir -> event line ({args.changes} writes each)",
         {**ssh, **pair})
    verdicts.append(verdict("SSH latency", next(iter(ssh.values())), SSH_MAX_S))
    return verdicts


def node_folder(node: dict[str, Any]) -> Path:
    """The node's static pod directory as the node sees it (its mount namespace)."""
    pid = node["pid"] or node["host_pids"][0]
    return Path(f"/proc/{pid}/root{LAB_DIR}")


@contextmanager
def lab_up(lab: Path, nodes: int) -> Iterator[dict[str, Any]]:
    start = time.monotonic()
    subprocess.run([str(LAB), "up", "fleet", "--nodes", str(nodes), "--dir", str(lab), "--first-address",
                    "127.0.21.10", "--owner", str(os.getpid())], check=True, stdout=subprocess.DEVNULL)
    print(f"\n(lab of {nodes} fleet nodes up in {time.monotonic() - start:.1f} s)")
    try:
        yield json.loads((lab / "state.json").read_text())
    finally:
        subprocess.run([str(LAB), "down", "--dir", str(lab)], check=False, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- idle cost

def cpu_and_rss(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system, every thread, reaped children) and RSS in MiB."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return cpu, rss / 1024


def idle_bench(args: argparse.Namespace) -> list[tuple[str, bool | None, str]]:
    with lab_up(Path(args.dir), args.nodes) as state:
        inventory = Path(args.dir) / "inventory-idle"
        inventory.write_text("".join(f"{n['name']}\n" for n in state["nodes"]))
        mine = Lines(podaudit("watch", "--inventory", str(inventory), "--ssh-config", state["ssh_config"],
                              "-o", "jsonl"), event_key)
        floor = Lines([sys.executable, __file__, FLOOR, str(Path(args.dir) / "state.json"), str(args.nodes)],
                      lambda line: line.strip() or None)
        try:
            started = time.monotonic()
            ready = mine.until(watching(args.nodes), 300)
            floor_ready = floor.when("ready", 300) is not None
            if not (ready and floor_ready):
                reached = sum(key.startswith("watching ") for key in mine.seen)
                print(f"podaudit watch read {reached} of {args.nodes} nodes in 300 s (floor ready: {floor_ready}); "
                      "is every SSH login slow here (ssh NODE true)?")
                return [(f"idle watch of {args.nodes} nodes", False, f"{reached} nodes read in 300 s")]
            print(f"(podaudit watch read {args.nodes} nodes in {time.monotonic() - started:.1f} s)")
            rows = {}
            for who, lines in (("podaudit watch", mine), ("paramiko sessions + inotifywait (floor)", floor)):
                rows[who] = [cpu_and_rss(lines.proc.pid)]
            time.sleep(60)
            for who, lines in (("podaudit watch", mine), ("paramiko sessions + inotifywait (floor)", floor)):
                rows[who].append(cpu_and_rss(lines.proc.pid))
            time.sleep(max(0.0, 60 * (args.minutes - 1)))
            for who, lines in (("podaudit watch", mine), ("paramiko sessions + inotifywait (floor)", floor)):
                rows[who].append(cpu_and_rss(lines.proc.pid))
            alive = mine.proc.poll() is None
        finally:
            mine.stop()
            floor.stop()
    span = 60 * (args.minutes - 1)
    print(f"\nidle: {args.nodes} lab nodes watched over SSH for {args.minutes:g} min "
          f"(CPU from minute 1 to the end; RSS at ready, at 1 min, at the end)")
    print(f"  {'watcher':44} {'cpu % core':>10} {'rss ready':>9} {'rss 1 min':>9} {'rss end':>8}")
    for who, (first, one, end) in rows.items():
        share = (end[0] - one[0]) / span if span > 0 else float("nan")
        print(f"  {who:44} {100 * share:10.2f} {first[1]:8.0f}M {one[1]:8.0f}M {end[1]:7.0f}M")
    (_, one, end) = rows["podaudit watch"]
    share = (end[0] - one[0]) / span if span > 0 else 0.0
    return [(f"idle CPU of {args.nodes} nodes < {100 * IDLE_MAX_CPU:g} % of a core", share < IDLE_MAX_CPU and alive,
             f"{100 * share:.2f} %"),
            (f"flat memory (end < {FLAT_MAX_RATIO}x 1 min)", end[1] < FLAT_MAX_RATIO * one[1],
             f"{one[1]:.0f} -> {end[1]:.0f} MiB")]


def idle_floor(state_file: str, count: int) -> None:
    """One paramiko session per node, each running inotifywait -m on the static pod dir."""
    import paramiko

    state = json.loads(Path(state_file).read_text())
    key = paramiko.Ed25519Key.from_private_key_file(state["identity"])
    clients = []
    for node in state["nodes"][:count]:
        client = paramiko.SSHClient()
        client.load_host_keys(state["known_hosts"])
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(node["address"], username="root", pkey=key, allow_agent=False, look_for_keys=False,
                       timeout=30)
        client.exec_command(f"inotifywait -m -q -e close_write,moved_to {LAB_DIR}")
        clients.append(client)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    if sys.argv[1:2] == [FLOOR]:
        idle_floor(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
