"""Time ``podaudit sweep`` over N lab nodes beside two baselines run the same way.

1. podaudit sweep (the CLI, in a child process): wall time, peak RSS, execs and logins per node.
2. A sequential ``ssh`` loop reading the same files (what an operator's for-loop costs).
3. A thread pool of plain paramiko execs, one per node, reading the same files: the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "scripts" / "lab"
# The files podaudit ends up reading on a kubeadm worker like the fleet's nodes.
READ = ("cat /proc/$(pgrep -o -x kubelet)/cmdline /etc/hostname /usr/lib/systemd/system/kubelet.service "
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf /var/lib/kubelet/kubeadm-flags.env "
        "/etc/default/kubelet /var/lib/kubelet/config.yaml /etc/just-to-mess-with-you/* >/dev/null; "
        "ls -la /etc/just-to-mess-with-you")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--dir", default="/tmp/podaudit-bench")  # noqa: S108 (the lab refuses foreign dirs)
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = parser.parse_args()
    lab = Path(args.dir)
    subprocess.run([str(LAB), "up", "fleet", "--nodes", str(args.nodes), "--dir", str(lab),
                    "--first-address", "127.0.20.10"], check=True, stdout=subprocess.DEVNULL)
    try:
        state = json.loads((lab / "state.json").read_text())
        rows = [measure_podaudit(lab, args.concurrency), measure_ssh_loop(lab, state),
                measure_paramiko(lab, state, args.concurrency)]
    finally:
        if not args.keep:
            subprocess.run([str(LAB), "down", "--dir", str(lab)], check=False, stdout=subprocess.DEVNULL)
    report(rows, args.nodes)
    return 0


def measure_podaudit(lab: Path, concurrency: int) -> dict[str, object]:
    argv = [sys.executable, "-m", "podaudit", "sweep", "--inventory", str(lab / "inventory"), "--ssh-config",
            str(lab / "ssh_config"), "--concurrency", str(concurrency), "-o", "json"]
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        # wait4 gives this child's own peak RSS, not the lab's or the baselines'.
        _, _, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - start
        child.returncode = 0
        out.seek(0)
        doc = json.loads(out.read())
    peak_mb = usage.ru_maxrss / 1024
    nodes = doc["nodes"]
    execs = sum(n["collection"]["execs"] for n in nodes) / max(len(nodes), 1)
    logins = sum(n["collection"]["logins"] for n in nodes) / max(len(nodes), 1)
    return {"name": "podaudit sweep", "wall": wall, "ok": len(nodes), "failed": len(doc["unavailable"]),
            "execs": execs, "logins": logins, "peak_mb": peak_mb}


def measure_ssh_loop(lab: Path, state: dict[str, object]) -> dict[str, object]:
    nodes = [n["name"] for n in state["nodes"]]  # type: ignore[attr-defined,index]
    start = time.monotonic()
    ok = 0
    for name in nodes:
        proc = subprocess.run(["ssh", "-F", str(lab / "ssh_config"), name, READ], capture_output=True, check=False)
        ok += proc.returncode == 0
    return {"name": "sequential ssh loop", "wall": time.monotonic() - start, "ok": ok, "failed": len(nodes) - ok,
            "execs": 1.0, "logins": 1.0, "peak_mb": None}


def measure_paramiko(lab: Path, state: dict[str, object], concurrency: int) -> dict[str, object]:
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
            return out.channel.recv_exit_status() == 0
        finally:
            client.close()

    addresses = [n["address"] for n in state["nodes"]]  # type: ignore[attr-defined,index]
    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        ok = sum(pool.map(one, addresses))
    return {"name": "paramiko thread pool (floor)", "wall": time.monotonic() - start, "ok": ok,
            "failed": len(addresses) - ok, "execs": 1.0, "logins": 1.0, "peak_mb": None}


def report(rows: list[dict[str, object]], nodes: int) -> None:
    floor = float(rows[-1]["wall"])  # type: ignore[arg-type]
    print(f"\nsweep of {nodes} lab nodes (one machine, {nodes} sshd in namespaces)\n")
    print(f"{'run':32} {'wall s':>8} {'x floor':>8} {'ms/node':>8} {'ok':>5} {'failed':>6} "
          f"{'execs/node':>10} {'logins/node':>11} {'peak MB':>8}")
    for row in rows:
        wall = float(row["wall"])  # type: ignore[arg-type]
        peak = f"{row['peak_mb']:.0f}" if row["peak_mb"] is not None else "-"
        print(f"{row['name']:32} {wall:8.2f} {wall / floor:8.2f} {1000 * wall / nodes:8.1f} {row['ok']:>5} "
              f"{row['failed']:>6} {row['execs']:>10.2f} {row['logins']:>11.2f} {peak:>8}")


if __name__ == "__main__":
    sys.exit(main())
