"""Placing a new static pod: a manifest written into the directory the node's kubelet really
watches, checked by the kubelet's own rules first, written atomically, mode 600 root:root."""

from __future__ import annotations

import posixpath
import re
import secrets
from typing import Any

import yaml

from podaudit.kubelet.manifests import judge
from podaudit.kubelet.resolve import NodeView
from podaudit.model import FileRecord
from podaudit.remedy.plan import Plan, PlannedFile
from podaudit.remedy.script import Unresolvable, Where, at_root, encode
from podaudit.shell import display, quote

MAX_MANIFEST = 64 * 1024  # a static pod manifest is a few KiB; a larger one is a mistake
_FILE_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


class CreateError(Exception):
    """The pod cannot be placed: one line for people, nothing written."""


def run_manifest(name: str, image: str, namespace: str | None, port: int | None, command: list[str]) -> bytes:
    """The Pod ``kubectl run NAME --image=IMAGE [--port=P] [-n NS] --dry-run=client -o yaml
    [-- ARGS...]`` prints (arguments after ``--`` become the container's args, as kubectl's)."""
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["args"] = list(command)
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    container["resources"] = {}
    metadata: dict[str, Any] = {"creationTimestamp": None, "labels": {"run": name}, "name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
           "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"},
           "status": {}}
    return yaml.safe_dump(pod, sort_keys=True, default_flow_style=False).encode()


def create_plan(view: NodeView, manifest: bytes, root: str, namespace: str | None = None) -> Plan:
    """Where and how ``manifest`` would be written on this node; CreateError when it cannot be."""
    node = view.node_name.value
    folder = view.static_pod_path.value
    if folder is None:
        raise CreateError(_no_path(view))
    if len(manifest) > MAX_MANIFEST or b"\0" in manifest:
        raise CreateError(f"the manifest is {len(manifest)} bytes (or holds NUL bytes); a static pod manifest is "
                          "a small YAML or JSON text")
    if view.records.get(folder, FileRecord(folder, "dir")).kind == "file":
        raise CreateError(f"{node}'s staticPodPath {folder} is one file, not a folder: the kubelet runs only that "
                          "file; point staticPodPath at a folder to add pods (then restart the kubelet)")
    entry = judge(posixpath.join(folder, "new.yaml"), FileRecord("new.yaml", "file", data=manifest), node)
    if entry.fate != "loaded" or entry.pod is None:
        raise CreateError(f"the kubelet would not run this manifest: {entry.reason}")
    if namespace is not None and entry.pod.namespace != namespace:
        raise CreateError(f"-n {namespace} but the manifest says namespace {entry.pod.namespace}")
    _refuse_existing(view, entry.pod.namespace, entry.pod.name)
    name = _file_name(entry.pod.name)
    taken = posixpath.join(folder, name)
    if (taken in view.records and view.records[taken].kind != "missing") or any(e.path == taken for e in view.entries):
        raise CreateError(f"{taken} already exists on {node}; it is never overwritten")
    try:
        # Under --root the folder as chroot would find it, inside the root: the script writes there only.
        inside = Where.of(root).folder(folder)
    except Unresolvable as exc:
        raise CreateError(f"{node}'s staticPodPath {exc}") from None
    target = posixpath.join(inside, name)
    why = f"the kubelet of {node} watches {folder} ({view.static_pod_path.source})"
    plan = Plan("create", node, entry.pod.namespace, entry.pod.name, entry.pod.mirror_name,
                [PlannedFile(1, target, "file", _sha256(manifest), None, 0o600, 0, 0, len(manifest), target,
                             why if inside == folder else f"{why}, which is {inside} inside --root")],
                manifest=manifest)
    plan.warnings += [f"{w}" for w in entry.warnings]
    if view.restart_pending:
        plan.warnings.append("the kubelet's settings changed since it started (restart pending): the running "
                             f"kubelet may watch another folder than {folder}")
    # 64 random bits: a tree can hold links at many guessed names (and a link to a device
    # is written through even with noclobber).
    token = secrets.token_hex(8)
    plan.script = encode(_script(plan, inside, target, token, Where.of(root)))
    plan.commands = _commands(inside, target, token)
    return plan


def _no_path(view: NodeView) -> str:
    where = view.config_file or "the kubelet's config file (--config)"
    return (f"{view.node_name.value}'s kubelet runs no static pods from files (no staticPodPath): set "
            f"staticPodPath: /etc/kubernetes/manifests in {where}, or --pod-manifest-path, then restart the kubelet "
            "(systemctl restart kubelet); nothing was written")


def _refuse_existing(view: NodeView, namespace: str, name: str) -> None:
    for entry in view.entries:
        if entry.pod is not None and (entry.pod.namespace, entry.pod.name) == (namespace, name):
            raise CreateError(f"{view.node_name.value} already has {namespace}/{name} ({entry.path}, {entry.fate}): "
                              "two files for one pod make the kubelet run only one of them; delete it first "
                              "(podaudit delete)")


def _file_name(name: str) -> str:
    """NAME.yaml: pod names are DNS subdomains, so this is a plain, visible file name."""
    return f"{name}.yaml" if _FILE_NAME.fullmatch(name) else "pod.yaml"


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _script(plan: Plan, folder: str, target: str, token: str, where: Where) -> str:
    """A dot-named temporary file in the same folder (the kubelet skips dot-files), its mode
    and owner set, then a hard link to the final name: atomic, and never over an existing file.
    ``folder`` and ``target`` are resolved already (``Where``); every message is quoted."""
    tmp = at_root(posixpath.join(folder, f".podaudit-create-{token}"))
    dst = at_root(target)
    manifest = plan.manifest.decode("utf-8", "surrogateescape") if plan.manifest else ""
    not_a_folder = quote(f"{folder} is not a folder on the node")
    return (where.start() +
            f"[ -d {at_root(folder)} ] || {{ say 1 failed {not_a_folder}; exit 0; }}\n"
            f'[ -e {dst} ] || [ -L {dst} ] && {{ say 1 exists "already there; not overwritten"; exit 0; }}\n'
            # A link to a device passes noclobber, and chown and chmod follow links.
            f'[ -e {tmp} ] || [ -L {tmp} ] && {{ say 1 failed "its temporary name is taken"; exit 0; }}\n'
            # noclobber: the temporary name is never written through a link or over a file put there.
            f"( set -C; printf '%s' {quote(manifest)} > {tmp} ) "
            f"|| {{ rm -f -- {tmp}; say 1 failed {quote(f'cannot write in {folder}')}; exit 0; }}\n"
            f'chown 0:0 {tmp} && chmod 600 {tmp} || {{ rm -f -- {tmp}; say 1 failed "cannot set owner and mode"; '
            "exit 0; }\n"
            f'ln -- {tmp} {dst} || {{ rm -f -- {tmp}; say 1 exists "a file appeared there; not overwritten"; '
            "exit 0; }\n"
            f"rm -f -- {tmp}\n"
            f'say 1 created "$(hash {dst})" "$(mode {dst})"\n')


def _commands(folder: str, target: str, token: str) -> list[str]:
    tmp = display(posixpath.join(folder, f".podaudit-create-{token}"))
    return [f"test ! -e {display(target)}   # never overwritten",
            f"cat > {tmp}   # the manifest below; a dot-file, which the kubelet skips",
            f"chown 0:0 {tmp} && chmod 600 {tmp}",
            f"ln -- {tmp} {display(target)} && rm -- {tmp}   # appears whole, at once"]
