"""A test kubelet for the stub API: runs a debug pod's container for real on a lab node.

It honours the pod spec as a container runtime would, as far as the tests need: the
container runs in the lab node's namespaces (mount, uts; pid when ``hostPID``), in a root
of its own (the node's /bin, /usr, /lib*, /etc bound read-only, its own /proc, /dev and
/tmp), with each hostPath volume (the node's ``/``) rbind-mounted at its ``mountPath``, and
the container's ``command`` as its argv. An unprivileged container loses CAP_SYS_CHROOT, so
``chroot /host`` fails there as on a real cluster. Its stdout and stderr, merged, are the log.

Every mount happens in a private mount namespace (``unshare -m --propagation private``)
that dies with the container, so nothing leaks onto the node or this machine; the empty
directory it used as the container's root is removed afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Runs inside the node's namespaces and a private mount namespace:
# $1 container root, $2 privileged (1/0), $3 hostname, then "mountPath hostPath" pairs up
# to "--", then the container's command.
SETUP = r"""
set -e
croot=$1 priv=$2 host=$3
shift 3
mount -t tmpfs -o mode=755 podaudit-container "$croot"
for d in bin sbin lib lib32 lib64 libx32 usr etc; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$croot/$d"
    elif [ -d "/$d" ]; then
        mkdir "$croot/$d"
        mount --bind "/$d" "$croot/$d"
        mount -o remount,bind,ro "$croot/$d"
    fi
done
mkdir -p "$croot/dev" "$croot/proc" "$croot/tmp"
mount --rbind /dev "$croot/dev"
mount -t proc proc "$croot/proc"
while [ "$1" != "--" ]; do
    mkdir -p "$croot$1"
    mount --rbind "$2" "$croot$1"
    shift 2
done
shift
cd /
if [ "$priv" = 1 ]; then
    exec chroot "$croot" /usr/bin/env -i PATH="$PATH_IN" HOSTNAME="$host" "$@"
fi
# Not privileged: no CAP_SYS_CHROOT (nor anything else a runtime's default set lacks).
exec chroot "$croot" /usr/bin/setpriv --bounding-set=-sys_chroot,-sys_admin,-sys_ptrace \
    /usr/bin/env -i PATH="$PATH_IN" HOSTNAME="$host" "$@"
"""


class LabKubelet:
    """The "kubelet" of the stub API for pods bound to lab nodes (name -> the node's init pid)."""

    def __init__(self, node_pids: dict[str, int], workdir: Path) -> None:
        self.node_pids = node_pids
        self.workdir = workdir
        self.ran: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, pod: dict[str, Any], cancel: threading.Event) -> tuple[bytes, int]:
        with self.lock:
            self.ran.append(pod)
        spec = pod["spec"]
        container = spec["containers"][0]
        pid = self.node_pids.get(spec.get("nodeName", ""))
        if pid is None:
            return b"no such node\n", 128
        croot = Path(tempfile.mkdtemp(prefix="croot-", dir=self.workdir))
        try:
            return self._run(pid, spec, container, str(croot), cancel)
        finally:
            croot.rmdir()  # empty: everything was mounted in the dead private namespace

    def _run(self, pid: int, spec: dict[str, Any], container: dict[str, Any], croot: str,
             cancel: threading.Event) -> tuple[bytes, int]:
        privileged = bool((container.get("securityContext") or {}).get("privileged"))
        namespaces = ["-m", "-u", *(["-p"] if spec.get("hostPID") else [])]
        isolate = [] if spec.get("hostPID") else ["--pid", "--fork"]
        argv = ["nsenter", "-t", str(pid), *namespaces, "--", "unshare", "-m", "--propagation", "private",
                *isolate, "--", "sh", "-c", SETUP, "kubelet", croot, "1" if privileged else "0",
                spec.get("nodeName", ""), *host_mounts(spec, container), "--",
                *container.get("command", []), *container.get("args", [])]
        with tempfile.TemporaryFile(dir=self.workdir) as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, env={**os.environ, "PATH_IN": PATH})
            while proc.poll() is None:
                if cancel.wait(0.05):  # the pod was deleted: the runtime kills the container
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            log.seek(0)
            code = proc.returncode
            return log.read(), 128 - code if code < 0 else code  # killed by a signal: 128 + its number


def host_mounts(spec: dict[str, Any], container: dict[str, Any]) -> list[str]:
    """mountPath hostPath pairs for the container's hostPath volumes."""
    paths = {v["name"]: v["hostPath"]["path"] for v in spec.get("volumes", []) if "hostPath" in v}
    words: list[str] = []
    for mount in container.get("volumeMounts", []):
        if mount["name"] in paths:
            words += [mount["mountPath"], paths[mount["name"]]]
    return words
