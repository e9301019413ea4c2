"""`podaudit --help` starts instantly because the command line imports nothing heavy: the
library (paramiko, rich, PyYAML, psutil and podaudit's own modules) loads inside commands."""

import subprocess
import sys

HEAVY = ("paramiko", "rich", "yaml", "psutil", "cryptography", "jsonschema")
# The exit codes: an IntEnum module that imports nothing else at run time.
LIGHT = {"podaudit.run", "podaudit.run.status"}


def test_the_command_line_module_imports_nothing_heavy() -> None:
    code = ("import sys, podaudit.cli; print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{HEAVY!r} or (m.startswith('podaudit.') and not m.startswith('podaudit.cli') and m not in {LIGHT!r}))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.split() == []


def test_help_lists_every_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "podaudit", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("analyze", "collect", "create", "delete", "explain", "find", "node", "quarantine", "restore",
                    "rules", "sweep"):
        assert f"  {command}" in proc.stdout
