"""collect and analyze: node snapshot bundles for air-gapped sites, support cases and the
in-cluster DaemonSet. A bundle analyzed gives the report a sweep gives on the live nodes."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from podaudit.errors import InputError
from podaudit.names import valid_node_name
from podaudit.run.select import snapshot_cluster
from podaudit.run.sweep import run_sweep

if TYPE_CHECKING:
    from podaudit.collect.source import SweepResult
    from podaudit.kubelet.resolve import NodeView
    from podaudit.run.select import Cluster, Selection


def read_nodes(sel: Selection, cluster: Cluster, cleanup: Callable[[], None]
               ) -> tuple[SweepResult, list[NodeView], list[str]]:
    """Read every node for a bundle: (the sweep, the views to write, one line per node not
    collected). ``cleanup`` runs when the reading ends, however it ends."""
    try:
        result = run_sweep(cluster.nodes, sel.concurrency, sel.deadline)
    finally:
        cleanup()
    lines = [failure.message for failure in result.failures]
    # A node's name comes from the node (its hostname, --hostname-override): it names a
    # folder only when it is a valid node name, or it could point anywhere.
    skipped = [v for v in result.views if not valid_node_name(v.node_name.value)]
    lines += [f"{view.label}: its node name {view.node_name.value!r} is not a valid node name (DNS-1123 subdomain)"
              for view in skipped]
    views = [v for v in result.views if v.snapshot is not None and all(v is not x for x in skipped)]
    return result, views, lines


def pack_views(views: list[NodeView], folder: str, redact: bool, version: str) -> bytes:
    """The bundle (tar.gz) of ``views``, written through ``folder``; InputError when there is
    nothing to write, or two nodes would share one folder."""
    from podaudit.collect.bundle import pack, write_tree

    if not views:
        raise InputError("no node could be collected")
    names = [v.node_name.value for v in views]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"several nodes report the node name {', '.join(twice)}: their files would be mixed; fix "
                         "the inventory or the nodes' names")
    for view in views:
        assert view.snapshot is not None
        write_tree(view.snapshot, os.path.join(folder, "nodes", view.node_name.value),
                   [e.path for e in view.entries], redact)
    return pack(folder, version, redact)


def bundle_label(views: list[NodeView]) -> str:
    """The node, or how many: part of the bundle's default file name and of its armor."""
    return views[0].node_name.value if len(views) == 1 else f"{len(views)}-nodes"


def default_path(label: str) -> str:
    return f"podaudit-{label}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz"


def write_private(path: str, data: bytes) -> None:
    """Mode 600: a bundle holds the node's manifests and kubelet config."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InputError(f"--output {path}: {exc.strerror}") from exc


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
    names = ["pods.json", "nodes.json", "namespaces.json", "configz"]
    configz = os.path.join(source, "configz")
    if os.path.isdir(configz) and not os.path.islink(configz):
        os.mkdir(os.path.join(dest, "configz"))
        names += [f"configz/{n}" for n in sorted(os.listdir(configz))]
    for name in names:
        path = os.path.join(source, name)
        if os.path.islink(path):
            raise InputError(f"--api {source}: {name} is a link; copy the file itself into the folder")
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(dest, name), follow_symlinks=False)
