#!/usr/bin/env python3
"""This working tree's sweep beside another podaudit's, on the same lab, in paired rounds.

    scripts/bench_versions.py --baseline-python PATH [--nodes 50] [--rounds 5] [--scenario fleet]

PATH is the python of another podaudit install, e.g. a worktree of an earlier commit:
    git worktree add /tmp/base COMMIT && python3 -m venv /tmp/base/.venv \\
        && /tmp/base/.venv/bin/pip install -q -e /tmp/base

One lab is brought up; every node gets one untimed login; then each round sweeps it with both
versions, the order alternating (ABBA), so drift in the machine's load falls on both. Printed
per version: the median wall time, the client's CPU (the podaudit process tree), the nodes'
CPU (each sshd and what it ran: the gather script), execs per node; and the ratio of medians.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import LAB, run_measured, server_cpu


def sweep_once(python: str, lab: Path, inventory: Path, nodes: list[dict[str, object]]) -> dict[str, float]:
    before = server_cpu(nodes)
    run = run_measured([python, "-m", "podaudit", "sweep", "--inventory", str(inventory), "--ssh-config",
                        str(lab / "ssh_config"), "--no-api", "-o", "json"])
    doc = json.loads(run.stdout)
    read = doc["nodes"]
    if doc["unavailable"] or len(read) != len(nodes):
        raise SystemExit(f"{python}: {len(doc['unavailable'])} nodes not read: {doc['unavailable'][:1]}")
    return {"wall": run.wall, "cpu": run.cpu, "nodes_cpu": server_cpu(nodes) - before,
            "execs": sum(n["collection"]["execs"] for n in read) / len(read)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-python", required=True)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", default="fleet")
    parser.add_argument("--dir", default="/tmp/podaudit-bench-versions")  # noqa: S108 - a lab lives in /tmp
    args = parser.parse_args()
    versions = {"baseline": args.baseline_python, "this tree": sys.executable}
    lab = Path(args.dir)
    load = os.getloadavg()
    subprocess.run([str(LAB), "up", args.scenario, "--nodes", str(args.nodes), "--dir", str(lab),
                    "--first-address", "127.0.21.10"], check=True, stdout=subprocess.DEVNULL)
    try:
        nodes = json.loads((lab / "state.json").read_text())["nodes"]
        inventory = lab / "inventory"
        inventory.write_text("".join(f"{n['name']}\n" for n in nodes))
        sweep_once(sys.executable, lab, inventory, nodes)  # untimed: every sshd's first login
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
        for round_no in range(args.rounds):
            order = list(versions) if round_no % 2 == 0 else list(reversed(versions))
            for name in order:
                runs[name].append(sweep_once(versions[name], lab, inventory, nodes))
    finally:
        subprocess.run([str(LAB), "down", "--dir", str(lab)], check=False, stdout=subprocess.DEVNULL)
    print(f"\n{args.nodes} {args.scenario} lab nodes, {args.rounds} paired rounds (ABBA), medians; "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} before the lab")
    print(f"{'version':10} {'wall s':>7} {'client cpu s':>12} {'nodes cpu ms/node':>17} {'execs/node':>10}")
    medians = {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for name, rows in runs.items()}
    for name, m in medians.items():
        print(f"{name:10} {m['wall']:7.2f} {m['cpu']:12.2f} {1000 * m['nodes_cpu'] / args.nodes:17.1f} "
              f"{m['execs']:10.2f}")
    base, new = medians["baseline"], medians["this tree"]
    print("ratio      " + "  ".join(f"{key} {new[key] / base[key]:.2f}x" for key in ("wall", "cpu", "nodes_cpu")
                                     if base[key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
