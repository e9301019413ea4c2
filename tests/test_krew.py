"""podaudit as a kubectl plugin through krew: scripts/krew.py's archives and plugins/podaudit.yaml.

The manifest is checked against every rule krew applies (kubernetes-sigs/krew):
``ValidatePlugin``, ``validatePlatform``, ``validateFiles`` and ``validateSelector`` in
internal/index/validation/validate.go; and what cmd/validate-krew-manifest/main.go adds,
``validateManifestFile`` (file name = plugin name + .yaml, every platform selects a supported
os/arch, ``isOverlappingPlatformSelectors``) and ``installPlatformSpec`` (the install works:
``findMoveTargets``/``getDirectMove`` in internal/installation/move.go, the bin inside the
install dir as ``install``/``createOrUpdateLink`` in internal/installation/install.go demand,
and a license file, ``validateLicenseFileExists``). The version is parsed as krew's
``semver.Parse`` does (internal/installation/semver/version.go): a leading v, then semver.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import podaudit
from tests.release_helpers import PREFETCH_HINT, REPO, built_dist, pip_offline

VERSION = podaudit.__version__
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SUPPORTED = [("windows", "386"), ("windows", "amd64"), ("windows", "arm64"), ("linux", "386"),
             ("linux", "amd64"), ("linux", "arm"), ("linux", "arm64"), ("linux", "ppc64le"),
             ("darwin", "386"), ("darwin", "amd64"), ("darwin", "arm64")]  # main.go: allPlatforms
WINDOWS_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
SEMVER = re.compile(r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z.-]+)?")
LICENSES = {"license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying", "copying.txt"}


def _load_krew() -> ModuleType:
    spec = importlib.util.spec_from_file_location("krew_script", REPO / "scripts" / "krew.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


krew = _load_krew()
HOST = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}.get(os.uname().machine, "")


@pytest.fixture(scope="session")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The four platforms' archives for this Python only (a release has 3.10-3.13: the same
    code, four times the downloads), and their manifest beside them."""
    wheel = built_dist(tmp_path_factory)["wheel"]
    out = tmp_path_factory.mktemp("krew")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "krew.py"), "--wheel", str(wheel), "--dist", str(out),
                           "--manifest", str(out / "podaudit.yaml"), "--python-version", PYTHON],
                          capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **pip_offline()})
    if done.returncode and "pip download" in done.stderr:
        pytest.fail(f"no wheels for the krew archives: {done.stderr.strip()}; run where the package registry is "
                    f"reachable, {PREFETCH_HINT}", pytrace=False)
    assert done.returncode == 0, done.stdout + done.stderr
    found = {platform: out / krew.archive_name(VERSION, platform) for platform in krew.PLATFORMS}
    return {**found, "manifest": out / "podaudit.yaml"}


def _selects(selector: dict[str, Any], os_name: str, arch: str) -> bool:
    return all({"os": os_name, "arch": arch}.get(key) == value for key, value in selector["matchLabels"].items())


def _selector_problems(selector: Any) -> list[str]:
    """validateSelector; this checker knows matchLabels only, which is all krew.py writes."""
    if not selector:
        return ["nil or empty selector"]
    if set(selector) != {"matchLabels"} or not selector["matchLabels"]:
        return ["selector must be a non-empty matchLabels"]
    return [f"selector key {key}" for key in selector["matchLabels"] if key not in ("os", "arch")]


def _platform_problems(platform: dict[str, Any]) -> list[str]:
    """validatePlatform and validateFiles."""
    problems = [f"no {key}" for key in ("uri", "sha256", "bin") if not platform.get(key)]
    if not re.fullmatch(r"[a-f0-9]{64}", str(platform.get("sha256", ""))):
        problems.append("sha256 is not 64 lowercase hex digits")
    files = platform.get("files")
    if files is not None:
        if not files:
            problems.append("files is empty")
        problems += [f"file operation {op} lacks from or to" for op in files if not op.get("from") or not op.get("to")]
        problems += [f"`to` {op['to']} is not clean" for op in files if op.get("to") != os.path.normpath(op["to"])]
    return problems + _selector_problems(platform.get("selector"))


def krew_problems(path: Path) -> list[str]:
    """Every krew rule ``path`` breaks (the module docstring names them), but installing."""
    plugin = yaml.safe_load(path.read_text())
    name, extension = os.path.splitext(path.name)
    spec = plugin.get("spec", {})
    problems = [] if extension == ".yaml" else ["extension is not .yaml"]
    problems += [] if plugin.get("apiVersion") == "krew.googlecontainertools.github.com/v1alpha2" else ["apiVersion"]
    problems += [] if plugin.get("kind") == "Plugin" else ["kind"]
    if not re.fullmatch(r"[\w-]+", name) or name.upper() in WINDOWS_NAMES:
        problems.append(f"unsafe plugin name {name}")
    problems += [] if plugin.get("metadata", {}).get("name") == name else ["metadata.name is not the file's name"]
    short = spec.get("shortDescription", "")
    problems += [] if short and not set(short) & {"\r", "\n"} else ["shortDescription empty or with line breaks"]
    problems += [] if SEMVER.fullmatch(str(spec.get("version", ""))) else ["version is not v + semver"]
    platforms = spec.get("platforms") or []
    problems += [] if platforms else ["no platforms"]
    for index, platform in enumerate(platforms):
        problems += [f"platform {index}: {problem}" for problem in _platform_problems(platform)]
    if problems:
        return problems
    for index, platform in enumerate(platforms):
        if not any(_selects(platform["selector"], *pair) for pair in SUPPORTED):
            problems.append(f"platform {index} selects no supported os/arch")
    for pair in SUPPORTED:
        chosen = [i for i, platform in enumerate(platforms) if _selects(platform["selector"], *pair)]
        problems += [f"platforms {chosen} overlap on {pair}"] if len(chosen) > 1 else []
    return problems


def krew_install(archive: Path, platform: dict[str, Any], root: Path) -> Path:
    """What `kubectl krew install` does with one platform: unpack, apply the file operations
    (a path that exists moves as is, to its own name for "."; otherwise a glob whose matches
    go into ``to``), link bin/kubectl-NAME to ``bin``. Returns that link."""
    staging, store, bin_dir = root / "staging", root / "store" / "podaudit", root / "bin"
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    for op in platform.get("files") or [{"from": "*", "to": "."}]:
        direct = staging / op["from"]
        if direct.exists():
            moves = [(direct, store / (direct.name if op["to"] == "." else op["to"]))]
        else:
            matches = sorted(glob.glob(str(staging / op["from"])))
            assert matches, f"no file in the archive matches {op['from']}"
            moves = [(Path(match), store / op["to"] / Path(match).name) for match in matches]
        for source, target in moves:
            assert target.resolve().is_relative_to(store.resolve()), f"{target} is out of the install dir"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)
    binary = store / platform["bin"]
    assert binary.resolve().is_relative_to(store.resolve()) and binary.is_file(), f"no {platform['bin']} installed"
    assert {path.name.lower() for path in store.rglob("*") if path.is_file()} & LICENSES, "no license file installed"
    bin_dir.mkdir(parents=True)
    (bin_dir / "kubectl-podaudit").symlink_to(binary)
    return bin_dir / "kubectl-podaudit"


def _platforms(manifest: Path) -> dict[str, dict[str, Any]]:
    spec = yaml.safe_load(manifest.read_text())["spec"]
    labels = ((p["selector"]["matchLabels"], p) for p in spec["platforms"])
    return {f"{label['os']}/{label['arch']}": platform for label, platform in labels}


def test_generated_manifest_passes_krews_rules(archives: dict[str, Path]) -> None:
    assert krew_problems(archives["manifest"]) == []
    plugin = yaml.safe_load(archives["manifest"].read_text())
    assert plugin["spec"]["version"] == f"v{VERSION}"
    assert sorted(_platforms(archives["manifest"])) == ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]


def test_the_checker_catches_what_krew_rejects(archives: dict[str, Path], tmp_path: Path) -> None:
    """The rules above have teeth: each breakage krew refuses is reported."""
    good = yaml.safe_load(archives["manifest"].read_text())
    broken = [("spec", "version", VERSION), ("spec", "shortDescription", "two\nlines"), ("metadata", "name", "other")]
    for section, key, value in broken:
        plugin = yaml.safe_load(yaml.safe_dump(good))
        plugin[section][key] = value
        (tmp_path / "podaudit.yaml").write_text(yaml.safe_dump(plugin))
        assert krew_problems(tmp_path / "podaudit.yaml"), (key, value)
    plugin = yaml.safe_load(yaml.safe_dump(good))
    plugin["spec"]["platforms"].append(plugin["spec"]["platforms"][0])
    (tmp_path / "podaudit.yaml").write_text(yaml.safe_dump(plugin))
    assert any("overlap" in problem for problem in krew_problems(tmp_path / "podaudit.yaml"))


def test_each_sha256_and_uri_names_its_archive(archives: dict[str, Path]) -> None:
    for platform, entry in _platforms(archives["manifest"]).items():
        assert entry["sha256"] == hashlib.sha256(archives[platform].read_bytes()).hexdigest()
        assert entry["uri"] == (f"https://github.com/podaudit/podaudit/releases/download/v{VERSION}/"
                                f"{archives[platform].name}")


def test_each_archive_installs_as_krew_installs_it(archives: dict[str, Path], tmp_path: Path) -> None:
    """The launcher, LICENSE, README and a wheelhouse with podaudit's wheel and platform wheels."""
    for platform, entry in _platforms(archives["manifest"]).items():
        link = krew_install(archives[platform], entry, tmp_path / platform.replace("/", "-"))
        store = link.resolve().parent
        wheels = sorted(path.name for path in (store / "wheelhouse").iterdir())
        assert f"podaudit-{VERSION}-py3-none-any.whl" in wheels
        arch = {"linux/amd64": "x86_64", "linux/arm64": "aarch64", "darwin/amd64": "x86_64", "darwin/arm64": "arm64"}
        assert any(name.startswith("pyyaml-") and name.endswith(f"{arch[platform]}.whl") for name in wheels), wheels
        assert os.access(link, os.X_OK)


def test_archives_are_reproducible(tmp_path: Path) -> None:
    """Same wheels, same bytes: file times, order of listing and the clock do not leak in."""
    wheels = []
    for name in ("b-1.0-py3-none-any.whl", "a-1.0-py3-none-any.whl"):
        wheels.append(tmp_path / name)
        wheels[-1].write_bytes(name.encode() * 100)
    krew.write_archive(tmp_path / "one.tar.gz", "#!/bin/sh\n", wheels)
    for number, wheel in enumerate(wheels):
        os.utime(wheel, (1_000_000 + number, 2_000_000 + number))
    krew.write_archive(tmp_path / "two.tar.gz", "#!/bin/sh\n", list(reversed(wheels)))
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        assert {(m.uid, m.gid, m.mtime) for m in tar.getmembers()} == {(0, 0, krew.FIXED_MTIME)}


def _tools(tmp_path: Path, python: str | None) -> str:
    """A PATH with the few tools the launcher uses and, if given, ``python`` as python3."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("readlink", "dirname", "mkdir", "mktemp", "rm"):
        found = shutil.which(name)
        assert found, name
        (tools / name).symlink_to(found)
    if python:
        (tools / "python3").symlink_to(python)
    return str(tools)


@pytest.mark.skipif(not HOST, reason="the launcher end to end runs on linux/amd64 or linux/arm64")
def test_launcher_installs_on_first_run_and_runs_the_demo(archives: dict[str, Path], tmp_path: Path) -> None:
    """Installed as krew installs it (through bin/'s symlink), the launcher makes its venv
    under $XDG_CACHE_HOME/podaudit/VERSION from the wheelhouse alone, then runs podaudit."""
    link = krew_install(archives[HOST], _platforms(archives["manifest"])[HOST], tmp_path / "krew")
    env = {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache"), "LANG": "C.UTF-8",
           "PATH": f"{link.parent}:{_tools(tmp_path, sys.executable)}", "PIP_CONFIG_FILE": os.devnull}
    first = subprocess.run(["kubectl-podaudit", "--demo", "find", "static-greenbox-node01"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=False, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "static-greenbox-node01 is defined on node01 by /etc/just-to-mess-with-you/greenbox.yaml" in first.stdout
    assert f"first run: installing podaudit {VERSION}" in first.stderr
    assert (tmp_path / "cache" / "podaudit" / VERSION / "bin" / "python").exists()
    again = subprocess.run(["kubectl-podaudit", "--help"], env=env, cwd=tmp_path, capture_output=True, text=True,
                           check=False, timeout=60)
    assert again.returncode == 0 and again.stderr == ""
    assert "Usage: kubectl podaudit" in again.stdout


def test_launcher_without_python_says_so_in_one_line(archives: dict[str, Path], tmp_path: Path) -> None:
    """No python3 (or only one older than 3.10): one line on stderr, exit 1, nothing installed."""
    link = krew_install(archives["linux/amd64"], _platforms(archives["manifest"])["linux/amd64"], tmp_path / "krew")
    old = tmp_path / "old-python"
    old.write_text("#!/bin/sh\nexit 1\n")  # answers the version probe as Python 2 would: false
    old.chmod(0o755)
    for case, python in (("none", None), ("old", str(old))):
        (tmp_path / case).mkdir()
        env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
               "PATH": f"{link.parent}:{_tools(tmp_path / case, python)}"}
        done = subprocess.run(["kubectl-podaudit", "--version"], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 1
        assert done.stderr == ("kubectl-podaudit: needs Python 3.10 or newer as python3 on PATH "
                               "(or set PODAUDIT_PYTHON)\n")
        assert not (tmp_path / "cache").exists()


def test_committed_manifest_is_the_scripts_output_for_this_version(archives: dict[str, Path]) -> None:
    """plugins/podaudit.yaml passes krew's rules, is for podaudit.__version__, and is what
    scripts/krew.py writes (but the sha256 sums, which depend on the day's dependency wheels)."""
    committed = REPO / "plugins" / "podaudit.yaml"
    assert krew_problems(committed) == []
    text = committed.read_text()
    assert text.startswith(f"# podaudit {VERSION} for krew. Generated by scripts/krew.py")

    def without_sums(manifest: str) -> str:
        return re.sub(r"sha256: [0-9a-f]{64}", "sha256: -", manifest)

    assert without_sums(text) == without_sums(archives["manifest"].read_text())
