"""The POSIX sh scripts that change a node, and the lines they answer with.

Each plan becomes one script run as root on the node (``sh -s`` locally or over SSH, or in
a kubectl debug pod), so a change is one round trip. File names are untrusted: every value
reaches the script through ``shlex.quote`` (the exact bytes, newlines included, inside
single quotes), never through an unquoted expansion. ``R`` is the root the node's paths live
under: empty on a live node, the directory given with ``--root`` otherwise.

Every script prints ``PODAUDIT-GATHER remedy`` first (the transports take that as "the
script ran") and then one ``PODAUDIT-RESULT <index> <status> [detail]`` line per file; with
``OUTCOME`` set, each status is also appended to that file (a quarantine's ``outcome``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from podaudit.collect.over_ssh import MARKER

RESULT = "PODAUDIT-RESULT"
QUARANTINE_DIR = "/var/lib/podaudit/quarantine"
OUTCOME = "outcome"  # in a quarantine folder: "<index> <status>" per file, as the delete found it

# Shell helpers every script starts with. hash reads through stdin so no name is printed;
# say keeps a detail on one line whatever it holds.
PRELUDE = f"""set -u
umask 077
printf '%s\\n' {shlex.quote(MARKER.decode().strip())}' remedy'
hash() {{ h=$(sha256sum < "$1") || return 1; printf '%s' "${{h%% *}}"; }}
mode() {{ stat -c '%a %u %g' -- "$1"; }}
say() {{ n=$1; s=$2; shift 2; [ -z "${{OUTCOME:-}}" ] || printf '%s %s\\n' "$n" "$s" >> "$OUTCOME"
  printf '{RESULT} %s %s %s\\n' "$n" "$s" "$(printf '%s' "$*" | tr '\\n' ' ')"; }}
linkto() {{ t=$(readlink -- "$1"; echo x); printf '%s' "${{t%?x}}"; }}
"""


def q(value: str) -> str:
    """A value for the script: quoted, exact bytes (undecodable ones kept by surrogateescape)."""
    return shlex.quote(value)


def at_root(path: str) -> str:
    """A node path as the script names it: under "$R"."""
    return f'"$R"{q(path)}'


def start(root: str) -> str:
    import os

    absolute = os.path.abspath(root)  # never a relative root: "-x" would read as an option
    return PRELUDE + f"R={q('' if absolute == '/' else absolute)}\n"


def encode(script: str) -> bytes:
    return script.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Result:
    index: int  # 0 for the plan as a whole
    status: str
    detail: str


def parse_results(out: bytes) -> list[Result]:
    """The result lines of a remedy script's output (anything else is ignored)."""
    found = []
    for raw in out.decode("utf-8", "surrogateescape").splitlines():
        words = raw.split(" ", 3)
        if len(words) >= 3 and words[0] == RESULT and words[1].lstrip("-").isdigit():
            found.append(Result(int(words[1]), words[2], words[3] if len(words) > 3 else ""))
    return found
