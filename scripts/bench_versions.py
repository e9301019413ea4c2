#!/usr/bin/env python3
"""This working tree's sweep beside another podaudit's, on the same lab, in paired rounds.

    scripts/bench_versions.py --baseline-python PATH [--nodes 50] [--rounds 5] [--scenario fleet]
    scripts/bench_versions.py --baseline-python PATH --analysis 1000 [--rounds 5]

PATH is the python of another podaudit install, e.g. a worktree of an earlier commit:
    git worktree add /tmp/base COMMIT && python3 -m venv /tmp/base/.venv \\
        && /tmp/base/.venv/bin/pip install -q -e /tmp/base

One lab is brought up; every node gets one untimed login; then each round sweeps it with both
versions, the order alternating (ABBA), so drift in the machine's load falls on both. Printed
per version: the median wall time, the client's CPU (the podaudit process tree), the nodes'
CPU (each sshd and what it ran: the gather script), execs per node; and the ratio of medians.
With ``--analysis N``, no lab: N generated node snapshots (scripts/bench.py's generator, the
analysis benchmark's) are swept offline (``--snapshot DIR sweep -o json``) by both versions in
the same paired rounds; printed: median wall time, CPU and peak memory of the process tree.
Check the load first (``uptime``): lab nodes share the client's cores, so a busy machine hides
the node-side cost. Needs root, like scripts/lab.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import GENERATE, LAB, run_measured, server_cpu


def sweep_once(python: str, lab: Path, inventory: Path, nodes: list[dict[str, object]]) -> dict[str, float]:
    before = server_cpu(nodes)
    run = run_measured([python, "-P", "-m", "podaudit", "sweep", "--inventory", str(inventory), "--ssh-config",
                        str(lab / "ssh_config"), "--no-api", "-o", "json"])
    doc = json.loads(run.stdout)
    read = doc["nodes"]
    if doc["unavailable"] or len(read) != len(nodes):
        raise SystemExit(f"{python}: {len(doc['unavailable'])} nodes not read: {doc['unavailable'][:1]}")
    return {"wall": run.wall, "cpu": run.cpu, "nodes_cpu": server_cpu(nodes) - before,
            "execs": sum(n["collection"]["execs"] for n in read) / len(read)}


def analysis_once(python: str, snapshots: Path) -> dict[str, float]:
    # -P: the baseline must import its own podaudit, not this directory's.
    run = run_measured([python, "-P", "-m", "podaudit", "--snapshot", str(snapshots), "sweep", "-o", "json"])
    if not json.loads(run.stdout)["nodes"]:
        raise SystemExit(f"{python}: no node analysed")
    return {"wall": run.wall, "cpu": run.cpu, "tree_mb": run.tree_mb}


def paired(versions: dict[str, str], rounds: int, once: Callable[[str], dict[str, float]]
           ) -> dict[str, dict[str, float]]:
    """Each round runs every version, the order alternating (ABBA); the medians per version."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
    for round_no in range(rounds):
        for name in list(versions) if round_no % 2 == 0 else list(reversed(versions)):
            runs[name].append(once(versions[name]))
    return {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for name, rows in runs.items()}


def analysis_main(versions: dict[str, str], count: int, rounds: int) -> int:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="podaudit-bench-versions-") as work:
        snapshots = Path(work) / str(count)
        subprocess.run([sys.executable, str(Path(__file__).parent / "bench.py"), GENERATE, str(snapshots),
                        str(count), "7"], check=True)
        analysis_once(sys.executable, snapshots)  # untimed: the page cache
        medians = paired(versions, rounds, lambda python: analysis_once(python, snapshots))
    print(f"\nanalysis of {count} generated snapshots, {rounds} paired rounds (ABBA), medians; "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} before")
    print(f"{'version':10} {'wall s':>7} {'cpu s':>7} {'tree MB':>8}")
    for name, m in medians.items():
        print(f"{name:10} {m['wall']:7.2f} {m['cpu']:7.2f} {m['tree_mb']:8.0f}")
    base, new = medians["baseline"], medians["this tree"]
    print("ratio      " + "  ".join(f"{key} {new[key] / base[key]:.2f}x" for key in base if base[key]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-python", required=True)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", default="fleet")
    parser.add_argument("--dir", default="/tmp/podaudit-bench-versions")  # noqa: S108 - a lab lives in /tmp
    parser.add_argument("--analysis", type=int, metavar="N", help="offline analysis of N generated snapshots, no lab")
    args = parser.parse_args()
    versions = {"baseline": args.baseline_python, "this tree": sys.executable}
    if args.analysis:
        return analysis_main(versions, args.analysis, args.rounds)
    lab = Path(args.dir)
    load = os.getloadavg()
    subprocess.run([str(LAB), "up", args.scenario, "--nodes", str(args.nodes), "--dir", str(lab),
                    "--first-address", "127.0.21.10"], check=True, stdout=subprocess.DEVNULL)
    try:
        nodes = json.loads((lab / "state.json").read_text())["nodes"]
        inventory = lab / "inventory"
        inventory.write_text("".join(f"{n['name']}\n" for n in nodes))
        sweep_once(sys.executable, lab, inventory, nodes)  # untimed: every sshd's first login
        medians = paired(versions, args.rounds, lambda python: sweep_once(python, lab, inventory, nodes))
    finally:
        subprocess.run([str(LAB), "down", "--dir", str(lab)], check=False, stdout=subprocess.DEVNULL)
    print(f"\n{args.nodes} {args.scenario} lab nodes, {args.rounds} paired rounds (ABBA), medians; "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} before the lab")
    print(f"{'version':10} {'wall s':>7} {'client cpu s':>12} {'nodes cpu ms/node':>17} {'execs/node':>10}")
    for name, m in medians.items():
        print(f"{name:10} {m['wall']:7.2f} {m['cpu']:12.2f} {1000 * m['nodes_cpu'] / args.nodes:17.1f} "
              f"{m['execs']:10.2f}")
    base, new = medians["baseline"], medians["this tree"]
    print("ratio      " + "  ".join(f"{key} {new[key] / base[key]:.2f}x" for key in ("wall", "cpu", "nodes_cpu")
                                     if base[key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
