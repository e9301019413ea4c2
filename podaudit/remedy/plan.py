"""Plans: what will change on which node, why, and the exact commands; data first.

A plan is built from what podaudit read (the node's view), shown to people or as JSON, and
the very same object is applied (``remedy.apply``). Nothing here touches a node.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal

from podaudit.kubelet.resolve import NodeView, StaticPod
from podaudit.model import FileRecord
from podaudit.remedy.script import (
    CHANGED_AS_MOVED,
    OUTCOME,
    QUARANTINE_DIR,
    Result,
    Unresolvable,
    Where,
    at_root,
    encode,
)
from podaudit.shell import display, quote, speakable

Action = Literal["delete", "restore", "create"]
JOURNAL = "journal.json"
ID_PATTERN = re.compile(r"\d{8}T\d{6}Z-[a-z0-9.-]{1,200}-[0-9a-f]{6}")
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PlannedFile:
    index: int  # its name in the quarantine folder (files/<index>)
    path: str  # on the node
    kind: Literal["file", "link"]
    sha256: str | None  # of what the kubelet reads (through a link: the target's bytes)
    link: str | None  # a link's own text
    mode: int | None
    uid: int | None
    gid: int | None
    size: int | None
    destination: str
    why: str

    def journal(self) -> dict[str, Any]:
        return {"index": self.index, "path": self.path, "kind": self.kind, "sha256": self.sha256,
                "link": self.link, "mode": f"{self.mode:04o}" if self.mode is not None else None,
                "uid": self.uid, "gid": self.gid, "size": self.size}


@dataclass
class Plan:
    action: Action
    node: str
    namespace: str
    name: str
    mirror_name: str
    files: list[PlannedFile]
    quarantine_id: str | None = None
    commands: list[str] = field(default_factory=list)  # for people: what the script does
    script: bytes = b""
    warnings: list[str] = field(default_factory=list)
    refused: str | None = None  # why it cannot be applied at all
    manifest: bytes | None = None  # create: the file written
    # Filled in when applied.
    applied: bool = False
    results: list[Result] = field(default_factory=list)
    waited: str | None = None


def new_id(mirror: str, now: datetime | None = None) -> str:
    """A quarantine ID: UTC time, the mirror pod's name (made safe), 6 random hex digits."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^a-z0-9.-]+", "-", mirror.lower()).strip("-.")[:200] or "pod"
    return f"{stamp}-{safe}-{secrets.token_hex(3)}"


def quarantine_path(quarantine_id: str) -> str:
    return posixpath.join(QUARANTINE_DIR, quarantine_id)


def _planned(index: int, path: str, record: FileRecord | None, destination: str, why: str) -> PlannedFile:
    record = record or FileRecord(path, "missing")
    digest = hashlib.sha256(record.data).hexdigest() if record.data is not None else None
    kind: Literal["file", "link"] = "link" if record.link is not None else "file"
    return PlannedFile(index, path, kind, digest, record.link, record.mode, record.uid, record.gid, record.size,
                       destination, why)


def delete_plan(view: NodeView, pod: StaticPod, root: str, version: str, now: datetime | None = None) -> Plan:
    """Move every file that defines ``pod`` out of the watched directory, into a fresh
    quarantine folder on the node, with a journal that ``restore`` reads."""
    where = Where.of(root)
    quarantine_id = new_id(pod.mirror_name, now)
    problems: list[str] = []
    folder = posixpath.join(_resolve(where.folder, QUARANTINE_DIR, problems), quarantine_id)
    paths = [(pod.manifest_path, "the kubelet runs the pod from it"),
             *((p, "defines the same pod (it sorts earlier and loses); left behind, it would bring the pod back")
               for p in pod.shadowed_paths)]
    files = []
    for i, (path, why) in enumerate(paths, start=1):
        at = _resolve(where.entry, path, problems)
        files.append(_planned(i, at, view.records.get(path), posixpath.join(folder, "files", str(i)),
                              why if at == path else f"{why}; {path} is {at} inside --root"))
    plan = Plan("delete", view.node_name.value, pod.namespace, pod.name, pod.mirror_name, files, quarantine_id)
    if view.incomplete:
        plan.refused = ("podaudit could not read everything in the directory, so another file may define this pod "
                        "too; run as root (or --sudo) and plan again")
    unhashed = [f.path for f in files if f.sha256 is None]
    if unhashed:
        plan.refused = f"could not read {', '.join(unhashed)}: nothing to check it against before moving it"
    if problems:
        plan.refused = problems[0]  # and no script names such a path, not even one never run
        return plan
    plan.script = encode(_delete_script(plan, where, folder, _journal(plan, version, now)))
    plan.commands = _delete_commands(plan, folder)
    return plan


def _resolve(how: Callable[[str], str], path: str, problems: list[str]) -> str:
    """``how(path)`` (a ``Where`` method); the path as given, and the reason kept, when it fails."""
    try:
        return how(path)
    except Unresolvable as exc:
        problems.append(str(exc))
        return path


def _journal(plan: Plan, version: str, now: datetime | None) -> dict[str, Any]:
    return {
        "format": 1, "podaudit": version, "id": plan.quarantine_id, "node": plan.node,
        "pod": {"namespace": plan.namespace, "name": plan.name, "mirror_name": plan.mirror_name},
        "time": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "files": [f.journal() for f in plan.files],
    }


def _journal_function(journal: dict[str, Any]) -> list[str]:
    """``journal`` prints the journal; each file's sha256, size and link come from $Hn, $Sn and
    $Ln (JSON values), so a file that changed between its check and its move is journaled as it
    was moved, and restore puts back what the quarantine really holds."""
    token = secrets.token_hex(8)
    values: dict[str, str] = {}
    files = [dict(entry) for entry in journal["files"]]
    for entry in files:
        for key, letter in (("sha256", "H"), ("size", "S"), ("link", "L")):
            name = f"{letter}{entry['index']}"
            values[name], entry[key] = json.dumps(entry[key]), f"{token}{name}"
    pieces = re.split(f'"{token}([HSL][0-9]+)"', json.dumps({**journal, "files": files}, sort_keys=True))
    if len(pieces) != 2 * len(values) + 1:  # a file name holding the random token: never in practice
        raise ValueError("the journal could not be laid out; plan again")
    words = [quote(piece) if i % 2 == 0 else f'"${piece}"' for i, piece in enumerate(pieces)]
    return [*(f"{name}={quote(value)}" for name, value in values.items()),
            f"journal() {{ printf '%s' {' '.join(words)}; printf '\\n'; }}"]


# A link's text as a JSON string that json.loads and surrogateescape turn back into its exact
# bytes: every byte escaped, \u00XX below 0x80 and \udcXX (surrogateescape's form) above.
_JSON_LINK = r"""jlink() { t=$(readlink -- "$1"; echo x); printf '"'; printf '%s' "${t%?x}" | od -An -v -tx1 |
  tr -s ' \n' '\n\n' | while read -r x; do case $x in '') ;; [0-7]?) printf '\\u00%s' "$x" ;;
  *) printf '\\udc%s' "$x" ;; esac; done; printf '"'; }"""


def _delete_script(plan: Plan, where: Where, folder: str, journal: dict[str, Any]) -> str:
    at_journal, again = at_root(posixpath.join(folder, JOURNAL)), at_root(posixpath.join(folder, JOURNAL + ".new"))
    lines = [where.start(), _JSON_LINK, *_journal_function(journal),
             f"mkdir -p -- {at_root(posixpath.dirname(folder))} && mkdir -- {at_root(folder)} "
             f"{at_root(folder + '/files')} || "
             f"{{ say 0 failed {quote('cannot create the quarantine folder ' + folder)}; exit 0; }}",
             f"journal > {at_journal} || {{ say 0 failed 'cannot write the journal'; exit 0; }}",
             f"OUTCOME={at_root(folder + '/' + OUTCOME)}", "REJOURNAL="]
    for f in plan.files:
        lines.append(_move_function(f))
    lines += [f"move{f.index}" for f in plan.files]
    # A file that changed as it was moved is held as it was moved: the journal says so.
    lines.append(f'[ -z "$REJOURNAL" ] || {{ journal > {again} && mv -f -- {again} {at_journal}; }} || '
                 "say 0 failed 'cannot write the journal again: a file changed as it was moved, and the journal "
                 "still gives its planned sha256'")
    # Nothing moved (every file changed or gone): no quarantine to keep, nothing to restore.
    lines.append(f"[ -n \"$(ls -A -- {at_root(folder + '/files')})\" ] || rm -rf -- {at_root(folder)}")
    return "\n".join(lines) + "\n"


def _move_function(f: PlannedFile) -> str:
    """Check the file is still what was planned, move it, check it is gone, and check what
    arrived: a file that changed between the check and the move is held as it arrived."""
    n, src, dst = f.index, at_root(f.path), at_root(f.destination)
    held = (f"  record {n} moved; REJOURNAL=1\n"
            f'  tell {n} changed {quote(CHANGED_AS_MOVED + ": the quarantine holds it as moved,")}')
    if f.kind == "link":
        check = (f'[ -L {src} ] || {{ say {n} gone "no longer a link"; return; }}\n'
                 f'  linkis {src} {quote(f.link or "")} || {{ say {n} changed "the link points elsewhere now"; '
                 "return; }")
        arrived = (f'  if ! linkis {dst} {quote(f.link or "")}; then L{n}=$(jlink {dst}); H{n}=null\n'
                   f'{held} "a link to $(linkto {dst})"; return; fi\n  say {n} moved link')
    else:
        check = (f'[ -f {src} ] && [ ! -L {src} ] || {{ say {n} gone "no longer a regular file"; return; }}\n'
                 f'  [ "$(hash {src})" = {quote(f.sha256 or "")} ] || {{ say {n} changed "its content changed since '
                 'the plan"; return; }')
        arrived = (f"  h=$(hash {dst}); m=$(mode {dst})\n"
                   f'  if [ "$h" != {quote(f.sha256 or "")} ]; then z=$(wc -c < {dst} | tr -dc 0-9)\n'
                   f'    S{n}=${{z:-null}}; H{n}="\\"$h\\""\n{held} "sha256 $h, mode $m"; return; fi\n'
                   f'  say {n} moved "$h" "$m"')
    return (f"move{n}() {{\n  {check}\n"
            f'  mv -- {src} {dst} || {{ say {n} failed "mv failed"; return; }}\n'
            f'  if [ -e {src} ] || [ -L {src} ]; then say {n} failed "still there after mv"; return; fi\n'
            f"{arrived}\n}}")


def _delete_commands(plan: Plan, folder: str) -> list[str]:
    lines = [f"mkdir -p -m 700 {display(folder)}/files",
             f"# writes {folder}/{JOURNAL}: each file's original path, sha256, mode, owner; the time; "
             "podaudit's version"]
    for f in plan.files:
        if f.kind == "link":
            lines.append(f"test \"$(readlink -- {display(f.path)})\" = {display(f.link or '')}"
                         "   # still the planned link, else it is left alone")
        else:
            lines.append(f"test \"$(sha256sum < {display(f.path)})\" = '{f.sha256}  -'"
                         "   # unchanged since this plan, else it is left alone")
        lines.append(f"mv -- {display(f.path)} {display(f.destination)}")
    return lines


def restore_plan(journal: dict[str, Any], held: set[int], root: str) -> Plan:
    """Put the held files of a quarantine back where they were, byte for byte, with their mode
    and owner; a different file now at an original path is never overwritten."""
    where = Where.of(root)
    pod = journal.get("pod") if isinstance(journal.get("pod"), dict) else {}
    assert isinstance(pod, dict)
    quarantine_id = str(journal.get("id"))
    problems: list[str] = []
    folder = posixpath.join(_resolve(where.folder, QUARANTINE_DIR, problems), quarantine_id)
    entries = journal.get("files") if isinstance(journal.get("files"), list) else []
    assert isinstance(entries, list)
    files = [f for entry in entries if isinstance(entry, dict) and (f := _from_journal(entry, folder)) is not None]
    files = [replace(f, destination=_resolve(where.entry, f.path, problems)) for f in files if f.index in held]
    plan = Plan("restore", str(journal.get("node")), str(pod.get("namespace")), str(pod.get("name")),
                str(pod.get("mirror_name")), files, quarantine_id)
    if not plan.files:
        plan.refused = f"quarantine {quarantine_id} holds no files any more (restored already?)"
    if problems:
        plan.refused = problems[0]
        return plan
    plan.script = encode(_restore_script(plan, where, folder))
    plan.commands = _restore_commands(plan, folder)
    return plan


def _from_journal(entry: dict[str, Any], folder: str) -> PlannedFile | None:
    index, path, link, digest = entry.get("index"), entry.get("path"), entry.get("link"), entry.get("sha256")
    # The journal is read from the node: a path must be plain (no '.', '..', '//') and real
    # bytes, or a restore could be sent anywhere; a link text must be bytes a shell can take.
    if not isinstance(index, int) or isinstance(index, bool) or index < 1 or not isinstance(path, str) \
            or not path.startswith("/") or posixpath.normpath(path) != path or path == "/" \
            or not speakable(path) or (isinstance(link, str) and not speakable(link)):
        return None
    kind: Literal["file", "link"] = "link" if entry.get("kind") == "link" else "file"
    mode = entry.get("mode")

    def number(key: str) -> int | None:
        value = entry.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return PlannedFile(index, path, kind, digest if isinstance(digest, str) and SHA256.fullmatch(digest) else None,
                       link if isinstance(link, str) else None,
                       # Permission bits only: a set-ID or sticky mode from the journal would make
                       # root's chmod plant a set-user-ID root program of the node's choosing.
                       int(mode, 8) if isinstance(mode, str) and re.fullmatch(r"0?[0-7]{1,3}", mode) else None,
                       number("uid"), number("gid"), number("size"), path,
                       f"held in {folder}/files/{index}")


def _restore_script(plan: Plan, where: Where, folder: str) -> str:
    lines = [where.start()]
    for f in plan.files:
        lines.append(_restore_function(f, folder))
    lines += [f"back{f.index}" for f in plan.files]
    return "\n".join(lines) + "\n"


def _restore_function(f: PlannedFile, folder: str) -> str:
    """Back to ``f.destination``: the journal's path, resolved as ``Where`` does."""
    n = f.index
    src, dst = at_root(f"{folder}/files/{n}"), at_root(f.destination)
    parent = posixpath.dirname(f.destination)
    # A random temporary name: the quarantine ID is known to whoever holds the tree or the
    # node, and cp writes through a link planted at a name it can guess.
    tmp = at_root(posixpath.join(parent, f".podaudit-restore-{n}-{secrets.token_hex(8)}"))
    # "same" only when the bytes and the recorded mode and owner all match: identical bytes
    # left world-writable by someone else are not the file that was put aside.
    same = (f'[ -f {dst} ] && [ ! -L {dst} ] && [ "$(hash {dst})" = "$(hash {src})" ] && '
            f'[ "$(mode {dst})" = {quote(_recorded(f))} ] && '
            f'{{ rm -f -- {src}; say {n} same "an identical file is already there"; return; }}')
    if f.kind == "file":
        # Prepared as a dot-file (the kubelet skips those) with the recorded owner and mode,
        # then hard-linked into place: atomic, whole, and never over a file that appeared.
        owner = "" if f.uid is None or f.gid is None or f.mode is None else (
            f"  chown {f.uid}:{f.gid} {tmp} && chmod {f.mode:o} {tmp} || "
            f'{{ rm -f -- {tmp}; say {n} failed "cannot set owner and mode"; return; }}\n')
        place = (f'  {{ [ ! -e {tmp} ] && [ ! -L {tmp} ]; }} || {{ say {n} failed "its temporary name is taken"; '
                 'return; }\n'
                 f'  cp -pP -- {src} {tmp} || {{ rm -f -- {tmp}; say {n} failed "copy failed"; return; }}\n{owner}'
                 f"  ln -- {tmp} {dst}")
        done = f'say {n} restored "$(hash {dst})" "$(mode {dst})"'
    else:
        place, done = f"  ln -s -- {quote(f.link or '')} {dst}", f"say {n} restored link"  # made again: atomic too
    # The held copy must still be what the journal says was put aside (a damaged or altered
    # quarantine is not put back as root).
    held = (f'  linkis {src} {quote(f.link or "")} || {{ say {n} changed "the held link is not the one put aside"; '
            'return; }\n' if f.kind == "link" else
            f'  [ -f {src} ] && [ ! -L {src} ] && [ "$(hash {src})" = {quote(f.sha256 or "")} ] || {{ say {n} '
            'changed "the held copy is not the file put aside (sha256 differs)"; return; }\n')
    return (f"back{n}() {{\n"
            f'  [ -e {src} ] || [ -L {src} ] || {{ say {n} absent "not in the quarantine"; return; }}\n'
            + held +
            f"  if [ -e {dst} ] || [ -L {dst} ]; then\n    {same}\n"
            f'    say {n} conflict "a different file is at the original path; left as it is"; return\n  fi\n'
            f'  [ -d {at_root(parent)} ] || {{ say {n} failed "its folder is gone"; return; }}\n'
            f'{place} || {{ rm -f -- {tmp}; say {n} conflict "a file appeared at the original path"; return; }}\n'
            f"  rm -f -- {tmp} {src}\n  {done}\n}}")


def _recorded(f: PlannedFile) -> str:
    """Mode, uid and gid as ``stat -c '%a %u %g'`` prints them."""
    return f"{f.mode:o} {f.uid} {f.gid}" if f.mode is not None else "unknown"


def _restore_commands(plan: Plan, folder: str) -> list[str]:
    lines = []
    for f in plan.files:
        held, dst = display(f"{folder}/files/{f.index}"), display(f.destination)
        lines.append(f"test ! -e {dst}   # a different file there is never overwritten")
        lines.append(f"cp -pP -- {held} {dst}   # through a dot-named temporary file, then an atomic link")
        if f.kind == "file" and f.mode is not None:
            lines.append(f"chown {f.uid}:{f.gid} {dst} && chmod {f.mode:o} {dst}")
        lines.append(f"rm -- {held}")
    return lines
