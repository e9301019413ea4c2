"""The POSIX sh scripts that change a node, the paths they name, and the lines they answer with.

Each plan becomes one script run as root on the node (``sh -s`` locally or over SSH, or in
a kubectl debug pod), so a change is one round trip. File names are untrusted: every value
reaches the script through ``podaudit.shell.quote`` (the exact bytes, newlines included,
inside single quotes), never through an unquoted expansion. ``R`` is the root the node's
paths live under: empty on a live node, the directory given with ``--root`` otherwise.

Under ``--root`` this machine's kernel would read ``"$R"/etc/../../x`` or a link in the tree
as leading out of the root; so every path a script names is first resolved inside the root as
``chroot`` would (``Where``), and the script acts only on that path.

Every script prints ``PODAUDIT-GATHER remedy`` first (the transports take that as "the
script ran") and then one ``PODAUDIT-RESULT <index> <status> [detail]`` line per file; with
``OUTCOME`` set, ``say`` also appends ``<index> <status>`` to that file (a quarantine's
``outcome``: where each file ended up).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

from podaudit.shell import quote, speakable
from podaudit.transport import MARKER

RESULT = "PODAUDIT-RESULT"
QUARANTINE_DIR = "/var/lib/podaudit/quarantine"
OUTCOME = "outcome"  # in a quarantine folder: "<index> <status>" per file, as the delete left it
# The detail of a "changed" file that moved all the same (it changed between its check and mv).
CHANGED_AS_MOVED = "it changed between its check and the move"

# Shell helpers every script starts with. hash reads through stdin so no name is printed;
# tell keeps a detail on one line whatever it holds; record notes where a file ended up;
# linkis compares a link's exact text (no command substitution to eat a trailing newline).
PRELUDE = f"""set -u
umask 077
printf '%s\\n' {quote(MARKER.decode().strip())}' remedy'
hash() {{ h=$(sha256sum < "$1") || return 1; printf '%s' "${{h%% *}}"; }}
mode() {{ stat -c '%a %u %g' -- "$1"; }}
record() {{ [ -z "${{OUTCOME:-}}" ] || printf '%s %s\\n' "$1" "$2" >> "$OUTCOME"; }}
tell() {{ n=$1; s=$2; shift 2; printf '{RESULT} %s %s %s\\n' "$n" "$s" "$(printf '%s' "$*" | tr '\\n' ' ')"; }}
say() {{ record "$1" "$2"; tell "$@"; }}
linkto() {{ t=$(readlink -- "$1"; echo x); printf '%s' "${{t%?x}}"; }}
linkis() {{ [ -L "$1" ] && t=$(readlink -- "$1"; echo x) && [ "${{t%?x}}" = "$2" ]; }}
"""


class Unresolvable(Exception):
    """A node path that cannot be followed inside --root: one line for people."""


@dataclass(frozen=True)
class Where:
    """Where the node's paths live from the machine that runs the script.

    ``root`` is "/" on a live node and for a node reached over SSH or kubectl debug: the
    node's kernel follows the node's own links, which is right. Under ``--root DIR`` a path
    is resolved inside DIR first, with chroot semantics (``RootFS.resolve``: ".." stops at the
    root, an absolute link means DIR/target), so no script ever names a path that this
    machine's kernel would lead out of DIR.
    """

    root: str

    @classmethod
    def of(cls, root: str) -> Where:
        return cls(os.path.abspath(root))  # never a relative root: "-x" would read as an option

    @property
    def live(self) -> bool:
        return self.root == "/"

    def folder(self, path: str) -> str:
        """The node path of a folder the script works in, its links followed (inside the root)."""
        from podaudit.collect.rootfs import RootFS, describe_oserror

        self._plain(path)
        if self.live:
            return path
        try:
            return RootFS(self.root).resolve(path).node_path
        except (OSError, ValueError) as exc:
            raise Unresolvable(f"{path} cannot be followed inside --root {self.root} ({describe_oserror(exc)}); "
                               "nothing was changed") from None

    def entry(self, path: str) -> str:
        """The node path of a file the script acts on itself (moves, links, writes): its folder
        resolved, its own name kept, so a link there is moved or refused, never followed."""
        self._plain(path)
        parent, name = posixpath.split(path)
        if name in ("", ".", ".."):
            raise Unresolvable(f"{path} does not name a file; nothing was changed")
        return posixpath.join(self.folder(parent or "/"), name)

    def start(self) -> str:
        """The prelude and ``R``, the host path the resolved node paths are under."""
        return PRELUDE + f"R={quote('' if self.live else self.root)}\n"

    @staticmethod
    def _plain(path: str) -> None:
        if not path.startswith("/") or not speakable(path):
            raise Unresolvable(f"{path!r} is not an absolute path on the node; nothing was changed")


def at_root(path: str) -> str:
    """A node path, already resolved by ``Where``, as the script names it: under "$R"."""
    return f'"$R"{quote(path)}'


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
