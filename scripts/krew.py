#!/usr/bin/env python3
"""Build podaudit's krew plugin archives and write the krew manifest from them.

    python -m build                       # dist/podaudit-X-py3-none-any.whl
    python scripts/krew.py                # dist/kubectl-podaudit_vX_OS_ARCH.tar.gz + plugins/podaudit.yaml
    python scripts/krew.py --manifest-only    # the manifest again, from the archives in dist/
    python scripts/krew.py --prefetch DIR --python-version 3.11   # wheels for offline tests

Each archive (one per platform) holds a POSIX sh launcher ``kubectl-podaudit``, the podaudit
wheel and the wheels of its dependencies for that platform and CPython 3.10-3.13 in
``wheelhouse/``, LICENSE and README.md. On its first run the launcher installs them into a
private venv under ``${XDG_CACHE_HOME:-$HOME/.cache}/podaudit/VERSION`` without the network.
podaudit is Python, so the archive cannot hold one binary: it holds everything pip needs.

An archive is reproducible: the same wheels give the same bytes (sorted entries, fixed
times and owners, gzip without a name or time), so its sha256 in the manifest can be checked
by anyone who rebuilds it. The dependency wheels are whatever the registry serves that day,
so the release workflow writes the manifest from the archives it attaches to the release.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOME = "https://github.com/podaudit/podaudit"
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
# krew's os/arch -> the wheel platform tags pip may pick for it, best first. pip (23) does not
# widen manylinux_2_X tags by itself, so the older ones are listed; macOS 11 is the oldest
# macOS that has arm64, and the oldest the x86_64 wheels are built for nowadays.
PLATFORMS: dict[str, tuple[str, ...]] = {
    "linux/amd64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "linux/arm64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
    "darwin/amd64": ("macosx_11_0_x86_64",),
    "darwin/arm64": ("macosx_11_0_arm64",),
}
# 1980-01-01, the oldest time a zip (a wheel) can hold: every member of an archive gets it.
FIXED_MTIME = 315532800
LAUNCHER = "kubectl-podaudit"

LAUNCHER_SH = r"""#!/bin/sh
# kubectl-podaudit @VERSION@: podaudit as a kubectl plugin (https://github.com/podaudit/podaudit).
# The first run installs podaudit and its dependencies from the wheels beside this script
# into a private venv (no network), later runs only exec it.
set -eu
version=@VERSION@
me=$0
while [ -L "$me" ]; do  # krew links bin/kubectl-podaudit to its store: find the real file
    link=$(readlink "$me")
    case $link in /*) me=$link ;; *) me=$(dirname "$me")/$link ;; esac
done
here=$(cd "$(dirname "$me")" && pwd -P)
venv=${XDG_CACHE_HOME:-$HOME/.cache}/podaudit/$version
fail() { echo "kubectl-podaudit: $*" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
    python=
    for candidate in ${PODAUDIT_PYTHON:-} python3 python3.13 python3.12 python3.11 python3.10; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            python=$candidate; break
        fi
    done
    [ -n "$python" ] || fail "needs Python 3.10 or newer as python3 on PATH (or set PODAUDIT_PYTHON)"
    echo "kubectl-podaudit: first run: installing podaudit $version into $venv" >&2
    mkdir -p "$(dirname "$venv")"
    staging=$(mktemp -d "$venv.XXXXXX")
    trap 'rm -rf "$staging"' EXIT
    "$python" -m venv "$staging" >/dev/null 2>&1 ||
        fail "$python -m venv failed (on Debian and Ubuntu: apt install python3-venv)"
    "$staging/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
        --find-links "$here/wheelhouse" "podaudit==$version" >&2 ||
        fail "installing podaudit from $here/wheelhouse failed (see above)"
    # A venv may be moved as long as only its bin/python is run: rename it into place in one
    # step, so a second first run at the same time keeps the one that won.
    "$staging/bin/python" -c 'import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError:
    pass' "$staging" "$venv"
    rm -rf "$staging"
    trap - EXIT
fi
exec "$venv/bin/python" -c 'import sys; sys.argv[0] = "kubectl-podaudit"
from podaudit.cli import main
main()' "$@"
"""


def project_version() -> str:
    """podaudit.__version__, read from the source (not imported: this runs before any install)."""
    text = (REPO / "podaudit" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if not found:
        raise SystemExit("krew.py: no __version__ in podaudit/__init__.py")
    return found.group(1)


def semver(version: str) -> str:
    """krew wants a semantic version with a leading v (0.2.0rc1 -> v0.2.0-rc.1)."""
    found = re.fullmatch(r"(\d+\.\d+\.\d+)(?:(a|b|rc)(\d+))?", version)
    if not found:
        raise SystemExit(f"krew.py: version {version} is not X.Y.Z[aN|bN|rcN]")
    release, kind, number = found.groups()
    pre = {"a": "alpha", "b": "beta", "rc": "rc"}.get(kind or "")
    return f"v{release}-{pre}.{number}" if pre else f"v{release}"


def archive_name(version: str, platform: str) -> str:
    os_name, arch = platform.split("/")
    return f"kubectl-podaudit_{semver(version)}_{os_name}_{arch}.tar.gz"


def download_wheels(wanted: list[str], platform: str, python: str, dest: Path) -> None:
    """Every wheel ``wanted`` (podaudit's wheel, or requirements) needs on ``platform`` under
    CPython ``python``, with pip; platform "" is this machine."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--dest", str(dest)]
    if platform:
        command += ["--implementation", "cp", "--python-version", python]
    for tag in PLATFORMS.get(platform, ()):
        command += ["--platform", tag]
    done = subprocess.run([*command, *wanted], capture_output=True, text=True, check=False)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"krew.py: pip download for {platform or 'this machine'}, Python {python} failed: {last}")


def wheelhouses(wanted: list[str], platforms: list[str], pythons: list[str], work: Path) -> dict[str, list[Path]]:
    """platform -> its wheels, each (platform, Python) downloaded in a folder of its own, in
    parallel (pip's own cache is safe to share)."""
    jobs = [(platform, python, work / f"{platform.replace('/', '-')}-py{python}")
            for platform in platforms for python in pythons]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(download_wheels, wanted, p, py, dest) for p, py, dest in jobs]:
            future.result()
    found: dict[str, dict[str, Path]] = {platform: {} for platform in platforms}
    for platform, _python, dest in jobs:
        for path in dest.glob("*.whl"):
            found[platform].setdefault(path.name, path)
    return {platform: sorted(names.values(), key=lambda p: p.name) for platform, names in found.items()}


def _member(name: str, data: bytes, mode: int) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, data


def write_archive(path: Path, launcher: str, wheels: list[Path]) -> None:
    """A tar.gz whose bytes depend only on its contents (see the module docstring)."""
    members = [_member(LAUNCHER, launcher.encode(), 0o755),
               _member("LICENSE", (REPO / "LICENSE").read_bytes(), 0o644),
               _member("README.md", (REPO / "README.md").read_bytes(), 0o644)]
    members += [_member(f"wheelhouse/{wheel.name}", wheel.read_bytes(), 0o644) for wheel in wheels]
    folder = tarfile.TarInfo("wheelhouse")
    folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(folder)
        for info, data in sorted(members, key=lambda m: m[0].name):
            tar.addfile(info, io.BytesIO(data))
    with path.open("wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed:
        packed.write(raw.getvalue())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _block_text(dumper: Any, text: str) -> Any:
    """Text of several lines as a YAML block (|), as people write krew manifests."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def _dumper() -> Any:
    import yaml

    class BlockDumper(yaml.SafeDumper):
        pass

    BlockDumper.add_representer(str, _block_text)
    return BlockDumper


def manifest(version: str, archives: dict[str, Path]) -> str:
    """The krew Plugin manifest (krew.googlecontainertools.github.com/v1alpha2) for ``archives``
    (platform -> archive), each downloaded from the GitHub release of ``version``."""
    import yaml

    tag = semver(version)
    platforms = []
    for platform, archive in sorted(archives.items()):
        os_name, arch = platform.split("/")
        platforms.append({
            "selector": {"matchLabels": {"os": os_name, "arch": arch}},
            "uri": f"{HOME}/releases/download/v{version}/{archive.name}",
            "sha256": sha256(archive),
            "bin": LAUNCHER,
            "files": [{"from": LAUNCHER, "to": "."}, {"from": "LICENSE", "to": "."},
                      {"from": "README.md", "to": "."}, {"from": "wheelhouse/*.whl", "to": "wheelhouse"}],
        })
    plugin = {
        "apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
        "kind": "Plugin",
        "metadata": {"name": "podaudit"},
        "spec": {
            "version": tag,
            "homepage": HOME,
            "shortDescription": "Find, explain and audit static pods on the nodes",
            "description": ("Which node, which file and why a static pod runs; audits every node's static pod\n"
                            "manifests and kubelet (over SSH, or from the API) and says how to remove one safely.\n"),
            "caveats": ("Needs python3 (3.10 or newer). The first run installs podaudit into\n"
                        "${XDG_CACHE_HOME:-$HOME/.cache}/podaudit/VERSION from the wheels in the archive.\n"),
            "platforms": platforms,
        },
    }
    head = (f"# podaudit {version} for krew. Generated by scripts/krew.py from the release archives:\n"
            "#   python -m build && python scripts/krew.py   (or --manifest-only with the archives in dist/)\n"
            "# Each release attaches the manifest that matches its archives; do not edit by hand.\n")
    return head + yaml.dump(plugin, Dumper=_dumper(), sort_keys=False, width=120)


def build(wheel: Path, dist: Path, platforms: list[str], pythons: list[str]) -> dict[str, Path]:
    """Write one archive per platform into ``dist``; platform -> archive."""
    version = project_version()
    if not wheel.is_file():
        raise SystemExit(f"krew.py: no wheel {wheel}: run `python -m build` first")
    launcher = LAUNCHER_SH.replace("@VERSION@", version)
    archives = {}
    with tempfile.TemporaryDirectory(prefix="podaudit-krew-") as work:
        for platform, wheels in wheelhouses([str(wheel)], platforms, pythons, Path(work)).items():
            archives[platform] = dist / archive_name(version, platform)
            write_archive(archives[platform], launcher, wheels)
    return archives


def prefetch(dest: Path, platforms: list[str], pythons: list[str]) -> None:
    """Into one folder, the wheels of podaudit's dependencies for ``platforms`` and for this
    machine (with pip): with PIP_NO_INDEX=1 and PIP_FIND_LINKS=DEST, this script and pip
    install then need no network (the tests run in a network namespace of their own)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], "pip"]
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="podaudit-prefetch-") as work:
        for wheels in wheelhouses(wanted, ["", *platforms], pythons, Path(work)).values():
            for wheel in wheels:
                (dest / wheel.name).write_bytes(wheel.read_bytes())


def existing(dist: Path, platforms: list[str]) -> dict[str, Path]:
    version = project_version()
    archives = {platform: dist / archive_name(version, platform) for platform in platforms}
    missing = [str(path) for path in archives.values() if not path.is_file()]
    if missing:
        raise SystemExit(f"krew.py: missing {', '.join(missing)}: run without --manifest-only")
    return archives


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--wheel", type=Path, help="podaudit's wheel (default: dist/podaudit-VERSION-py3-none-any.whl)")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="where the archives go (default: dist/)")
    parser.add_argument("--manifest", type=Path, default=REPO / "plugins" / "podaudit.yaml")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), help="repeatable; default: all")
    parser.add_argument("--python-version", action="append", choices=PYTHON_VERSIONS, help="repeatable; default: all")
    parser.add_argument("--manifest-only", action="store_true", help="write the manifest from the archives in --dist")
    parser.add_argument("--prefetch", type=Path, metavar="DIR", help="only download the dependency wheels into DIR")
    args = parser.parse_args(argv)
    version, platforms = project_version(), args.platform or sorted(PLATFORMS)
    if args.prefetch:
        prefetch(args.prefetch, platforms, args.python_version or list(PYTHON_VERSIONS))
        print(f"wrote {args.prefetch}")
        return
    args.dist.mkdir(parents=True, exist_ok=True)
    if args.manifest_only:
        archives = existing(args.dist, platforms)
    else:
        wheel = args.wheel or args.dist / f"podaudit-{version}-py3-none-any.whl"
        archives = build(wheel, args.dist, platforms, args.python_version or list(PYTHON_VERSIONS))
    args.manifest.parent.mkdir(parents=True, exist_ok=True)
    args.manifest.write_text(manifest(version, archives), encoding="utf-8")
    for platform, archive in sorted(archives.items()):
        print(f"{platform:13} {archive} {sha256(archive)}")
    print(f"wrote {args.manifest}")


if __name__ == "__main__":
    main()
