"""collect and analyze: node snapshot bundles for air-gapped sites, support cases and the
in-cluster DaemonSet. ``analyze`` gives the report ``sweep`` would give on the live nodes."""

from __future__ import annotations

import sys
import tempfile
from typing import TYPE_CHECKING, Any

import click

from podaudit.cli.inspect import report
from podaudit.cli.options import (
    Options,
    cleanup,
    cluster,
    fail,
    input_errors,
    load_baseline,
    notice,
    shared_options,
    sweep_options,
)

if TYPE_CHECKING:
    from podaudit.audit.registry import Severity


def _without_output(command: Any) -> Any:
    return shared_options(command, without=("--output",))


@click.command()
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
    from podaudit.collect.bundle import armor as armored
    from podaudit.run.bundles import bundle_label, default_path, pack_views, read_nodes, write_private
    from podaudit.run.status import collect_status

    if armor and target != "-":
        fail("--armor is for --output - (text on standard output)")
    chosen = cluster(opts)
    _, nodes, not_collected = read_nodes(opts.selection(), chosen, lambda: cleanup(opts))
    for line in not_collected:
        notice(f"podaudit: not collected: {line}")
    with tempfile.TemporaryDirectory(prefix="podaudit-collect-") as folder, input_errors():
        data = pack_views(nodes, folder, redact, __version__)
    label = bundle_label(nodes)
    if target == "-":
        if armor:
            click.echo(armored(label, data), nl=False)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    else:
        path = target or default_path(label)
        with input_errors():
            write_private(path, data)
        notice(f"wrote {path}: {len(nodes)} node{'s' if len(nodes) > 1 else ''}, {len(data)} bytes"
               f"{', redacted' if redact else ''}")
    sys.exit(collect_status(not_collected))


@click.command()
@click.argument("bundles", nargs=-1, required=True, metavar="BUNDLE...")
@click.option("--api", "api_dir", metavar="DIR", help="The API's view: pods.json, nodes.json, namespaces.json "
                                                      "(kubectl get ... -o json), configz/NODE.json, "
                                                      "kubelet-pods/NODE.json.")
@sweep_options
@shared_options
@click.pass_obj
def analyze(opts: Options, bundles: tuple[str, ...], api_dir: str | None, fail_on: Severity, baseline: str | None,
            write_baseline: str | None) -> None:
    """The sweep report of bundles written by `podaudit collect` (tar.gz files, or text holding
    armored bundles, as kubectl logs of the DaemonSet gives them; - reads standard input)."""
    from podaudit.collect.bundle import BundleError
    from podaudit.errors import InputError
    from podaudit.run.bundles import bundles_cluster

    expected = load_baseline(baseline)
    with tempfile.TemporaryDirectory(prefix="podaudit-analyze-") as folder:
        try:
            chosen = bundles_cluster(bundles, api_dir, folder)
        except (BundleError, InputError) as exc:
            fail(str(exc))
        report(opts, chosen, fail_on, expected, write_baseline)
