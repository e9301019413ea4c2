"""Run a test's processes where they see only themselves: a PID and mount namespace of their
own, their own /proc (so no other kubelet on this machine is visible), and their own /tmp
(so the mtimes of the machine's /tmp and of pytest's directories cannot change under them;
with a --basetemp elsewhere, that top-level directory is replaced instead).

Only the directories a test names, the repository and the Python in use stay visible there;
scripts/private_tmp.sh (shared with the SSH lab's nodes) does the mounting.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRIVATE_TMP = REPO / "scripts" / "private_tmp.sh"
PID1 = Path(__file__).resolve().parent / "support" / "pid1.py"
# Top-level directories the tools of private_tmp.sh (sh, mount) need: never covered.
SYSTEM_TOPS = frozenset({"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/etc", "/proc", "/sys",
                         "/dev"})
# --kill-child: when unshare dies (a test timeout kills it), the namespace's init dies, and
# with it every process of the namespace. --cgroup: its processes' cgroup reads "/", so the
# service that runs the suite (a CI runner's, a desktop's user@.service) never passes for the
# unit that started a test's kubelet.
UNSHARE = ["unshare", "--cgroup", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private",
           "--kill-child"]


def why_no_namespaces() -> str | None:
    """Why this machine cannot give a test namespaces of its own, or None."""
    if os.geteuid() != 0:
        return "needs root: a private PID namespace and /proc keep other kubelets out"
    if shutil.which("unshare") is None:
        return "needs util-linux unshare (a private PID namespace keeps other kubelets out)"
    return None


def private_tmp(source: Path, keep: Iterable[Path]) -> list[str]:
    """The command words that replace the top-level directory holding source (/tmp, unless
    pytest's --basetemp is elsewhere) by source (made here, mode 1777), keeping each of keep,
    the repository and the Python in use visible; end the list with the command to run.
    Run them inside UNSHARE."""
    source.mkdir(parents=True, exist_ok=True)
    source.chmod(0o1777)
    top = "/" + source.resolve().parts[1]
    if top in SYSTEM_TOPS:
        raise pytest.UsageError(f"--basetemp under {top}: the tests cover that directory with one of their own")
    wanted = [REPO, Path(sys.prefix), Path(os.environ.get("HOME", "/")), *keep]
    dirs = {str(p.resolve()) for p in wanted}
    return ["sh", str(PRIVATE_TMP), "--top", top, str(source), *sorted(dirs), "--"]


@dataclass(frozen=True)
class Isolated:
    """What one isolated run gave: the processes' pids (as the namespace numbers them), and
    the command's exit code and output."""

    pids: list[int]
    returncode: int
    stdout: str
    stderr: str


def run_isolated(work: Path, processes: Sequence[tuple[Sequence[str], str | None]], command: Sequence[str],
                 keep: Iterable[Path] = ()) -> Isolated:
    """Start processes ((argv, cwd), each reaching a program named kubelet) and run command,
    alone in namespaces of their own; work (a new directory) and keep stay visible."""
    why = why_no_namespaces()
    if why:
        pytest.skip(why)
    work.mkdir(parents=True)
    spec = work / "spec.json"
    spec.write_text(json.dumps({"processes": [{"argv": list(argv), "cwd": cwd} for argv, cwd in processes],
                                "command": list(command)}))
    argv = [*UNSHARE, *private_tmp(work / "tmp", [work, *keep]), sys.executable, str(PID1), str(spec)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return Isolated(report["pids"], report["returncode"], report["stdout"], report["stderr"])
