"""Benchmarks of podaudit at scale, each beside a baseline run in the same invocation.

Default: all three parts below, about 17 minutes on 2 cores (``--analysis-only``,
``--hosts-only``, ``--sweep-only``: one each). Exit code 1 when a target is missed.

Analysis (no lab, several minutes: 10,000 snapshots are 1.2 GB): generated node snapshots,
timed at 1,000, 5,000 and 10,000 nodes (``podaudit --snapshot DIR sweep -o json``: wall time,
peak RSS of the process tree and per node), beside the floor any analysis pays (reading every
byte of the snapshots and parsing every YAML and JSON file with PyYAML's CSafeLoader and json);
``-o table``, ``collect`` into one bundle and ``analyze`` of that bundle once at 1,000;
``podaudit --help`` (median of 10) beside ``python -c pass``.

Sweeps (needs root: the lab uses namespaces; about 2.5 minutes at 25,50,100,200): the ``fleet``
lab brought up once at the largest size (200 nodes: 5-7 s), one untimed login to every node, then
for each size the first N nodes swept by podaudit and by a thread pool of plain paramiko execs,
one per node, reading the same files (the floor).
The node-side CPU of the gather script beside the floor's, run by ``sh -s`` in a lab node.

known_hosts (scripts/bench_hosts.py; needs root): the client's host-key work per connection
at 100 and 10,000 unrelated known_hosts lines, plain and half hashed, and a 100-node lab
sweep with each, in paired rounds.

``--nodes N`` is the single-size run that adds a sequential ``ssh`` loop (an operator's for-loop).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "scripts" / "lab"
DEMO = ROOT / "podaudit" / "demo" / "cluster"
# The files podaudit ends up reading on a kubeadm worker like the fleet's nodes.
READ = ("cat /proc/$(pgrep -o -x kubelet)/cmdline /etc/hostname /usr/lib/systemd/system/kubelet.service "
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf /var/lib/kubelet/kubeadm-flags.env "
        "/etc/default/kubelet /var/lib/kubelet/config.yaml /etc/just-to-mess-with-you/* >/dev/null; "
        "ls -la /etc/just-to-mess-with-you")
GENERATE = "_generate"  # internal: scripts/bench.py _generate DIR COUNT SEED
ANALYSIS_SIZES = (1000, 5000, 10000)
EXTRAS_AT = 1000  # -o table, collect and analyze run once, at this size (or the smallest)
SWEEP_SIZES = (25, 50, 100, 200)
# Issue 17: the gather script's CPU on a node against the floor's (cat + ls of the same files).
SCRIPT_ROUNDS, SCRIPT_MAX_RATIO = 100, 2.0
# Targets of issue 7.
ANALYSIS_MAX_S, ANALYSIS_MAX_MB, HELP_MAX_MS, FLAT_MAX_RATIO = 5.0, 300.0, 150.0, 1.25
# Targets of issue 17 at the largest analysis size: time against the floor, the process tree's
# peak memory, and memory per node no higher than at the smallest size.
ANALYSIS_MAX_FLOOR, ANALYSIS_TREE_MB = 3.0, 150.0
FLOOR_CODE = """
import json, os, sys, time
import yaml
start = time.perf_counter()
files = size = docs = 0
for top, _, names in os.walk(sys.argv[1]):
    for name in names:
        path = os.path.join(top, name)
        if os.path.islink(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        files += 1
        size += len(data)
        if name.endswith((".yaml", ".yml", ".yaml.bak")):
            docs += sum(1 for _ in yaml.load_all(data, Loader=yaml.CSafeLoader))
        elif name.endswith(".json"):
            json.loads(data)
            docs += 1
print(json.dumps({"files": files, "bytes": size, "docs": docs, "work": time.perf_counter() - start}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--analysis-only", action="store_true", help="only the analysis benchmark (no lab, ~7 min)")
    mode.add_argument("--sweep-only", action="store_true",
                      help="only the lab sweeps and the node-side CPU (root, ~5 min)")
    mode.add_argument("--hosts-only", action="store_true",
                      help="only known_hosts size against the client's cost per node "
                           "(scripts/bench_hosts.py; root, ~5 min)")
    mode.add_argument("--nodes", type=int, metavar="N",
                      help="only a sweep of N lab nodes, with the sequential ssh loop too (100: ~1.2 min)")
    parser.add_argument("--sweep-sizes", default=",".join(map(str, SWEEP_SIZES)), metavar="N,N,...",
                        help="lab sizes swept, from one lab of the largest size (default %(default)s)")
    parser.add_argument("--analysis-sizes", default=",".join(map(str, ANALYSIS_SIZES)), metavar="N,N,...",
                        help="snapshot sizes analysed (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=2, help="analysis runs per size; the fastest counts (default 2)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated snapshots (default 7)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--dir", default="/tmp/podaudit-bench")  # noqa: S108 (the lab refuses foreign dirs)
    parser.add_argument("--keep", action="store_true", help="leave the lab and the snapshots in place afterwards")
    args = parser.parse_args()
    verdicts: list[tuple[str, bool | None, str]] = []  # None: shown for context, not a target
    started = time.monotonic()
    if not (args.sweep_only or args.nodes or args.hosts_only):
        verdicts += analysis_bench(sizes(args.analysis_sizes), args.seed, args.keep, args.repeat)
    if not (args.analysis_only or args.sweep_only or args.nodes):
        import bench_hosts  # scripts/bench_hosts.py, beside this file (on sys.path as the script's folder)

        # 100 lab nodes with 100, then 10,000 unrelated known_hosts entries, plain and half hashed
        verdicts += bench_hosts.verdicts(["--concurrency", str(args.concurrency)])
        verdicts += bench_hosts.verdicts(["--part", "sweep", "--sweep-hashed", "0.5", "--rounds", "3",
                                          "--concurrency", str(args.concurrency)])
    if not (args.analysis_only or args.hosts_only):
        if args.nodes:
            verdicts += sweep_bench([args.nodes], args, ssh_loop=True)
        else:
            verdicts += sweep_bench(sizes(args.sweep_sizes), args, ssh_loop=False)
    print(f"\ntargets (whole bench {time.monotonic() - started:.0f} s)")
    for name, ok, detail in verdicts:
        print(f"  {'INFO' if ok is None else 'PASS' if ok else 'FAIL'}  {name:52} {detail}")
    return 0 if all(ok is not False for _, ok, _ in verdicts) else 1


def sizes(text: str) -> list[int]:
    return sorted({int(part) for part in text.split(",") if part.strip()})


# ---------------------------------------------------------------- measuring a child process


@dataclass
class Run:
    wall: float
    max_rss_mb: float  # the largest single process of the tree: its VmHWM, sampled
    tree_mb: float  # sampled sum of the RSS of the child and its descendants (an upper bound: shared pages count twice)
    cpu: float  # user + system of the child and every descendant it reaped
    stdout: bytes = field(repr=False)
    rc: int


def _sample_tree(pid: int) -> tuple[int, int]:
    """(largest VmHWM, sum of VmRSS) in kB over pid and its descendants.

    Not wait4's ru_maxrss: Linux carries the parent's peak over exec into the child's, so a
    child of this (larger) process would report this process's size.
    """
    hwm = total = 0
    todo = [pid]
    while todo:
        one = todo.pop()
        try:
            with open(f"/proc/{one}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
                    elif line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{one}/task/{one}/children", "rb") as f:
                todo += [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            continue
    return hwm, total


def run_measured(argv: Sequence[str]) -> Run:
    """Wall time, CPU, and the sampled peaks (every 20 ms) of the largest process and of the whole tree."""
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)  # returns once exec has happened
        peak = [0, 0]
        done = threading.Event()

        def sample() -> None:
            while True:
                hwm, total = _sample_tree(child.pid)
                peak[0], peak[1] = max(peak[0], hwm), max(peak[1], total)
                if done.wait(0.02):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4 gives this child's own CPU (and its reaped children's), not the lab's or the baselines'.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
        done.set()
        sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        data = out.read()
    return Run(wall, peak[0] / 1024, peak[1] / 1024, usage.ru_utime + usage.ru_stime, data, child.returncode)


# ---------------------------------------------------------------- analysis: generated snapshots


def _read_tree(top: Path) -> dict[str, bytes]:
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


class Generator:
    """Deterministic cluster snapshots made of the demo's kubeadm worker (node01) and control plane.

    Per node (its own random.Random, so node i is the same whatever the size): a distinct name and
    hostname, its own kubelet pid and address; 5% control planes; workers: 12% an extra manifest,
    6% a .bak twin of greenbox.yaml, 8% other modes or owners in podaudit.meta.json; control
    planes: 30% a kube-apiserver.yaml.bak twin, 10% other modes. api/: nodes, one mirror pod per
    static pod (but not for a share of the extra manifests), a kube-proxy pod per node.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.trees = {kind: _read_tree(DEMO / "nodes" / kind) for kind in ("node01", "controlplane")}
        self.metas = {kind: json.loads(self.trees[kind].pop("podaudit.meta.json")) for kind in self.trees}
        api = {name: json.loads((DEMO / "api" / f"{name}.json").read_text())
               for name in ("nodes", "pods", "namespaces")}
        self.api_nodes = {n["metadata"]["name"]: n for n in api["nodes"]["items"]}
        pods = api["pods"]["items"]
        self.mirror = next(p for p in pods if p["metadata"]["name"] == "static-greenbox-node01")
        self.mirrors_cp = [p for p in pods if p["spec"]["nodeName"] == "controlplane"
                           and "kubernetes.io/config.mirror" in p["metadata"].get("annotations", {})]
        self.proxy = next(p for p in pods if p["metadata"]["name"].startswith("kube-proxy-"))
        self.namespaces = api["namespaces"]

    def write(self, out: Path, count: int) -> None:
        nodes_dir = out / "nodes"
        nodes_dir.mkdir(parents=True)
        api_nodes: list[object] = []
        api_pods: list[object] = []
        for i in range(1, count + 1):
            self._node(i, nodes_dir, api_nodes, api_pods)
        (out / "api").mkdir()
        for name, items in (("nodes", api_nodes), ("pods", api_pods)):
            (out / "api" / f"{name}.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        (out / "api" / "namespaces.json").write_text(json.dumps(self.namespaces))

    def _node(self, i: int, nodes_dir: Path, api_nodes: list[object], api_pods: list[object]) -> None:
        rng = random.Random(f"{self.seed}:{i}")  # noqa: S311 (test data, not secrets)
        cp = rng.random() < 0.05
        kind = "controlplane" if cp else "node01"
        name = f"{'cp' if cp else 'worker'}-{i:04d}"
        old_ip = "192.168.121.10" if cp else "192.168.121.11"
        ip = f"10.{20 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"
        meta = json.loads(json.dumps(self.metas[kind]))
        meta["interfaces"]["eth0"] = [f"{ip}/16"]
        meta["default"]["mtime"] += rng.randrange(0, 86400 * 30)
        files = self._files(kind, name, old_ip, ip, str(rng.randrange(700, 4_000_000)))
        pods_dir = "etc/kubernetes/manifests" if cp else "etc/just-to-mess-with-you"
        mirrored = (self._vary_cp if cp else self._vary_worker)(rng, files, meta, pods_dir)
        node_dir = nodes_dir / name
        for rel, data in files.items():
            path = node_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (node_dir / "podaudit.meta.json").write_text(json.dumps(meta, indent=1))
        api_nodes.append(self._renamed(self.api_nodes[kind], kind, name, old_ip, ip, rng))
        for pod in self.mirrors_cp if cp else [self.mirror]:
            api_pods.append(self._renamed(pod, kind, name, old_ip, ip, rng))
        base = json.dumps(self._renamed(self.mirror, kind, name, old_ip, ip, rng))
        api_pods += [json.loads(base.replace("static-greenbox", extra)) for extra in mirrored]
        api_pods.append(self._renamed(self.proxy, self.proxy["spec"]["nodeName"], name, old_ip, ip, rng))

    def _files(self, kind: str, name: str, old_ip: str, ip: str, pid: str) -> dict[str, bytes]:
        old_pid = "1187" if kind == "controlplane" else "1042"
        files: dict[str, bytes] = {}
        for rel, data in self.trees[kind].items():
            path, body = rel, data
            if rel.startswith(f"proc/{old_pid}/"):
                path = f"proc/{pid}/" + rel.split("/", 2)[2]
                body = data.replace(f"{old_pid} (kubelet)".encode(), f"{pid} (kubelet)".encode())
            files[path] = body.replace(kind.encode(), name.encode()).replace(old_ip.encode(), ip.encode())
        files["proc/sys/kernel/hostname"] = f"{name}\n".encode()
        return files

    @staticmethod
    def _vary_cp(rng: random.Random, files: dict[str, bytes], meta: dict[str, dict[str, dict[str, str]]],
                 pods_dir: str) -> list[str]:
        if rng.random() < 0.30:
            files[f"{pods_dir}/kube-apiserver.yaml.bak"] = files[f"{pods_dir}/kube-apiserver.yaml"]
        if rng.random() < 0.10:
            meta["paths"][f"/{pods_dir}/etcd.yaml"]["mode"] = "0644"
        return []

    @staticmethod
    def _vary_worker(rng: random.Random, files: dict[str, bytes], meta: dict[str, dict[str, dict[str, object]]],
                     pods_dir: str) -> list[str]:
        """Extra pods that have a mirror pod (the others are static pods the API does not show)."""
        mirrored = []
        if rng.random() < 0.12:
            extra = rng.choice(("node-exporter", "log-shipper", "debug-tools"))
            green = files[f"{pods_dir}/greenbox.yaml"]
            files[f"{pods_dir}/{extra}.yaml"] = green.replace(b"static-greenbox", extra.encode())
            mtime = float(meta["default"]["mtime"]) + 600  # type: ignore[arg-type]
            meta["paths"][f"/{pods_dir}/{extra}.yaml"] = {"mode": "0600", "mtime": mtime}
            if rng.random() < 0.5:
                mirrored.append(extra)
        if rng.random() < 0.06:
            files[f"{pods_dir}/greenbox.yaml.bak"] = files[f"{pods_dir}/greenbox.yaml"]
        if rng.random() < 0.08:
            path, change = rng.choice((("/var/lib/kubelet/config.yaml", {"mode": "0666"}),
                                       (f"/{pods_dir}/greenbox.yaml", {"mode": "0644"}),
                                       (f"/{pods_dir}", {"mode": "0777"}),
                                       (f"/{pods_dir}/greenbox.yaml", {"uid": 1000, "gid": 1000})))
            meta["paths"].setdefault(path, {}).update(change)
        return mirrored

    @staticmethod
    def _renamed(item: dict[str, object], old: str, new: str, old_ip: str, ip: str, rng: random.Random) -> object:
        copy: dict[str, dict[str, object]] = json.loads(json.dumps(item).replace(old, new).replace(old_ip, ip))
        copy["metadata"]["uid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if str(copy["metadata"]["name"]).startswith("kube-proxy-"):
            copy["metadata"]["name"] = f"kube-proxy-{rng.getrandbits(24):06x}"
        return copy


def podaudit_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "podaudit", *args]


def fastest(repeat: int, argv: list[str]) -> Run:
    return min((run_measured(argv) for _ in range(max(repeat, 1))), key=lambda run: run.wall)


def analysis_bench(counts: list[int], seed: int, keep: bool, repeat: int) -> list[tuple[str, bool | None, str]]:
    work = Path(tempfile.mkdtemp(prefix="podaudit-bench-snapshots-"))
    try:
        start = time.monotonic()
        # In a child: this process stays small, and a child forked from it starts with its RSS.
        for count in counts:
            subprocess.run([sys.executable, __file__, GENERATE, str(work / str(count)), str(count), str(seed)],
                           check=True)
        generated = time.monotonic() - start
        rows = []
        load = os.getloadavg()[0]
        for count in counts:
            # The fastest of `repeat` runs: this machine may be shared, and noise only ever adds time.
            floor = fastest(repeat, [sys.executable, "-c", FLOOR_CODE, str(work / str(count))])
            run = fastest(repeat, podaudit_argv("--snapshot", str(work / str(count)), "sweep", "-o", "json"))
            rows.append((count, json.loads(floor.stdout), floor, run, json.loads(run.stdout)))
        extras_at = EXTRAS_AT if EXTRAS_AT in counts else counts[0]
        largest = work / str(extras_at)
        extra = {"-o table": run_measured(podaudit_argv("--snapshot", str(largest), "sweep", "-o", "table"))}
        # The DaemonSet's path: one bundle of every node (collect), then analyze with the API's view.
        bundle = work / "bundle.tar.gz"
        extra["collect (one bundle)"] = run_measured(podaudit_argv("--snapshot", str(largest), "collect",
                                                                   str(bundle)))
        if bundle.exists():
            extra["analyze the bundle -o json"] = run_measured(podaudit_argv("analyze", str(bundle), "--api",
                                                                             str(largest / "api"), "-o", "json"))
        help_ms = median_ms(podaudit_argv("--help"))
        pass_ms = median_ms([sys.executable, "-c", "pass"])
    finally:
        if keep:
            print(f"snapshots kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nanalysis of generated node snapshots, podaudit {revision()} (seed {seed}; generated in "
          f"{generated:.1f} s; fastest of {repeat}; {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after)")
    print_analysis(rows, extra, extras_at)
    print(f"podaudit --help: {help_ms:.0f} ms (median of 10); python -c pass: {pass_ms:.0f} ms")
    ran = [(f"{name} at {extras_at}: no error", run.rc < 2, f"exit code {run.rc}") for name, run in extra.items()]
    return analysis_verdicts(rows, help_ms) + ran


def analysis_verdicts(rows: list[tuple[int, dict[str, int], Run, Run, dict[str, list[object]]]], help_ms: float
                      ) -> list[tuple[str, bool | None, str]]:
    """Issue 7's targets at 1,000 nodes (when measured), issue 17's at the largest size."""
    verdicts: list[tuple[str, bool | None, str]] = []
    at = {count: run for count, _, _, run, _ in rows}
    if 1000 in at:
        verdicts.append((f"analysis of 1000 nodes < {ANALYSIS_MAX_S:.0f} s", at[1000].wall < ANALYSIS_MAX_S,
                         f"{at[1000].wall:.2f} s"))
    count, _, floor, last, _ = rows[-1]
    first_count, first = rows[0][0], rows[0][3]
    verdicts += [
        (f"analysis of {count} nodes <= {ANALYSIS_MAX_FLOOR:.0f}x the floor",
         last.wall <= ANALYSIS_MAX_FLOOR * floor.wall,
         f"{last.wall / floor.wall:.2f}x ({last.wall:.2f} s, floor {floor.wall:.2f} s)"),
        (f"analysis of {count} nodes <= {ANALYSIS_TREE_MB:.0f} MB (tree)", last.tree_mb <= ANALYSIS_TREE_MB,
         f"{last.tree_mb:.0f} MB (largest process {last.max_rss_mb:.0f} MB)"),
        (f"memory per extra node ({first_count} to {count}) <= per node at {first_count}",
         None if len(rows) < 2 else extra_kb(last, count, first, first_count) <= per_node_kb(first, first_count),
         "-" if len(rows) < 2 else f"{extra_kb(last, count, first, first_count):.1f} KB vs "
                                   f"{per_node_kb(first, first_count):.1f} KB (tree peak)"),
        (f"podaudit --help < {HELP_MAX_MS:.0f} ms", help_ms < HELP_MAX_MS, f"{help_ms:.0f} ms"),
    ]
    return verdicts


def per_node_kb(run: Run, nodes: int) -> float:
    """The process tree's peak memory per node, its start-up included."""
    return 1024 * run.tree_mb / nodes


def extra_kb(now: Run, nodes: int, then: Run, then_nodes: int) -> float:
    """The tree's peak memory per extra node between two sizes: what each node adds, without
    the start-up; flat memory keeps it at or below the per-node figure of the smaller size."""
    return 1024 * (now.tree_mb - then.tree_mb) / (nodes - then_nodes)


def print_analysis(rows: list[tuple[int, dict[str, int], Run, Run, dict[str, list[object]]]],
                   extra: dict[str, Run], largest: int) -> None:
    print("ms/node: wall / nodes; +ms/node: the extra wall time per extra node since the size above; "
          "peak MB: the largest process; tree MB: sum of the process and its workers (both sampled); "
          "KB/node: tree MB / nodes; +KB/node: the extra tree memory per extra node since the size above\n")
    print(f"{'nodes':>6} {'files':>6} {'MB':>5} | {'floor s':>7} {'ms/node':>7} {'+ms/node':>8} {'MB':>4} | "
          f"{'podaudit s':>10} {'ms/node':>7} {'+ms/node':>8} {'x floor':>7} {'cpu s':>6} {'peak MB':>7} "
          f"{'tree MB':>7} {'KB/node':>7} {'+KB/node':>8} {'rc':>2} {'nodes':>5} {'findings':>8}")
    def more(now: Run, then: Run | None, nodes: int) -> str:
        return "-" if then is None else f"{1000 * (now.wall - then.wall) / nodes:.2f}"

    before: tuple[int, Run, Run] | None = None
    for count, facts, floor, run, doc in rows:
        step = count - before[0] if before else 1
        print(f"{count:>6} {facts['files']:>6} {facts['bytes'] / 1e6:>5.1f} | {floor.wall:>7.2f} "
              f"{1000 * floor.wall / count:>7.2f} {more(floor, before[1] if before else None, step):>8} "
              f"{floor.max_rss_mb:>4.0f} | {run.wall:>10.2f} {1000 * run.wall / count:>7.2f} "
              f"{more(run, before[2] if before else None, step):>8} {run.wall / floor.wall:>7.1f} {run.cpu:>6.2f} "
              f"{run.max_rss_mb:>7.0f} {run.tree_mb:>7.0f} {per_node_kb(run, count):>7.1f} "
              f"{'-' if before is None else f'{extra_kb(run, count, before[2], before[0]):.1f}':>8} {run.rc:>2} "
              f"{len(doc['nodes']):>5} "
              f"{len(doc.get('findings', [])):>8}")
        before = (count, floor, run)
    print()
    for name, run in extra.items():
        print(f"{name + f' at {largest}:':36} {run.wall:6.2f} s ({1000 * run.wall / largest:5.2f} ms/node), cpu "
              f"{run.cpu:5.2f} s, peak {run.max_rss_mb:4.0f} MB, tree {run.tree_mb:4.0f} MB, "
              f"{len(run.stdout) / 1e6:.1f} MB of output, rc {run.rc}")


def revision() -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() or "(no git)"


def median_ms(argv: list[str], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


# ---------------------------------------------------------------- sweeps over the SSH lab


def sweep_bench(counts: list[int], args: argparse.Namespace, ssh_loop: bool) -> list[tuple[str, bool | None, str]]:
    lab = Path(args.dir)
    largest = counts[-1]
    load = os.getloadavg()[0]
    start = time.monotonic()
    subprocess.run([str(LAB), "up", "fleet", "--nodes", str(largest), "--dir", str(lab),
                    "--first-address", "127.0.20.10"], check=True, stdout=subprocess.DEVNULL)
    lab_up = time.monotonic() - start
    results: dict[int, list[dict[str, object]]] = {}
    try:
        state = json.loads((lab / "state.json").read_text())
        everyone = state["nodes"]
        # One untimed login to every node first: a node's first connection costs its sshd more, and
        # otherwise the first run at each size would pay it for the nodes the smaller size left out.
        measure_paramiko(lab, everyone, args.concurrency)
        for count in counts:
            subset = everyone[:count]
            inventory = lab / f"inventory-{count}"
            inventory.write_text("".join(f"{n['name']}\n" for n in subset))
            measures = [partial(measure_podaudit, lab, inventory, args.concurrency)]
            if ssh_loop:
                measures.append(partial(measure_ssh_loop, lab, subset))
            measures.append(partial(measure_paramiko, lab, subset, args.concurrency))
            rows = []
            for measure in measures:
                before = server_cpu(subset)
                row = measure()
                row["server_cpu"] = server_cpu(subset) - before
                rows.append(row)
            results[count] = rows
        script_cpu = node_script_cpu(everyone[0], SCRIPT_ROUNDS)
    finally:
        if not args.keep:
            subprocess.run([str(LAB), "down", "--dir", str(lab)], check=False, stdout=subprocess.DEVNULL)
    print(f"\nsweeps of the fleet lab (one machine, {os.cpu_count()} cores, every sshd in a namespace on it; "
          f"lab of {largest} nodes up in {lab_up:.1f} s; podaudit {revision()}; load average {load:.2f} before "
          f"the lab)\n")
    print("cpu s: the client's CPU; sshd cpu: the nodes' sshd and what they ran, per node")
    print(f"{'nodes':>5} {'run':30} {'wall s':>7} {'x floor':>7} {'ms/node':>8} {'ok':>4} {'failed':>6} "
          f"{'execs/node':>10} {'logins/node':>11} {'cpu s':>6} {'peak MB':>7} {'sshd cpu ms/node':>16}")
    for count, rows in results.items():
        floor = float(rows[-1]["wall"])  # type: ignore[arg-type]
        for row in rows:
            wall = float(row["wall"])  # type: ignore[arg-type]
            peak = f"{row['peak_mb']:.0f}" if row["peak_mb"] is not None else "-"
            cpu = f"{row['cpu']:.2f}" if row.get("cpu") is not None else "-"
            print(f"{count:>5} {row['name']:30} {wall:7.2f} {wall / floor:7.2f} {1000 * wall / count:8.1f} "
                  f"{row['ok']:>4} {row['failed']:>6} {row['execs']:>10.2f} {row['logins']:>11.2f} {cpu:>6} {peak:>7} "
                  f"{1000 * float(row['server_cpu']) / count:>16.0f}")  # type: ignore[arg-type]
    ours, floor_ms = script_cpu
    print(f"\nnode-side CPU per node, from the node's own accounting (getrusage of what `sh -s` runs in one "
          f"node's namespaces, nsenter's own cost taken off; median of {SCRIPT_ROUNDS} paired rounds): "
          f"podaudit's first pass {ours:.1f} ms, the floor's cat+ls {floor_ms:.1f} ms")
    verdicts: list[tuple[str, bool | None, str]] = [
        (f"node-side CPU per node <= {SCRIPT_MAX_RATIO:.0f}x the floor's", ours <= SCRIPT_MAX_RATIO * floor_ms,
         f"{ours / floor_ms:.2f}x ({ours:.1f} ms vs {floor_ms:.1f} ms)")]
    for count, rows in results.items():
        failed = sum(int(row["failed"]) for row in rows)  # type: ignore[call-overload]
        verdicts.append((f"sweep of {count} nodes: every node read", failed == 0, f"{failed} failed"))
    if len(counts) > 1:
        def per_node(count: int, index: int) -> float:
            return float(results[count][index]["wall"]) / count  # type: ignore[arg-type]
        small, big = counts[0], counts[-1]
        for index, what in ((0, "podaudit"), (-1, "paramiko floor")):
            ratio = per_node(big, index) / per_node(small, index)
            # The floor's own growth is this machine's (one CPU pair for every sshd and the client): context.
            verdicts.append((f"{what} per-node cost flat {small}->{big} (<{FLAT_MAX_RATIO:.2f}x)",
                             ratio < FLAT_MAX_RATIO if index == 0 else None,
                             f"{ratio:.2f}x ({1000 * per_node(small, index):.0f} -> "
                             f"{1000 * per_node(big, index):.0f} ms/node)"))
    return verdicts


def node_script_cpu(node: dict[str, object], rounds: int) -> tuple[float, float]:
    """Median CPU ms of podaudit's first-pass gather script and of the floor's READ, each run by
    `sh -s` inside the node's namespaces (as its sshd would), in paired rounds that alternate
    their order, less the median cost of entering them (nsenter running `true`)."""
    sys.path.insert(0, str(ROOT))
    from podaudit.collect.remote import gather_script

    enter = ["nsenter", "-t", str(node["host_pids"][0]), "-m", "-u", "-p", "--"]  # type: ignore[index]
    runs = {"podaudit": ([*enter, "sh", "-s"], gather_script()), "floor": ([*enter, "sh", "-s"], READ.encode()),
            "enter": ([*enter, "true"], b"")}
    spent: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(rounds):
        for name in (list(runs) if round_ % 2 == 0 else list(runs)[::-1]):
            argv, script = runs[name]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, input=script, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    entering = statistics.median(spent["enter"])
    return (1000 * (statistics.median(spent["podaudit"]) - entering),
            1000 * (statistics.median(spent["floor"]) - entering))


def server_cpu(nodes: list[dict[str, object]]) -> float:
    """CPU seconds used so far by the nodes' processes and their reaped children (each sshd's logins)."""
    ticks = 0
    for node in nodes:
        for pid in node["host_pids"]:  # type: ignore[attr-defined]
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure_podaudit(lab: Path, inventory: Path, concurrency: int) -> dict[str, object]:
    run = run_measured(podaudit_argv("sweep", "--inventory", str(inventory), "--ssh-config", str(lab / "ssh_config"),
                                     "--concurrency", str(concurrency), "-o", "json"))
    doc = json.loads(run.stdout)
    nodes = doc["nodes"]
    execs = sum(n["collection"]["execs"] for n in nodes) / max(len(nodes), 1)
    logins = sum(n["collection"]["logins"] for n in nodes) / max(len(nodes), 1)
    for failure in doc["unavailable"]:  # say why, so a failed node is a lead, not a number
        print(f"  not read: {failure['node']}: {failure['kind']}: {failure['message'][:200]}", file=sys.stderr)
    return {"name": "podaudit sweep", "wall": run.wall, "ok": len(nodes), "failed": len(doc["unavailable"]),
            "execs": execs, "logins": logins, "peak_mb": run.max_rss_mb, "cpu": run.cpu}


def measure_ssh_loop(lab: Path, nodes: list[dict[str, str]]) -> dict[str, object]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    ok = 0
    for node in nodes:
        proc = subprocess.run(["ssh", "-F", str(lab / "ssh_config"), node["name"], READ], capture_output=True,
                              check=False)
        ok += proc.returncode == 0
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - children.ru_utime + after.ru_stime - children.ru_stime
    return {"name": "sequential ssh loop", "wall": wall, "ok": ok, "failed": len(nodes) - ok,
            "execs": 1.0, "logins": 1.0, "peak_mb": None, "cpu": cpu}


def measure_paramiko(lab: Path, nodes: list[dict[str, str]], concurrency: int) -> dict[str, object]:
    import paramiko  # only the sweeps need it

    key = paramiko.Ed25519Key.from_private_key_file(str(lab / "id_ed25519"))
    known = str(lab / "known_hosts")

    def one(address: str) -> bool:
        client = paramiko.SSHClient()
        client.load_host_keys(known)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(address, username="root", pkey=key, allow_agent=False, look_for_keys=False, timeout=10)
            _, out, _ = client.exec_command(shlex.join(["sh", "-c", READ]))
            out.read()
            return bool(out.channel.recv_exit_status() == 0)
        finally:
            client.close()

    cpu0 = os.times()
    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        ok = sum(pool.map(one, [n["address"] for n in nodes]))
    wall = time.monotonic() - start
    cpu1 = os.times()
    return {"name": "paramiko thread pool (floor)", "wall": wall, "ok": ok, "failed": len(nodes) - ok,
            "execs": 1.0, "logins": 1.0, "peak_mb": None,
            "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)}


if __name__ == "__main__":
    if sys.argv[1:2] == [GENERATE]:
        Generator(int(sys.argv[4])).write(Path(sys.argv[2]), int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
