#!/usr/bin/env python3
"""What a static pod directory with many entries costs podaudit: wall time and peak RSS of
``podaudit --root NODE sweep -o json`` on a copy of the kubeadm-etc fixture whose manifest
folder holds N generated entries (each a distinct Pod, about 1 KB, like nginx-proxy.yml), and
optionally where the memory goes (tracemalloc, in this process).

    scripts/bench_big_dir.py 10000 100000          # time and peak RSS per size
    scripts/bench_big_dir.py --where 10000         # top allocation sites per entry

A benchmark, not a test: figures move with the machine. Results are in docs/scale.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "nodes" / "kubeadm-etc"
MANIFESTS = "etc/kubernetes/manifests"


def make_node(where: Path, entries: int) -> Path:
    root = where / f"node-{entries}"
    shutil.copytree(FIXTURE, root, symlinks=True)
    folder = root / MANIFESTS
    template = (folder / "nginx-proxy.yml").read_text()
    for i in range(entries):
        (folder / f"pod-{i:06}.yaml").write_text(template.replace("name: nginx-proxy\n", f"name: pod-{i}\n", 1))
    return root


def measure(root: Path) -> tuple[float, int, int]:
    """Seconds, peak RSS in KiB of the podaudit process, and its exit code."""
    start = time.monotonic()
    with open(os.devnull, "wb") as null:
        child = subprocess.Popen([sys.executable, "-m", "podaudit", "--root", str(root), "sweep", "-o", "json"],
                                 stdout=null, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
    assert child.stderr is not None
    err = child.stderr.read().decode(errors="replace").strip()
    if err:
        print(f"  stderr: {err[:300]}", file=sys.stderr)
    return time.monotonic() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def where_memory(root: Path, entries: int) -> None:
    """The allocation sites still holding memory once the node is analysed, per entry."""
    import tracemalloc

    sys.path.insert(0, str(REPO))
    from podaudit.collect.local import LocalNode
    from podaudit.kubelet.resolve import analyze_node

    tracemalloc.start(4)
    node = LocalNode(str(root), label="bench")
    view = analyze_node(node.snapshot, node)
    current, peak = tracemalloc.get_traced_memory()
    print(f"{entries} entries: {len(view.entries)} judged; held {current / entries:.0f} B/entry, "
          f"peak {peak / entries:.0f} B/entry")
    for stat in tracemalloc.take_snapshot().statistics("lineno")[:12]:
        print(f"  {stat.size / entries:8.0f} B/entry  {stat.traceback[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--where", action="store_true", help="tracemalloc: what holds the memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="podaudit-bench-") as tmp:
        for size in args.sizes:
            root = make_node(Path(tmp), size)
            if args.where:
                where_memory(root, size)
            else:
                seconds, rss, code = measure(root)
                print(f"{size:>7} entries: {seconds:6.1f} s, peak RSS {rss / 1024:7.1f} MiB "
                      f"({rss * 1024 / size:,.0f} B/entry), exit {code}")
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
