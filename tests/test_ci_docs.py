"""docs/ci.md's examples run as written: the GitHub Actions steps and the GitLab job's script,
each in a real shell, with the documented podaudit.yaml pointed at the bundled demo cluster
instead of an inventory (the one line a reader changes), and the CI runner's files
(GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) and expressions (`${{ steps.ID.outputs.NAME }}`) played
as the runner plays them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

DOC = Path(__file__).parent.parent / "docs" / "ci.md"
BIN = str(Path(sys.executable).parent)  # the installed `podaudit` beside this Python
# Steps that set up the runner: podaudit is installed here already, no package is fetched.
SETUP = re.compile(r"pip install|apt-get")


def blocks() -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


def workspace(tmp_path: Path, **extra: str) -> tuple[Path, dict[str, str]]:
    """The documented settings with the demo instead of the inventory and SSH; a baseline
    recorded from the cluster as a first run would (`--write-baseline`)."""
    [settings] = [b for b in blocks() if isinstance(b, dict) and "inventory" in b]
    work = tmp_path / "repo"
    work.mkdir()
    kept = {k: v for k, v in settings.items() if k not in {"inventory", "sudo", "identity", "known-hosts"}}
    (work / "podaudit.yaml").write_text(yaml.safe_dump({**kept, "demo": True, **extra}))
    (work / "podaudit.yaml").chmod(0o644)
    recorded = subprocess.run(["podaudit", "--config-file", "", "--demo", "sweep", "--write-baseline",
                               str(work / settings["baseline"]), "--accept-findings", "--reason", "CI docs test"],
                              cwd=work, capture_output=True, text=True, env=_env(tmp_path, work), timeout=120)
    assert recorded.returncode == 0, recorded.stderr
    return work, _env(tmp_path, work)


def _env(tmp_path: Path, work: Path) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PODAUDIT_")},
            "PATH": f"{BIN}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(tmp_path / "output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "COLUMNS": "120"}


def run_github(work: Path, env: dict[str, str]) -> list[tuple[str, int, str]]:
    """Every `run:` step in order, as `bash -e` (the runner's default shell); `uses:` steps are
    GitHub's own actions and are checked for what they consume instead."""
    [workflow] = [b for b in blocks() if isinstance(b, dict) and "jobs" in b]
    done: list[tuple[str, int, str]] = []
    outputs: dict[str, dict[str, str]] = {}
    for step in workflow["jobs"]["sweep"]["steps"]:
        if "uses" in step:
            for name in str(step.get("with", {}).get("sarif_file", "")).split():
                assert (work / name).is_file(), f"{step['uses']} would find no {name}"
            continue
        if SETUP.search(step["run"]):
            continue
        script = re.sub(r"\$\{\{ steps\.(\w+)\.outputs\.(\w+) \}\}", lambda m: outputs[m[1]][m[2]], step["run"])
        Path(env["GITHUB_OUTPUT"]).write_text("")
        step_env = {**env, **dict.fromkeys(step.get("env", {}), "not-a-key")}
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=step_env, capture_output=True, text=True,
                              timeout=300)
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().split())
        done.append((step["name"], proc.returncode, proc.stdout + proc.stderr))
    return done


def test_github_workflow_sweeps_once_and_gates_clean(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    steps = {name: (code, out) for name, code, out in run_github(work, env)}
    assert steps["Sweep"][0] == 0, steps["Sweep"][1]
    assert steps["Gate"] == (0, "podaudit: clean\n")
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text().startswith("## podaudit sweep")
    assert "<html" in (work / "podaudit.html").read_text()
    assert (work / "upload.sarif").is_file() and (work / "podaudit-junit.xml").is_file()


def test_github_gate_fails_on_findings_after_publishing(tmp_path: Path) -> None:
    work, env = workspace(tmp_path, **{"fail-on": "medium", "baseline": "builtin:kubeadm"})
    steps = {name: (code, out) for name, code, out in run_github(work, env)}
    assert steps["Job summary"][0] == 0 and steps["Drop suppressed results"][0] == 0
    code, out = steps["Gate"]
    assert code == 1 and "::error::podaudit: findings at or above high" in out


def test_gitlab_job_script_as_written(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    [job] = [b["podaudit"] for b in blocks() if isinstance(b, dict) and "podaudit" in b]
    for line in [*job["before_script"], *job["script"]]:
        if SETUP.search(line):
            continue
        proc = subprocess.run(["sh", "-e", "-c", line], cwd=work, capture_output=True, text=True,
                              env={**env, "PODAUDIT_SSH_KEY": "not-a-key"}, timeout=300)
        assert proc.returncode == 0, (line, proc.stderr)
    for path in job["artifacts"]["paths"]:
        assert (work / path).is_file(), path
    assert (work / job["artifacts"]["reports"]["junit"]).read_text().startswith("<?xml")
