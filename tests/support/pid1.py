"""PID 1 of a test's own PID namespace (stdlib only; tests/sandbox.py starts it).

    python pid1.py SPEC.json

SPEC: {"processes": [{"argv": [...], "cwd": "/dir" or null, "comm": "kubelet"}],
       "command": [...], "timeout": seconds}

Starts each process, waits until it has exec'd the program named comm (a wrapper such as
unshare or sh may come first), runs the command, then prints one JSON object on stdout:
{"pids": [pid of each process, as this namespace numbers them], "returncode": ...,
"stdout": ..., "stderr": ...}. Everything it started dies with it: it is the namespace's
init, and the kernel kills the rest of the namespace when it exits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

EXEC_WAIT = 10.0  # seconds for a process to reach its final program


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def wait_for_exec(proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + EXEC_WAIT
    while comm(proc.pid) != name:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode} before it ran {name}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{proc.args!r} did not run {name} within {EXEC_WAIT} s")
        time.sleep(0.01)


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    started = []
    for process in spec["processes"]:
        proc = subprocess.Popen(process["argv"], cwd=process.get("cwd"), stdin=subprocess.DEVNULL)
        started.append(proc)
        wait_for_exec(proc, process.get("comm", "kubelet"))
    done = subprocess.run(spec["command"], capture_output=True, text=True, timeout=spec.get("timeout", 120),
                          check=False, stdin=subprocess.DEVNULL)
    report = {"pids": [p.pid for p in started], "returncode": done.returncode,
              "stdout": done.stdout, "stderr": done.stderr}
    print(json.dumps(report))
    for proc in started:
        proc.kill()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
