"""A release as users get it: the wheel and sdist `python -m build` makes (twine check --strict),
the wheel installed by pipx and run, `--version` from podaudit.__version__ alone, and the
release workflow (.github/workflows/release.yml). The krew archives: tests/test_krew.py.

The dependencies of the installed wheel come from the package registry, as for CI's own pip
install: one wheelhouse per session (`pip download`), then installs with --no-index from it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

import podaudit
from tests.release_helpers import REPO, WORKFLOW, built_dist, wheelhouse_for

VERSION = podaudit.__version__


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return built_dist(tmp_path_factory)


@pytest.fixture(scope="session")
def wheelhouse(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheelhouse_for(dist["wheel"], tmp_path_factory)


def test_the_version_lives_in_podaudit_init_alone(dist: dict[str, Path]) -> None:
    """pyproject.toml takes it from podaudit.__version__; the wheel, the sdist and their
    metadata carry that version and no other."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "podaudit.__version__"}
    assert dist["wheel"].name == f"podaudit-{VERSION}-py3-none-any.whl"
    assert dist["sdist"].name == f"podaudit-{VERSION}.tar.gz"
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        metadata = wheel.read(f"podaudit-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata
    assert "\nLicense-Expression: Apache-2.0\n" in metadata


def test_version_prints_podaudit_version_without_importlib_metadata() -> None:
    """`podaudit --version` answers from podaudit.__version__: importlib.metadata (which reads
    every installed distribution's metadata) is never imported, as -X importtime shows."""
    code = "import sys; sys.argv = ['podaudit', '--version']; from podaudit.cli import main; main()"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == f"podaudit, version {VERSION}\n"
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "podaudit.cli" in imported  # the probe sees imports at all
    assert not {name for name in imported if name.startswith("importlib.metadata")}


def test_twine_check_strict_passes(dist: dict[str, Path]) -> None:
    """PyPI's own checks of the metadata and of the README as the long description."""
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(dist["wheel"]), str(dist["sdist"])],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def _package_data() -> set[str]:
    """Every data file podaudit reads at run time (pyproject.toml's package-data), as the
    source tree has them."""
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["podaudit"]
    root = REPO / "podaudit"
    found = [path for pattern in patterns for path in root.glob(pattern) if "__pycache__" not in path.parts]
    return {f"podaudit/{path.relative_to(root).as_posix()}" for path in found if path.is_file()}


def test_wheel_and_sdist_hold_the_package_data_and_license(dist: dict[str, Path]) -> None:
    """The demo cluster, the gather scripts and the baselines travel in both; so does LICENSE."""
    data = _package_data()
    assert any(name.startswith("podaudit/demo/cluster/") for name in data)
    assert any(name.startswith("podaudit/collect/gather/") for name in data)
    assert any(name.startswith("podaudit/audit/baselines/") for name in data)
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
    assert data <= names, sorted(data - names)[:5]
    assert f"podaudit-{VERSION}.dist-info/licenses/LICENSE" in names
    with tarfile.open(dist["sdist"]) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert data <= members, sorted(data - members)[:5]
    assert {"LICENSE", "README.md", "pyproject.toml"} <= members


def test_pipx_install_of_the_wheel_runs_the_demo(dist: dict[str, Path], wheelhouse: Path, tmp_path: Path) -> None:
    """The recommended install: `pipx install podaudit-X-py3-none-any.whl`, then the README's
    first command, from the bin directory pipx fills (both commands: podaudit, kubectl-podaudit)."""
    bin_dir = tmp_path / "bin"
    env = {**os.environ, "HOME": str(tmp_path), "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(bin_dir),
           "PIPX_MAN_DIR": str(tmp_path / "man"), "PIPX_DEFAULT_PYTHON": sys.executable,
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-m", "pipx", "install", f"--pip-args=--no-index --find-links {wheelhouse}",
                           str(dist["wheel"])], capture_output=True, text=True, env=env, check=False, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(path.name for path in bin_dir.iterdir()) == ["kubectl-podaudit", "podaudit"]
    clean = {key: value for key, value in env.items() if key != "PYTHONPATH"}
    found = subprocess.run([str(bin_dir / "podaudit"), "--demo", "find", "static-greenbox-node01"],
                           capture_output=True, text=True, env=clean, cwd=tmp_path, check=False, timeout=60)
    assert found.returncode == 0, found.stderr
    assert "static-greenbox-node01 is defined on node01 by /etc/just-to-mess-with-you/greenbox.yaml" in found.stdout
    # the installed copy, not this checkout, answered
    version = subprocess.run([str(bin_dir / "podaudit"), "--version"], capture_output=True, text=True, env=clean,
                             cwd=tmp_path, check=False)
    assert version.stdout == f"podaudit, version {VERSION}\n"


# --- .github/workflows/release.yml -----------------------------------------------------------

def _workflow() -> dict[str, object]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _jobs() -> dict[str, dict[str, object]]:
    jobs = _workflow()["jobs"]
    assert isinstance(jobs, dict)
    return jobs


def _steps(job: str) -> list[dict[str, object]]:
    steps = _jobs()[job]["steps"]
    assert isinstance(steps, list)
    return steps


def test_release_runs_on_version_tags_only() -> None:
    flow = _workflow()
    trigger = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert trigger == {"push": {"tags": ["v*"]}}


def test_each_job_has_only_the_permissions_it_needs() -> None:
    """Nothing at the workflow level; write access only where a job uses it."""
    assert _workflow()["permissions"] == {}
    wanted = {"build": {"contents": "read"}, "test": {"contents": "read"}, "pypi": {"id-token": "write"},
              "image": {"contents": "read", "packages": "write"}, "release": {"contents": "write"}}
    assert {name: job.get("permissions") for name, job in _jobs().items()} == wanted


def test_pypi_is_trusted_publishing_without_secrets() -> None:
    """pypa/gh-action-pypi-publish with an OIDC token (id-token: write) from the `pypi`
    environment: no password, no API token, no secrets anywhere in the job."""
    job = _jobs()["pypi"]
    assert job["environment"] == {"name": "pypi", "url": "https://pypi.org/project/podaudit/"}
    publish = [step for step in _steps("pypi") if str(step.get("uses", "")).startswith("pypa/gh-action-pypi-publish@")]
    assert len(publish) == 1
    assert not {"password", "user", "api-token"} & set(dict(publish[0].get("with") or {}))
    assert "secrets." not in yaml.safe_dump(job)
    assert set(job["needs"]) == {"build", "test"}


def test_image_is_the_dockerfile_pushed_to_ghcr_with_version_tags() -> None:
    push = next(step for step in _steps("image") if str(step.get("uses", "")).startswith("docker/build-push-action@"))
    with_ = push["with"]
    assert isinstance(with_, dict)
    assert with_["context"] == "." and with_["push"] is True
    assert (REPO / "Dockerfile").is_file()
    assert "VERSION=${{ steps.meta.outputs.version }}" in with_["build-args"]
    meta = next(step for step in _steps("image") if step.get("id") == "meta")
    assert meta["with"]["images"] == "ghcr.io/${{ github.repository }}"
    assert "type=semver,pattern={{version}}" in meta["with"]["tags"]


def test_every_script_the_workflow_runs_exists() -> None:
    """A path to a script in any `run:` (scripts/…, .ci/…) is a file of this repository."""
    named: set[str] = set()
    for job in _jobs().values():
        for step in job["steps"]:
            named.update(re.findall(r"(?<![\w/.-])((?:scripts|\.ci)/[\w./-]+)", str(step.get("run", ""))))
    assert {"scripts/krew.py", ".ci/run"} <= named
    assert [name for name in sorted(named) if not (REPO / name).is_file()] == []


def _version_check() -> str:
    step = next(step for step in _steps("build") if "podaudit.__version__" in str(step.get("name", "")))
    return str(step["run"])


@pytest.mark.parametrize(("tag", "ok"), [(f"v{VERSION}", True), (f"v{VERSION}.1", False), (VERSION, False)])
def test_a_tag_that_is_not_v_plus_podaudit_version_stops_the_release(tag: str, ok: bool, tmp_path: Path) -> None:
    """The build job's check, run as Actions runs it (bash -e) from this checkout."""
    python_dir = tmp_path / "bin"
    python_dir.mkdir()
    (python_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "GITHUB_REF_NAME": tag, "PATH": f"{python_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", _version_check()], cwd=REPO, env=env, capture_output=True, text=True,
                          check=False)
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    if not ok:
        assert f"does not match podaudit.__version__ {VERSION}" in done.stdout
    build = _steps("build")
    assert build.index(next(s for s in build if "podaudit.__version__" in str(s.get("name", "")))) < next(
        i for i, s in enumerate(build) if "python -m build" in str(s.get("run", "")))


def test_the_release_attaches_every_artifact() -> None:
    release = _jobs()["release"]
    assert set(release["needs"]) == {"pypi", "image"}
    downloaded = {step["with"]["name"] for step in release["steps"]
                  if str(step.get("uses", "")).startswith("actions/download-artifact@")}
    uploaded = {step["with"]["name"] for step in _steps("build") if str(step.get("uses", "")).startswith(
        "actions/upload-artifact@")}
    assert downloaded == uploaded == {"python-dist", "krew"}
    assert 'gh release create "$GITHUB_REF_NAME" assets/*' in str(release["steps"][-1]["run"])
