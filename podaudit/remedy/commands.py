"""The exact commands that remove a static pod: move every file that defines it out of the
directory the kubelet watches (a ``.bak`` twin left behind would bring the pod back).

File names are untrusted input: every value is quoted by ``podaudit.shell``, and a name
holding characters a terminal would not show faithfully (control characters, undecodable
bytes) is moved by inode with ``find -inum``, so no shell ever has to spell it.
"""

from __future__ import annotations

import posixpath
from datetime import datetime, timezone

from podaudit.kubelet.resolve import StaticPod
from podaudit.remedy.script import QUARANTINE_DIR
from podaudit.shell import join, quote


def move_command(path: str, inode: int | None, target: str) -> list[str]:
    """sudo mv, or by inode when the name cannot be shown as it is: it holds a control or
    format character or an undecodable byte (kept by surrogateescape: a surrogate is not
    printable either)."""
    if path.isprintable() or inode is None:
        return ["sudo", "mv", "--", path, posixpath.join(target, posixpath.basename(path))]
    return ["sudo", "find", posixpath.dirname(path), "-maxdepth", "1", "-inum", str(inode),
            "-exec", "mv", "--", "{}", target + "/", ";"]


def removal_commands(node: str, pod: StaticPod, *, remote: bool = True, now: datetime | None = None) -> list[str]:
    """Shell commands, to paste as they are, that stop the kubelet running ``pod``.

    Files go to a fresh folder per removal, so a second removal never overwrites the first.
    """
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    target = posixpath.join(QUARANTINE_DIR, f"{stamp}-{pod.mirror_name}")
    steps = [["sudo", "mkdir", "-p", "-m", "700", target]]
    steps += [move_command(path, pod.inodes.get(path), target) for path in (pod.manifest_path, *pod.shadowed_paths)]
    lines = [join(step) for step in steps]
    if remote:
        lines = [f"ssh -- {quote(node)} {quote(line)}" for line in lines]
    lines.append(join(["kubectl", "get", "pod", "-n", pod.namespace, pod.mirror_name, "--watch"]))
    return lines


def why_kubectl_delete_fails(node: str, pod: StaticPod) -> str:
    return (
        f"kubectl delete pod {pod.mirror_name} deletes only the mirror pod: the kubelet on {node} "
        f"runs {pod.namespace}/{pod.name} from {pod.manifest_path} and recreates the mirror "
        "(kubelet SyncPod; Kubernetes docs, 'Create static Pods'). Move the file out of the "
        "directory instead; the kubelet stops the pod within fileCheckFrequency (20s by default)."
    )
