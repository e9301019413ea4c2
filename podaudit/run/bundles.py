"""collect and analyze: node snapshot bundles for air-gapped sites, support cases and the
in-cluster DaemonSet. A bundle analyzed gives the report a sweep gives on the live nodes."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from podaudit.collect.source import refuse_duplicates
from podaudit.errors import InputError
from podaudit.names import valid_node_name
from podaudit.run.select import ANSWER_FOLDERS, snapshot_cluster
from podaudit.run.sweep import run_sweep

if TYPE_CHECKING:
    from podaudit.collect.source import NodeResult, SweepResult
    from podaudit.run.select import Cluster, Selection


def read_nodes(sel: Selection, cluster: Cluster, cleanup: Callable[[], None]
               ) -> tuple[SweepResult, list[NodeResult], list[str]]:
    """Read every node for a bundle: (the sweep, the nodes to write, one line per node not
    collected). ``cleanup`` runs when the reading ends, however it ends."""
    try:
        result = run_sweep(cluster.about_to_read(cluster.nodes), sel.concurrency, sel.deadline)
    finally:
        cleanup()
    lines = [failure.message for failure in result.failures]
    read = [r for r in result.results if r.view is not None]
    # A node's name comes from the node (its hostname, --hostname-override): it names a
    # folder only when it is a valid node name, or it could point anywhere.
    lines += [f"{r.reached_as}: its node name {r.node!r} is not a valid node name (DNS-1123 subdomain)"
              for r in read if not valid_node_name(r.node)]
    written = [r for r in read if valid_node_name(r.node) and r.view is not None and r.view.snapshot is not None]
    return result, written, lines


def pack_views(nodes: list[NodeResult], folder: str, redact: bool, version: str) -> bytes:
    """The bundle (tar.gz) of the nodes read, written through ``folder``, one folder per
    node name; InputError when there is nothing to write, or two nodes would share one folder."""
    from podaudit.collect.bundle import pack, write_tree

    if not nodes:
        raise InputError("no node could be collected")
    refuse_duplicates(nodes, "files")
    for node in nodes:
        assert node.view is not None and node.view.snapshot is not None
        write_tree(node.view.snapshot, os.path.join(folder, "nodes", node.node),
                   [e.path for e in node.view.entries], redact)
    return pack(folder, version, redact)


def bundle_label(nodes: list[NodeResult]) -> str:
    """The node, or how many: part of the bundle's default file name and of its armor."""
    return nodes[0].node if len(nodes) == 1 else f"{len(nodes)}-nodes"


def default_path(label: str) -> str:
    return f"podaudit-{label}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz"


def write_private(path: str, data: bytes) -> None:
    """Mode 600: a bundle holds the node's manifests and kubelet config."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InputError(f"--bundle {path}: {exc.strerror}") from exc


def bundles_cluster(bundles: tuple[str, ...], api_dir: str | None, folder: str) -> Cluster:
    """The cluster the bundles hold, unpacked into ``folder`` (with --api's plain files beside
    them); BundleError or InputError when one cannot be read."""
    from podaudit.collect.bundle import read_inputs, unpack

    for path in bundles:
        for number, data in enumerate(read_inputs(path), start=1):
            unpack(data, path if number == 1 else f"{path} (bundle {number})", folder)
    if api_dir is not None:
        _copy_api(api_dir, os.path.join(folder, "api"))
    cluster = snapshot_cluster(folder)
    cluster.origin = f"bundles {', '.join(bundles)}"
    return cluster


def _copy_api(source: str, dest: str) -> None:
    """The --api folder's plain files beside the bundles; a link in it would choose what is
    read on this machine, so it is refused (the folder itself may be one: the user named it)."""
    if not os.path.isdir(source):
        raise InputError(f"--api {source}: no such folder")
    if os.path.lexists(dest):  # bundles carry no api/ (unpack refuses links there): never write into one
        shutil.rmtree(dest) if os.path.isdir(dest) and not os.path.islink(dest) else os.unlink(dest)
    os.makedirs(dest)
    try:
        _copy_plain(source, dest)
    except OSError as exc:
        raise InputError(f"--api {source}: {exc.filename}: {exc.strerror}") from exc


def _copy_plain(source: str, dest: str) -> None:
    names = ["pods.json", "nodes.json", "namespaces.json", *ANSWER_FOLDERS]
    for folder in ANSWER_FOLDERS:  # the node proxy's answers: configz/NODE.json, kubelet-pods/NODE.json
        inside = os.path.join(source, folder)
        if os.path.isdir(inside) and not os.path.islink(inside):
            os.mkdir(os.path.join(dest, folder))
            names += [f"{folder}/{n}" for n in sorted(os.listdir(inside))]
    for name in names:
        path = os.path.join(source, name)
        if os.path.islink(path):
            raise InputError(f"--api {source}: {name} is a link; copy the file itself into the folder")
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(dest, name), follow_symlinks=False)
