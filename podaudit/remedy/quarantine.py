"""What is held in a node's quarantine: each folder's journal and the files still there."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from podaudit.remedy.plan import ID_PATTERN, JOURNAL
from podaudit.remedy.script import OUTCOME, QUARANTINE_DIR, Where, at_root, encode
from podaudit.shell import quote

HEADER = "PODAUDIT-QUARANTINE"


@dataclass
class Held:
    quarantine_id: str
    journal: dict[str, Any] | None
    held: set[int] = field(default_factory=set)  # indices of files still in files/
    problem: str | None = None
    moved: set[int] | None = None  # indices the delete moved (None: an older folder without outcome)

    def state(self, index: int) -> str:
        """held, restored (moved, no longer held), or never moved (changed or gone at delete time)."""
        if index in self.held:
            return "held"
        return "restored" if self.moved is None or index in self.moved else "never moved"


def list_script(root: str, only: str | None = None) -> bytes:
    """Print, per quarantine folder: a header (id, journal size, held file indices), then the
    journal's bytes. Folder names are podaudit's IDs; anything else there is skipped, and so is
    a link (podaudit makes none there: under --root, one would lead out of the root). Raises
    Unresolvable when the quarantine folder cannot be followed inside --root."""
    where = Where.of(root)
    pattern = quote(only) if only is not None else "*"
    return encode(where.start() + f"""cd {at_root(where.folder(QUARANTINE_DIR))} 2>/dev/null || exit 0
for d in {pattern}; do
  [ -d "$d" ] && [ ! -L "$d" ] && [ -f "$d/{JOURNAL}" ] && [ ! -L "$d/{JOURNAL}" ] || continue
  case "$d" in *[!a-zA-Z0-9.-]*) continue ;; esac
  held=
  [ -L "$d/files" ] || held=$(ls -- "$d/files" 2>/dev/null | sed -n '/^[0-9][0-9]*$/p' | tr '\\n' ',')
  moved=-
  [ -f "$d/{OUTCOME}" ] && [ ! -L "$d/{OUTCOME}" ] &&
    moved=$(sed -n 's/^\\([0-9]*\\) moved$/\\1/p' "$d/{OUTCOME}" | tr '\\n' ',')
  printf '{HEADER} %s %s %s %s\\n' "$d" "$(wc -c < "$d/{JOURNAL}" | tr -d ' ')" "${{held:--}}" "${{moved:-,}}"
  cat "$d/{JOURNAL}"
done
""")


def parse_list(out: bytes) -> list[Held]:
    found: list[Held] = []
    data = out
    marker = HEADER.encode() + b" "
    at = data.find(marker)
    while at >= 0:
        end = data.find(b"\n", at)
        if end < 0:
            break
        words = data[at:end].decode("ascii", "replace").split(" ")
        if len(words) != 5 or not _number(words[2]):
            at = data.find(marker, end + 1)  # a header podaudit did not write: skip it
            continue
        size = int(words[2])
        body = data[end + 1:end + 1 + size]
        found.append(_held(words[1], body, words[3], words[4]))
        at = data.find(marker, end + 1 + size)
    return found


def _number(word: str) -> bool:
    """A size or an index as the list script prints it: a few ASCII digits (int() refuses more
    than 4300, and no journal or file count comes near 18)."""
    return 0 < len(word) <= 18 and word.isascii() and word.isdigit()


def _held(quarantine_id: str, body: bytes, indices: str, moved_indices: str) -> Held:
    held = {int(i) for i in indices.split(",") if _number(i)}
    moved = None if moved_indices == "-" else {int(i) for i in moved_indices.split(",") if _number(i)}
    if not ID_PATTERN.fullmatch(quarantine_id):
        return Held(quarantine_id, None, held, "not a podaudit quarantine ID", moved)
    try:
        journal = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Held(quarantine_id, None, held, "its journal is not readable JSON", moved)
    if not isinstance(journal, dict) or journal.get("id") != quarantine_id:
        return Held(quarantine_id, None, held, "its journal names another quarantine", moved)
    return Held(quarantine_id, journal, held, None, moved)
