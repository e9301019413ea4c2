"""collect and analyze: node snapshot bundles for air-gapped sites, support cases and the
in-cluster DaemonSet. ``analyze`` gives the report ``sweep`` would give on the live nodes."""

from __future__ import annotations

import sys
import tempfile
from typing import Any

import click

from podaudit.cli.helpfmt import SectionedCommand
from podaudit.cli.inspect import report, sweep_request
from podaudit.cli.options import (
    API,
    BUNDLE_FORMATS,
    CONNECTION,
    NODES,
    OUTPUT,
    SWEEP_FORMATS,
    Options,
    check_format,
    cleanup,
    cluster,
    fail,
    input_errors,
    notice,
    shared_options,
    sweep_options,
)


@click.command(cls=SectionedCommand)
@click.argument("bundle", metavar="[BUNDLE]", required=False)
@click.option("--bundle", "bundle_option", metavar="FILE", help="Where to write the bundle (default: "
              "podaudit-<node or nodes>-<UTC time>.tar.gz here); - for standard output.")
@click.option("--armor", is_flag=True, help="The same as -o armored.")
@click.option("--redact", is_flag=True, help="Replace env values and secret command-line values in manifests and "
                                             "the kubelet's command line.")
@shared_options(sections=(NODES, CONNECTION, API, OUTPUT), formats=BUNDLE_FORMATS)
@click.pass_obj
def collect(opts: Options, bundle: str | None, bundle_option: str | None, armor: bool, redact: bool) -> None:
    """Write a bundle of what podaudit reads on the nodes: this machine, --root DIR, or many
    nodes over SSH, to BUNDLE (or --bundle FILE). -o tar.gz (the default) or armored: the
    bundle as text (base64 between BEGIN/END lines) for kubectl logs.
    `podaudit analyze BUNDLE` gives the same report as a live sweep."""
    from podaudit import __version__
    from podaudit.collect.bundle import armor as armored
    from podaudit.run.bundles import bundle_label, default_path, pack_views, read_nodes, write_private
    from podaudit.run.status import collect_status

    target = _target(opts, bundle, bundle_option)
    armor = armor or opts.output == "armored"
    chosen = cluster(opts)
    _, nodes, not_collected = read_nodes(opts.selection(), chosen, lambda: cleanup(opts))
    for line in not_collected:
        notice(f"podaudit: not collected: {line}")
    with tempfile.TemporaryDirectory(prefix="podaudit-collect-") as folder, input_errors():
        data = pack_views(nodes, folder, redact, __version__)
    label = bundle_label(nodes)
    if target == "-" or (armor and target is None):
        if armor:
            click.echo(armored(label, data), nl=False)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    else:
        path = target or default_path(label)
        with input_errors():
            write_private(path, armored(label, data).encode() if armor else data)
        notice(f"wrote {path}: {len(nodes)} node{'s' if len(nodes) > 1 else ''}, {len(data)} bytes"
               f"{', redacted' if redact else ''}{', armored' if armor else ''}")
    sys.exit(collect_status(not_collected))


def _target(opts: Options, bundle: str | None, bundle_option: str | None) -> str | None:
    """Where the bundle goes: the positional or --bundle, never both. -o is the format: an old
    ``collect -o FILE`` is told so instead of writing a file named after a format."""
    if bundle is not None and bundle_option is not None:
        fail("give the bundle's path once: BUNDLE or --bundle FILE")
    check_format(opts, BUNDLE_FORMATS)
    return bundle if bundle is not None else bundle_option


@click.command(cls=SectionedCommand)
@click.argument("bundles", nargs=-1, required=True, metavar="BUNDLE...")
@click.option("--api", "api_dir", metavar="DIR", help="The API's view: pods.json, nodes.json, namespaces.json "
                                                      "(kubectl get ... -o json), configz/NODE.json, "
                                                      "kubelet-pods/NODE.json.")
@sweep_options
@shared_options(sections=(OUTPUT,), formats=SWEEP_FORMATS, also=("--concurrency", "--deadline"))
@click.pass_obj
def analyze(opts: Options, /, bundles: tuple[str, ...], api_dir: str | None, **asked: Any) -> None:
    """The sweep report of bundles written by `podaudit collect` (tar.gz files, or text holding
    armored bundles, as kubectl logs of the DaemonSet gives them; - reads standard input)."""
    from podaudit.collect.bundle import BundleError
    from podaudit.errors import InputError
    from podaudit.run.bundles import bundles_cluster

    request = sweep_request(opts, asked)
    with tempfile.TemporaryDirectory(prefix="podaudit-analyze-") as folder:
        try:
            chosen = bundles_cluster(bundles, api_dir, folder)
        except (BundleError, InputError) as exc:
            fail(str(exc))
        report(opts, chosen, request)
