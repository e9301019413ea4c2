"""`podaudit completion bash|zsh|fish`: click's completion script, asked by the real shells.

Each script calls the installed ``podaudit`` back with ``_PODAUDIT_COMPLETE`` set (click's
shell_completion protocol), so these run the console script this venv installed, on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
PODAUDIT = BIN / "podaudit"
pytestmark = pytest.mark.skipif(not PODAUDIT.exists(), reason="podaudit is not installed in this venv")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {"HOME": str(tmp_path), "PATH": f"{BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "dumb"}
    if "PYTHONPATH" in os.environ:  # a test run from another copy of the sources
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _script(shell: str, tmp_path: Path) -> str:
    done = subprocess.run([str(PODAUDIT), "completion", shell], capture_output=True, text=True, env=_env(tmp_path),
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("shell", "mode"), [("bash", "bash_complete"), ("zsh", "zsh_complete"),
                                             ("fish", "fish_complete")])
def test_each_script_calls_podaudit_back_with_its_complete_var(shell: str, mode: str, tmp_path: Path) -> None:
    assert f"_PODAUDIT_COMPLETE={mode}" in _script(shell, tmp_path)


BASH_ASK = """
eval "$(podaudit completion bash)"
complete -p podaudit
ask() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _podaudit_completion podaudit;
        printf '%s\\n' "--" "${COMPREPLY[@]}"; }
ask podaudit sw
ask podaudit sweep --inv
ask podaudit completion ""
"""


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    """In a real bash: the script registers a completion function for podaudit, which
    completes `podaudit sw` to sweep, an option of sweep, and completion's shells."""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_ASK], capture_output=True, text=True,
                          env=_env(tmp_path), check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    registered, *answers = done.stdout.split("--\n")
    assert "_podaudit_completion" in registered and registered.rstrip().endswith(" podaudit")
    assert answers[0].split() == ["sweep"]
    assert answers[1].split() == ["--inventory"]
    assert answers[2].split() == ["bash", "zsh", "fish"]


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed (apt-get install fish)")
def test_fish_completes_commands_and_options(tmp_path: Path) -> None:
    """fish's own `complete -C` runs the completion as a user's tab would."""
    script = ("podaudit completion fish | source; "
              "echo ==; complete -C 'podaudit sw'; echo ==; complete -C 'podaudit sweep --inv'")
    done = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True, env=_env(tmp_path),
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    _, commands, options = done.stdout.split("==\n")
    assert [line.split("\t")[0] for line in commands.splitlines()] == ["sweep"]
    assert [line.split("\t")[0] for line in options.splitlines()] == ["--inventory"]


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed (apt-get install zsh)")
def test_zsh_registers_the_completion_function(tmp_path: Path) -> None:
    """zsh completes only inside its line editor; what can be checked from outside is that the
    script loads after compinit and binds podaudit to its function, and that the function's
    call back answers in zsh's format (type, value, help per candidate)."""
    script = (f"autoload -U compinit && compinit -u -d {tmp_path}/zcompdump; "
              'eval "$(podaudit completion zsh)"; print -r -- $_comps[podaudit]')
    done = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, env=_env(tmp_path),
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_podaudit_completion"
    env = {**_env(tmp_path), "_PODAUDIT_COMPLETE": "zsh_complete", "COMP_WORDS": "podaudit sw", "COMP_CWORD": "1"}
    answer = subprocess.run([str(PODAUDIT)], capture_output=True, text=True, env=env, check=False, timeout=60)
    assert answer.stdout.splitlines()[:2] == ["plain", "sweep"]


def test_an_unknown_shell_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([str(PODAUDIT), "completion", "tcsh"], capture_output=True, text=True, env=_env(tmp_path),
                          check=False, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "tcsh" in done.stderr and "bash" in done.stderr
