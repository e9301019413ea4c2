"""The exact commands that remove a static pod: move every file that defines it out of the
directory the kubelet watches (a ``.bak`` twin left behind would bring the pod back).

Every value is quoted with ``shlex.quote``: file names are untrusted input.
"""

from __future__ import annotations

import posixpath
import shlex

from podaudit.kubelet.resolve import StaticPod

QUARANTINE_DIR = "/var/lib/podaudit/removed"


def removal_commands(node: str, pod: StaticPod, *, remote: bool = True) -> list[str]:
    """Shell commands, to paste as they are, that stop the kubelet running ``pod``."""
    target = posixpath.join(QUARANTINE_DIR, pod.mirror_name)
    steps = [["sudo", "mkdir", "-p", "-m", "700", target]]
    for path in (pod.manifest_path, *pod.shadowed_paths):
        steps.append(["sudo", "mv", "--", path, posixpath.join(target, posixpath.basename(path))])
    lines = [shlex.join(step) for step in steps]
    if remote:
        lines = [f"ssh {shlex.quote(node)} {shlex.quote(line)}" for line in lines]
    lines.append(shlex.join(["kubectl", "get", "pod", "-n", pod.namespace, pod.mirror_name, "--watch"]))
    return lines


def why_kubectl_delete_fails(node: str, pod: StaticPod) -> str:
    return (
        f"kubectl delete pod {pod.mirror_name} deletes only the mirror pod: the kubelet on {node} "
        f"runs {pod.namespace}/{pod.name} from {pod.manifest_path} and recreates the mirror "
        "(kubelet SyncPod; Kubernetes docs, 'Create static Pods'). Move the file out of the "
        "directory instead; the kubelet stops the pod within fileCheckFrequency (20s by default)."
    )
