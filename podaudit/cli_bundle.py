"""collect and analyze: node snapshot bundles for air-gapped sites, support cases and the
in-cluster DaemonSet. ``analyze`` gives the report ``sweep`` would give on the live nodes."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

import click

from podaudit.cli import (
    EXIT_OK,
    EXIT_PARTIAL,
    Options,
    _cleanup,
    _cluster,
    _fail,
    _load_baseline,
    cli,
    notice,
    report,
    shared_options,
    sweep_options,
)


def _without_output(command: Any) -> Any:
    return shared_options(command, without=("--output",))


@cli.command()
@click.option("-o", "--output", "target", metavar="FILE", help="Where to write the bundle (default: "
              "podaudit-<node or nodes>-<UTC time>.tar.gz here); - for standard output.")
@click.option("--armor", is_flag=True, help="With --output -: the bundle as text (base64 between BEGIN/END lines), "
                                            "for kubectl logs.")
@click.option("--redact", is_flag=True, help="Replace env values and secret command-line values in manifests and "
                                             "the kubelet's command line.")
@_without_output
@click.pass_obj
def collect(opts: Options, target: str | None, armor: bool, redact: bool) -> None:
    """Write a bundle (tar.gz) of what podaudit reads on the nodes: this machine, --root DIR,
    or many nodes over SSH. `podaudit analyze BUNDLE` gives the same report as a live sweep."""
    from podaudit import __version__
    from podaudit.cluster.api import valid_node_name
    from podaudit.cluster.sweep import run_sweep
    from podaudit.collect.bundle import armor as armored
    from podaudit.collect.bundle import pack, write_tree

    if armor and target != "-":
        _fail("--armor is for --output - (text on standard output)")
    cluster = _cluster(opts)
    sel = opts.selection()
    try:
        result = run_sweep(cluster.nodes, sel.concurrency, sel.deadline)
    finally:
        _cleanup(opts)
    for failure in result.failures:
        notice(f"podaudit: not collected: {failure.message}")
    # A node's name comes from the node (its hostname, --hostname-override): it names a
    # folder only when it is a valid node name, or it could point anywhere.
    skipped = [v for v in result.views if not valid_node_name(v.node_name.value)]
    for view in skipped:
        notice(f"podaudit: not collected: {view.label}: its node name {view.node_name.value!r} is not a valid "
               "node name (DNS-1123 subdomain)")
    views = [v for v in result.views if v.snapshot is not None and all(v is not x for x in skipped)]
    if not views:
        _fail("no node could be collected")
    names = [v.node_name.value for v in views]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        _fail(f"several nodes report the node name {', '.join(twice)}: their files would be mixed; fix the "
              "inventory or the nodes' names")
    with tempfile.TemporaryDirectory(prefix="podaudit-collect-") as folder:
        for view in views:
            assert view.snapshot is not None
            write_tree(view.snapshot, os.path.join(folder, "nodes", view.node_name.value),
                       [e.path for e in view.entries], redact)
        data = pack(folder, __version__, redact)
    label = views[0].node_name.value if len(views) == 1 else f"{len(views)}-nodes"
    if target == "-":
        if armor:
            click.echo(armored(label, data), nl=False)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    else:
        import time

        path = target or f"podaudit-{label}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz"
        _write_private(path, data)
        notice(f"wrote {path}: {len(views)} node{'s' if len(views) > 1 else ''}, {len(data)} bytes"
               f"{', redacted' if redact else ''}")
    sys.exit(EXIT_PARTIAL if result.failures or skipped else EXIT_OK)


def _write_private(path: str, data: bytes) -> None:
    """Mode 600: a bundle holds the node's manifests and kubelet config."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        _fail(f"--output {path}: {exc.strerror}")


@cli.command()
@click.argument("bundles", nargs=-1, required=True, metavar="BUNDLE...")
@click.option("--api", "api_dir", metavar="DIR", help="The API's view: pods.json, nodes.json, namespaces.json "
                                                      "(kubectl get ... -o json), configz/NODE.json.")
@sweep_options
@shared_options
@click.pass_obj
def analyze(opts: Options, bundles: tuple[str, ...], api_dir: str | None, fail_on: str, baseline: str | None,
            write_baseline: str | None) -> None:
    """The sweep report of bundles written by `podaudit collect` (tar.gz files, or text holding
    armored bundles, as kubectl logs of the DaemonSet gives them; - reads standard input)."""
    from podaudit.cluster.source import InputError, snapshot_cluster
    from podaudit.collect.bundle import BundleError, read_inputs, unpack

    expected = _load_baseline(baseline)
    with tempfile.TemporaryDirectory(prefix="podaudit-analyze-") as folder:
        try:
            for path in bundles:
                for number, data in enumerate(read_inputs(path), start=1):
                    unpack(data, path if number == 1 else f"{path} (bundle {number})", folder)
            if api_dir is not None:
                _copy_api(api_dir, os.path.join(folder, "api"))
            cluster = snapshot_cluster(folder)
        except (BundleError, InputError) as exc:
            _fail(str(exc))
        cluster.origin = f"bundles {', '.join(bundles)}"
        report(opts, cluster, fail_on, expected, write_baseline)


def _copy_api(source: str, dest: str) -> None:
    """The --api folder's plain files beside the bundles; a link in it would choose what is
    read on this machine, so it is refused (the folder itself may be one: the user named it)."""
    if not os.path.isdir(source):
        _fail(f"--api {source}: no such folder")
    if os.path.lexists(dest):  # bundles carry no api/ (unpack refuses links there): never write into one
        shutil.rmtree(dest) if os.path.isdir(dest) and not os.path.islink(dest) else os.unlink(dest)
    os.makedirs(dest)
    try:
        _copy_plain(source, dest)
    except OSError as exc:
        _fail(f"--api {source}: {exc.filename}: {exc.strerror}")


def _copy_plain(source: str, dest: str) -> None:
    names = ["pods.json", "nodes.json", "namespaces.json", "configz"]
    configz = os.path.join(source, "configz")
    if os.path.isdir(configz) and not os.path.islink(configz):
        os.mkdir(os.path.join(dest, "configz"))
        names += [f"configz/{n}" for n in sorted(os.listdir(configz))]
    for name in names:
        path = os.path.join(source, name)
        if os.path.islink(path):
            _fail(f"--api {source}: {name} is a link; copy the file itself into the folder")
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(dest, name), follow_symlinks=False)
