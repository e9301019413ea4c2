"""Configure once: settings from a file and PODAUDIT_* variables, flag > env > file > default,
shown by `podaudit config show`; help that lists only what a command uses.

Each test runs the installed command in its own working directory with its own environment
(no settings variable of the suite's, a private XDG_CONFIG_HOME).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PODAUDIT = [sys.executable, "-m", "podaudit"]


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PODAUDIT_")}
    return subprocess.run([*PODAUDIT, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**base, "COLUMNS": "200", **(env or {})})


def shown(cwd: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = run(cwd, *args, "config", "show", "-o", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    return {"file": doc["configFile"], **{s["name"]: (s["value"], s["source"]) for s in doc["settings"]}}


def settings_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    return path


def test_precedence_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    settings_file(tmp_path / "podaudit.yaml", "fail-on: medium\ntimeout: 12\nuser: filed\nsudo: true\n")
    env = {"PODAUDIT_TIMEOUT": "7", "PODAUDIT_USER": "envied", "PODAUDIT_SUDO": "false"}
    got = shown(tmp_path, "--user", "flagged", env=env)
    assert got["file"] == str(tmp_path / "podaudit.yaml")
    assert got["fail_on"] == ("medium", "file")
    assert got["timeout"] == (7.0, "env PODAUDIT_TIMEOUT")
    assert got["user"] == ("flagged", "flag")
    assert got["sudo"] == (False, "env PODAUDIT_SUDO")  # false from the environment beats true in the file
    assert got["concurrency"] == (32, "default")


def test_settings_change_what_a_sweep_does(tmp_path: Path) -> None:
    """The demo's two nodes hold medium findings: --fail-on from the file decides the exit code,
    the environment beats it, a flag beats both."""
    settings_file(tmp_path / "podaudit.yaml", "demo: true\nfail-on: medium\noutput: json\n")
    proc = run(tmp_path, "sweep")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["apiVersion"] == "podaudit/v1"
    assert run(tmp_path, "sweep", env={"PODAUDIT_FAIL_ON": "high"}).returncode == 0
    assert run(tmp_path, "sweep", "--fail-on", "medium", env={"PODAUDIT_FAIL_ON": "high"}).returncode == 1
    # A format meant for the sweep does not break a command that writes only table and json.
    found = run(tmp_path, "--output", "table", "find", "static-greenbox-node01")
    assert found.returncode == 0 and "/etc/just-to-mess-with-you/greenbox.yaml" in found.stdout
    settings_file(tmp_path / "podaudit.yaml", "demo: true\noutput: sarif\n")
    found = run(tmp_path, "find", "static-greenbox-node01")
    assert found.returncode == 0 and "How we know" in found.stdout


def test_which_file_is_read(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    settings_file(xdg / "podaudit" / "config.yaml", "user: from-xdg\n")
    work = tmp_path / "work"
    work.mkdir()
    env = {"XDG_CONFIG_HOME": str(xdg)}
    assert shown(work, env=env)["user"] == ("from-xdg", "file")
    settings_file(work / "podaudit.yaml", "user: from-cwd\n")
    assert shown(work, env=env)["user"] == ("from-cwd", "file")
    named = settings_file(tmp_path / "named.yaml", "user: named\n")
    assert shown(work, "--config-file", str(named), env=env)["user"] == ("named", "file")
    assert shown(work, env={**env, "PODAUDIT_CONFIG_FILE": str(named)})["user"] == ("named", "file")
    got = shown(work, "--config-file", "", env=env)
    assert got["file"] is None and got["user"] == (None, "default")


def test_paths_are_relative_to_the_file_and_reports_come_from_it(tmp_path: Path) -> None:
    conf = tmp_path / "ci"
    settings_file(conf / "podaudit.yaml", "demo: true\nreport:\n  - markdown=out/summary.md\n  - sarif=out/p.sarif\n"
                                          "baseline: builtin:kubeadm\ninventory: hosts.ini\n")
    (conf / "out").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    got = shown(elsewhere, "--config-file", str(conf / "podaudit.yaml"))
    assert got["inventory"] == (str(conf / "hosts.ini"), "file")
    assert got["baseline"] == ("builtin:kubeadm", "file")
    settings_file(conf / "podaudit.yaml", "demo: true\nreport:\n  - markdown=out/summary.md\n  - sarif=out/p.sarif\n")
    proc = run(elsewhere, "--config-file", str(conf / "podaudit.yaml"), "sweep")
    assert proc.returncode == 0, proc.stderr
    assert (conf / "out" / "summary.md").read_text().startswith("## podaudit sweep")
    assert json.loads((conf / "out" / "p.sarif").read_text())["version"] == "2.1.0"
    # PODAUDIT_REPORT holds several, split at white space as click splits a repeatable option.
    proc = run(elsewhere, "--demo", "sweep", env={"PODAUDIT_REPORT": "json=a.json junit=b.xml"})
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "a.json").exists() and (elsewhere / "b.xml").exists()


@pytest.mark.parametrize(("text", "says"), [
    ("invetory: hosts.ini\n", "unknown setting 'invetory' (did you mean inventory?)"),
    ("'yes': true\n", "unknown setting 'yes'"),  # a change is asked for on the command line only
    ("accept-findings: true\n", "unknown setting 'accept-findings'"),
    ("- inventory\n", "want a mapping of settings"),
    ("user: [a, b]\n", "user: takes one value, not a list"),
    ("user:\n", "user: want a value, not nothing"),
    ("timeout: soon\n", "timeout"),
    ("inventory: [unclosed\n", "line 2: not YAML"),
    ("\x00\x01binary", "not"),
])
def test_a_bad_file_is_one_line_and_exit_2(tmp_path: Path, text: str, says: str) -> None:
    settings_file(tmp_path / "podaudit.yaml", text)
    proc = run(tmp_path, "--demo", "sweep")
    assert proc.returncode == 2
    assert says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not proc.stdout


def test_a_file_others_can_write_is_not_read(tmp_path: Path) -> None:
    """A podaudit.yaml in the working directory is read unasked: one that someone else owns or
    can write must not choose the kubectl or ssh_config podaudit runs (ssh's rule for its config)."""
    conf = settings_file(tmp_path / "podaudit.yaml", "kubectl: ./evil\n")
    conf.chmod(0o664)
    proc = run(tmp_path, "--demo", "sweep")
    assert proc.returncode == 2 and "writable by group or others" in proc.stderr
    conf.chmod(0o644)
    os.chown(conf, 65534, 65534)
    proc = run(tmp_path, "--demo", "sweep")
    assert proc.returncode == 2 and "owned by uid 65534" in proc.stderr
    os.chown(conf, 0, 0)
    world = tmp_path / "world"
    world.mkdir(mode=0o777)
    world.chmod(0o777)
    settings_file(world / "podaudit.yaml", "user: x\n")
    proc = run(world, "--demo", "sweep")
    assert proc.returncode == 2 and "writable by anyone" in proc.stderr


def test_config_show_table_names_the_file_and_sources(tmp_path: Path) -> None:
    settings_file(tmp_path / "podaudit.yaml", "inventory: hosts.ini\n")
    proc = run(tmp_path, "--sudo", "config", "show", env={"PODAUDIT_FAIL_ON": "low"})
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert proc.stdout.startswith(f"config file: {tmp_path / 'podaudit.yaml'}")
    assert lines["inventory"].split()[1:] == [str(tmp_path / "hosts.ini"), "file"]
    assert lines["fail-on"].split()[1:] == ["low", "env", "PODAUDIT_FAIL_ON"]
    assert lines["sudo"].split()[1:] == ["True", "flag"]


def test_each_command_help_lists_what_it_uses(tmp_path: Path) -> None:
    find = run(tmp_path, "find", "--help").stdout
    assert "Connection options:" in find and "--known-hosts" in find
    assert "table, json" in find and "sarif" not in find and "--fail-on" not in find
    rules = run(tmp_path, "rules", "--help").stdout
    assert "--inventory" not in rules and "--known-hosts" not in rules
    sweep = run(tmp_path, "sweep", "--help").stdout
    for section in ("Nodes options:", "Connection options:", "API options:", "Output options:", "Audit options:"):
        assert section in sweep
    assert "html" in sweep and "--report FORMAT=PATH" in sweep
    analyze = run(tmp_path, "analyze", "--help").stdout
    assert "--known-hosts" not in analyze and "--fail-on" in analyze
    collect = run(tmp_path, "collect", "--help").stdout
    assert "tar.gz, armored" in collect and "--bundle FILE" in collect and "--fail-on" not in collect
