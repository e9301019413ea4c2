"""known_hosts size against the SSH client's cost per node (issue 17, part 1).

(a) micro: the client's host-key work per connection (the known_hosts lookup, asking for the
    key type on file, checking the server's key: hostindex, hostkeys), in-process, each
    connection a different node, at 100 and at 10,000 unrelated entries, all plain and with a
    share hashed (--micro-hashed), beside each other; and the line-by-line check the client
    did before (load_known_hosts + judge, every line parsed and matched per connection).
(b) sweep: the ``fleet`` lab (needs root, as scripts/bench.py's sweeps), N nodes swept by
    ``podaudit sweep`` with a known_hosts of the lab's real keys plus 100 unrelated entries,
    and plus 10,000, in paired interleaved rounds (A B, B A, ...); medians of wall time and
    client CPU; PASS when the big file's median wall time is within 5 % of the small one's.
    The unrelated entries are plain by default (--sweep-hashed): a hashed line costs one
    HMAC-SHA1 per new name looked up (~1.2 us here), since OpenSSH salts each hashed line on
    its own; ssh pays the same (hostfile.c match_maybe_hashed), and (a) shows that share.

    python scripts/bench_hosts.py [--part micro|sweep|both] [--nodes 100] [--rounds 5]

The known_hosts files get an mtime an hour back, as an operator's file has: a file modified
in the last 3 s is compared byte for byte on each connection (hostindex._RACY_NS).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # scripts/bench.py: the lab, measuring a child process

SMALL, BIG = 100, 10_000
MAX_RATIO = 1.05  # issue 17: 10,000 unrelated entries within 5 % of 100


def main(argv: Sequence[str] | None = None) -> int:
    found = verdicts(argv)
    print("\ntargets")
    for name, ok, detail in found:
        print(f"  {'INFO' if ok is None else 'PASS' if ok else 'FAIL'}  {name:58} {detail}")
    return 0 if all(ok is not False for _, ok, _ in found) else 1


def verdicts(argv: Sequence[str] | None = None) -> list[tuple[str, bool | None, str]]:
    """Run the parts ``argv`` asks for; their verdicts (scripts/bench.py prints them with its own)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("micro", "sweep", "both"), default="both")
    parser.add_argument("--nodes", type=int, default=100, help="lab nodes swept in (b) (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds of (b) (default %(default)s)")
    parser.add_argument("--micro-hashed", type=float, default=0.5,
                        help="share of (a)'s unrelated entries hashed, beside all plain (default %(default)s)")
    parser.add_argument("--sweep-hashed", type=float, default=0.0,
                        help="share of (b)'s unrelated entries hashed (|1|salt|hash) (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--dir", default="/tmp/podaudit-bench-hosts")  # noqa: S108 (the lab lives in /tmp)
    parser.add_argument("--first-address", default="127.0.40.10", help="of the lab's nodes (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = parser.parse_args(argv)
    print(f"known_hosts size benchmark, podaudit {bench.revision()}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f}")
    found: list[tuple[str, bool | None, str]] = []
    if args.part in ("micro", "both"):
        for hashed in sorted({0.0, args.micro_hashed}):
            found += micro(hashed)
    if args.part in ("sweep", "both"):
        found += sweep(args)
    return found


# ---------------------------------------------------------------- known_hosts files


class Keys:
    """A few real public keys of the usual types (only their size and type matter here)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        made: list[Any] = [ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1()),
                           rsa.generate_private_key(public_exponent=65537, key_size=3072)]
        self.lines = [key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                    serialization.PublicFormat.OpenSSH).decode() for key in made]

    def unrelated(self, count: int, hashed: float, seed: int = 17) -> list[str]:
        """``count`` lines for hosts no run asks about: 60 % ed25519, 20 % ecdsa, 20 % rsa."""
        import paramiko

        rng = random.Random(seed)  # noqa: S311 (test data)
        lines = []
        for number in range(count):
            address = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
            name = f"host-{number}.far.example" if number % 2 else address
            shown = paramiko.HostKeys.hash_host(name) if rng.random() < hashed else name
            lines.append(f"{shown} {rng.choices(self.lines, weights=(6, 2, 2))[0]}")
        return lines


def write_known(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    old = time.time() - 3600
    os.utime(path, (old, old))  # an operator's file: not modified in the last seconds
    return path


def paired(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each run once per round, the order reversed every other round (A B, B A, ...)."""
    names = list(runs)
    got: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        for name in names if number % 2 == 0 else names[::-1]:
            got[name].append(runs[name]())
    return got


# ---------------------------------------------------------------- (a) per-connection work, in process


def micro(hashed: float, nodes: int = 200, rounds: int = 7) -> list[tuple[str, bool | None, str]]:
    import paramiko

    from podaudit.transport import SshTarget
    from podaudit.transport.hostindex import known_hosts
    from podaudit.transport.hostkeys import judge, load_known_hosts, prefer_known_key_types, verify_host_key

    keys = Keys()
    # Every round its own node names, as every node of a sweep has its own: a name looked up
    # again is remembered (a jump host), and that is not what a sweep's nodes cost.
    node_keys = [paramiko.PKey.from_type_string("ssh-ed25519", _ed25519(i)) for i in range(1, nodes + 1)]
    names = [[f"10.{77 + one}.{i >> 8}.{i & 255}" for i in range(1, nodes + 1)] for one in range(2 * rounds + 2)]
    own = [f"{name} {key.get_name()} {key.get_base64()}" for batch in names
           for name, key in zip(batch, node_keys, strict=True)]
    transport = paramiko.Transport(_Socket())
    options = transport.get_security_options()
    offered = tuple(options.key_types)
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as work:
        files = {size: write_known(Path(work) / f"known_{size}", keys.unrelated(size, hashed) + own)
                 for size in (SMALL, BIG)}
        first: dict[int, float] = {}

        batches = iter(names)

        def connections(size: int) -> Callable[[], float]:
            def run() -> float:
                batch = next(batches)
                start = time.perf_counter()
                for name, key in zip(batch, node_keys, strict=True):
                    target = SshTarget(alias=name, hostname=name, port=22, user="root", identity_files=(),
                                       proxy_jump=(), proxy_command=None, known_hosts_files=(str(files[size]),),
                                       identities_only=True, strict="yes")
                    options.key_types = offered
                    entries = known_hosts([str(files[size])])
                    prefer_known_key_types(transport, name, entries)
                    verify_host_key(target, key, entries, name)
                return (time.perf_counter() - start) / nodes
            return run

        for size in (SMALL, BIG):
            start = time.perf_counter()
            known_hosts([str(files[size])])
            first[size] = time.perf_counter() - start
        got = paired(rounds, {f"{size}": connections(size) for size in (SMALL, BIG)})
        for size in (SMALL, BIG):
            result[f"{size}"] = statistics.median(got[f"{size}"])
            start = time.perf_counter()
            for name, key in zip(names[-1][:3], node_keys[:3], strict=True):
                assert judge(name, key, load_known_hosts([str(files[size])]))[0] == "known"
            result[f"old {size}"] = (time.perf_counter() - start) / 3
    transport.close()
    print(f"\n(a) host-key work per connection, unrelated entries {hashed:.0%} hashed; {nodes} nodes per round (each "
          f"its own name; every file has the {len(own):,} nodes' lines too), median of {rounds} paired rounds")
    print(f"{'unrelated entries':>18} {'us/connection':>14} {'first parse ms':>15} {'line by line ms/conn':>21}")
    for size in (SMALL, BIG):
        print(f"{size:>18,} {1e6 * result[f'{size}']:>14.1f} {1e3 * first[size]:>15.1f} "
              f"{1e3 * result[f'old {size}']:>21.1f}")
    ratio = result[f"{BIG}"] / result[f"{SMALL}"]
    return [(f"host-key work per connection, {BIG:,} vs {SMALL} entries, {hashed:.0%} hashed", None,
             f"{1e6 * result[f'{BIG}']:.0f} vs {1e6 * result[f'{SMALL}']:.0f} us ({ratio:.1f}x; "
             f"line by line {1e3 * result[f'old {BIG}']:.0f} ms)")]


def _ed25519(number: int) -> bytes:
    """A well-formed ssh-ed25519 public key blob, distinct per number."""
    import struct

    return b"".join(struct.pack(">I", len(part)) + part for part in (b"ssh-ed25519", number.to_bytes(32, "big")))


class _Socket:
    """Enough of a socket for paramiko.Transport to be built (never started)."""

    def settimeout(self, _: float) -> None:
        return None

    def close(self) -> None:
        return None


# ---------------------------------------------------------------- (b) the sweep


def sweep(args: argparse.Namespace) -> list[tuple[str, bool | None, str]]:
    lab = Path(args.dir)
    load = os.getloadavg()[0]
    subprocess.run([str(bench.LAB), "up", "fleet", "--nodes", str(args.nodes), "--dir", str(lab),
                    "--first-address", args.first_address], check=True, stdout=subprocess.DEVNULL)
    try:
        nodes = json.loads((lab / "state.json").read_text())["nodes"]
        real = (lab / "known_hosts").read_text().splitlines()
        keys = Keys()
        files = {size: write_known(lab / f"known_hosts_{size}", keys.unrelated(size, args.sweep_hashed) + real)
                 for size in (SMALL, BIG)}
        bench.measure_paramiko(lab, nodes, args.concurrency)  # one untimed login to every node first
        runs: dict[str, list[bench.Run]] = {f"{size}": [] for size in files}

        def one(size: int) -> Callable[[], float]:
            def run() -> float:
                done = bench.run_measured(bench.podaudit_argv(
                    "sweep", "--inventory", str(lab / "inventory"), "--ssh-config", str(lab / "ssh_config"),
                    "--known-hosts", str(files[size]), "--concurrency", str(args.concurrency), "-o", "json"))
                runs[f"{size}"].append(done)
                return done.wall
            return run

        walls = paired(args.rounds, {f"{size}": one(size) for size in files})
    finally:
        if not args.keep:
            subprocess.run([str(bench.LAB), "down", "--dir", str(lab)], check=False, stdout=subprocess.DEVNULL)
    return report_sweep(args, runs, walls, load)


def report_sweep(args: argparse.Namespace, runs: dict[str, list[bench.Run]], walls: dict[str, list[float]],
                 load: float) -> list[tuple[str, bool | None, str]]:
    print(f"\n(b) podaudit sweep of {args.nodes} lab nodes, --concurrency {args.concurrency}, known_hosts = the "
          f"lab's {args.nodes * 2} real lines + unrelated entries ({args.sweep_hashed:.0%} hashed); {args.rounds} "
          "paired rounds (A B, B A, ...); "
          f"load average {load:.2f} before the lab, {os.getloadavg()[0]:.2f} after")
    print(f"{'unrelated':>10} {'walls s (in order)':40} {'median s':>9} {'cpu s median':>13} {'failed':>7}")
    failed = 0
    for size, done in runs.items():
        bad = sum(len(json.loads(run.stdout or b"{}").get("unavailable", [1])) for run in done)
        failed += bad
        print(f"{int(size):>10,} {' '.join(f'{w:.2f}' for w in walls[size]):40} {statistics.median(walls[size]):>9.2f} "
              f"{statistics.median(run.cpu for run in done):>13.2f} {bad:>7}")
    small, big = statistics.median(walls[f"{SMALL}"]), statistics.median(walls[f"{BIG}"])
    pairs = statistics.median(b / s for s, b in zip(walls[f"{SMALL}"], walls[f"{BIG}"], strict=True))
    cpu = (statistics.median(run.cpu for run in runs[f"{BIG}"]) /
           statistics.median(run.cpu for run in runs[f"{SMALL}"]))
    print(f"ratio of medians {big / small:.3f}; median of the paired ratios {pairs:.3f}; client CPU ratio {cpu:.3f}")
    return [
        (f"sweep of {args.nodes}: every node read in every round", failed == 0, f"{failed} failed"),
        (f"sweep of {args.nodes}, {BIG:,} vs {SMALL} unrelated known_hosts (<= {MAX_RATIO:.2f}x)",
         big / small <= MAX_RATIO, f"{big / small:.3f}x ({big:.2f} vs {small:.2f} s; paired {pairs:.3f}x)"),
    ]


if __name__ == "__main__":
    sys.exit(main())
