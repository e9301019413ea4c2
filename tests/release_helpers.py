"""What the release tests share: the wheel and sdist built once per session, and a wheelhouse
of their dependencies from the package registry (as CI's pip install gets them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
# What the sdist is made of (pyproject.toml's package data is inside podaudit/).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "podaudit")
_BUILT: dict[str, dict[str, Path]] = {}


def built_dist(factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"wheel": …, "sdist": …}: `python -m build --no-isolation` (the build backend comes from
    this venv, no network), run on a copy of the sources so the checkout gets no build/ or
    egg-info. build makes the sdist, then the wheel from the sdist: a file the sdist forgot
    is missing from the wheel too. Built once per session, whichever test module asks first."""
    if "dist" not in _BUILT:
        source = factory.mktemp("source")
        for name in SOURCES:
            if (REPO / name).is_dir():
                shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                shutil.copy2(REPO / name, source / name)
        out = factory.mktemp("dist")
        done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
                              capture_output=True, text=True, check=False, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
        assert len(wheels) == len(sdists) == 1, sorted(p.name for p in out.iterdir())
        _BUILT["dist"] = {"wheel": wheels[0], "sdist": sdists[0]}
    return _BUILT["dist"]


PREFETCH_HINT = ("or set PODAUDIT_WHEELHOUSE to a folder filled beforehand, with the network, by "
                 "`python scripts/krew.py --prefetch DIR --python-version X.Y` (scripts/test does)")


def pip_offline() -> dict[str, str]:
    """The environment that makes pip take wheels from PODAUDIT_WHEELHOUSE alone, when set."""
    house = os.environ.get("PODAUDIT_WHEELHOUSE")
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": house} if house else {}


def wheelhouse_for(wheel: Path, factory: pytest.TempPathFactory) -> Path:
    """A folder with every wheel ``wheel`` depends on for this machine's Python, and pip (pipx
    upgrades its shared pip from there): PODAUDIT_WHEELHOUSE if set (the tests run in a network
    namespace of their own), else downloaded from the package registry, as CI's pip install
    does. Fails with one clear line when neither can be had."""
    if "wheelhouse" not in _BUILT:
        house = factory.mktemp("wheelhouse")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
                               "--only-binary=:all:", "--dest", str(house), str(wheel), "pip"],
                              capture_output=True, text=True, check=False, timeout=300,
                              env={**os.environ, **pip_offline()})
        if done.returncode:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            pytest.fail(f"no wheels for podaudit's dependencies: pip download: {last}; run where the package "
                        f"registry is reachable, {PREFETCH_HINT}", pytrace=False)
        _BUILT["wheelhouse"] = house
    return _BUILT["wheelhouse"]
