"""Bring a lab scenario up for a test module and always take it down."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LAB = Path(__file__).resolve().parent.parent / "scripts" / "lab"


def why_no_lab() -> str | None:
    """Why the SSH lab cannot run here, or None."""
    import os
    import shutil

    if os.geteuid() != 0:
        return "the SSH lab needs root (namespaces, overlay mounts, port 22)"
    for tool in ("unshare", "ssh", "ssh-keygen", "cc", "sudo", "/usr/sbin/sshd"):
        if shutil.which(tool) is None:
            return f"the SSH lab needs {tool} (apt-get install openssh-server sudo gcc)"
    return None


@contextmanager
def running_lab(parent: Path, scenario: str, first_address: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Labs that may run at once need distinct first addresses."""
    lab = parent / scenario
    try:
        up = subprocess.run([str(LAB), "up", scenario, "--dir", str(lab), "--first-address", first_address],
                            capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        yield lab, json.loads((lab / "state.json").read_text())
    finally:
        subprocess.run([str(LAB), "down", "--dir", str(lab)], capture_output=True, timeout=120)
