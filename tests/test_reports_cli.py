"""Collect once, report many: one sweep writes the terminal table and each --report file; -o is
the format in every command; collect writes its bundle where --bundle (or BUNDLE) says.

Against the bundled demo cluster, through the installed command.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.cli_helpers import run

FORMATS = ("json", "markdown", "junit", "sarif", "watch-paths")


def timeless(text: str) -> str:
    return re.sub(r"\d{8}T\d{6}Z", "TIME", text)


def test_one_sweep_writes_every_report_and_the_table(tmp_path: Path) -> None:
    reports = [f"{form}={tmp_path / ('r.' + form)}" for form in FORMATS]
    proc = run("--demo", "sweep", *[w for spec in reports for w in ("--report", spec)])
    assert proc.returncode == 0, proc.stderr
    assert "/etc/just-to-mess-with-you" in proc.stdout  # the table, on the terminal
    for form in FORMATS:
        alone = run("--demo", "sweep", "-o", form)
        # the same text but for the quarantine IDs the removal commands name (UTC time of the run)
        assert timeless((tmp_path / f"r.{form}").read_text()) == timeless(alone.stdout), form
        assert f"wrote {tmp_path / ('r.' + form)} ({form})" in proc.stderr
    assert json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["tool"]["driver"]["name"] == "podaudit"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".podaudit-report-")]


def test_a_table_report_and_a_json_terminal(tmp_path: Path) -> None:
    proc = run("--demo", "sweep", "-o", "json", "--report", f"table={tmp_path / 'table.txt'}")
    assert json.loads(proc.stdout)["apiVersion"] == "podaudit/v1"
    table = (tmp_path / "table.txt").read_text()
    assert "/etc/just-to-mess-with-you" in table and "\x1b[" not in table


def test_the_exit_code_follows_the_findings_not_the_formats(tmp_path: Path) -> None:
    proc = run("--demo", "sweep", "--fail-on", "medium", "--report", f"sarif={tmp_path / 'a.sarif'}")
    assert proc.returncode == 1
    assert (tmp_path / "a.sarif").exists()  # written even when the gate fails


@pytest.mark.parametrize(("spec", "says"), [
    ("sarif", "give FORMAT=PATH"),
    ("pdf=x.pdf", "no format 'pdf'"),
    ("json=-", "standard output is -o's"),
    ("json=", "give FORMAT=PATH"),
])
def test_a_bad_report_is_refused_before_any_node_is_read(spec: str, says: str) -> None:
    proc = run("--demo", "sweep", "--report", spec)
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert not proc.stdout


def test_two_reports_to_one_file_and_an_unwritable_place(tmp_path: Path) -> None:
    target = tmp_path / "same.txt"
    proc = run("--demo", "sweep", "--report", f"json={target}", "--report", f"sarif={target}")
    assert proc.returncode == 2 and "already written by another --report" in proc.stderr
    assert not target.exists()
    proc = run("--demo", "sweep", "--report", f"json={tmp_path / 'missing' / 'r.json'}")
    assert proc.returncode == 2 and "No such file or directory" in proc.stderr


def test_output_is_a_format_in_every_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = run("--demo", "find", "static-greenbox-node01", "-o", "sarif")
    assert proc.returncode == 2 and "'sarif' is not one of 'table', 'json'" in proc.stderr
    # collect: -o is the format; the bundle goes where BUNDLE or --bundle says, never to a
    # file named after a format.
    monkeypatch.chdir(tmp_path)
    proc = run("--demo", "collect", "-o", "json")
    assert proc.returncode == 2 and "'json' is not one of 'tar.gz', 'armored'" in proc.stderr
    assert not (tmp_path / "json").exists()
    proc = run("--root", str(Path(__file__).parent.parent / "podaudit/demo/cluster/nodes/node01"),
               "collect", str(tmp_path / "b.tar.gz"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b.tar.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b.tar.gz").stat().st_mode & 0o777 == 0o600
    armored = run("--root", str(Path(__file__).parent.parent / "podaudit/demo/cluster/nodes/node01"),
                  "collect", "-o", "armored")
    assert armored.stdout.startswith("-----BEGIN PODAUDIT BUNDLE")
    both = run("--demo", "collect", "a.tar.gz", "--bundle", "b.tar.gz")
    assert both.returncode == 2 and "BUNDLE or --bundle FILE" in both.stderr
    analyzed = run("analyze", str(tmp_path / "b.tar.gz"), "--report", f"markdown={tmp_path / 's.md'}")
    assert analyzed.returncode in (0, 1), analyzed.stderr
    assert (tmp_path / "s.md").read_text().startswith("## podaudit sweep")


def test_filters_choose_what_is_shown_never_the_exit_code(tmp_path: Path) -> None:
    """The demo holds medium findings only (PA106 on the worker among them)."""
    everything = json.loads(run("--demo", "sweep", "-o", "json").stdout)["findings"]
    assert {f["severity"] for f in everything} == {"medium"}
    proc = run("--demo", "sweep", "--severity", "high+", "--fail-on", "medium", "-o", "json",
               "--report", f"markdown={tmp_path / 's.md'}")
    assert proc.returncode == 1  # the hidden medium findings still fail the gate
    doc = json.loads(proc.stdout)
    assert doc["findings"] == []
    assert f"{len(everything)} findings not shown" in " ".join(doc["notes"])
    assert "PA106" not in (tmp_path / "s.md").read_text()
    only = json.loads(run("--demo", "sweep", "--rule", "PA106", "-o", "json").stdout)["findings"]
    assert only and {f["id"] for f in only} == {"PA106"}
    skipped = json.loads(run("--demo", "sweep", "--skip-rule", "PA1*", "-o", "json").stdout)["findings"]
    assert not [f for f in skipped if f["id"].startswith("PA1")]
    assert len(skipped) < len(everything)
    for bad, says in (("--severity", "unknown severity 'hihg'"), ("--rule", "unknown rule 'PA999'")):
        proc = run("--demo", "sweep", bad, {"--severity": "hihg", "--rule": "PA999"}[bad])
        assert proc.returncode == 2 and says in proc.stderr


def test_accept_findings_starts_a_cluster_clean(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.yaml"
    proc = run("--demo", "sweep", "--write-baseline", str(baseline), "--accept-findings", "--reason",
               "stock demo cluster", "--expires", "30d", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"]  # this run still shows what it accepted
    assert "stock demo cluster" in baseline.read_text()
    again = json.loads(run("--demo", "sweep", "--baseline", str(baseline), "--fail-on", "info", "-o", "json").stdout)
    assert again["findings"] == [] and again["suppressed"]
    assert run("--demo", "sweep", "--baseline", str(baseline), "--fail-on", "info").returncode == 0
    for args, says in ((["--accept-findings"], "--write-baseline FILE"),
                       (["--reason", "x"], "go with --accept-findings"),
                       (["--write-baseline", str(baseline), "--accept-findings", "--expires", "2001-01-01"], "")):
        proc = run("--demo", "sweep", *args)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
