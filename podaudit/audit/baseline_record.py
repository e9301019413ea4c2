"""Recording a baseline from a known-good run: ``podaudit sweep --write-baseline FILE``.

The YAML written is the format baseline.py reads (docs/baselines.md), with a comment on
every choice a reviewer should check: nodes read incompletely, pods seen on some nodes of a
role only. Node and pod names come from the nodes, so every value is a quoted scalar and
every comment is one printable line. With ``--accept-findings`` the run's findings become
suppressions too (baseline_accept.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from podaudit.audit.baseline import API_VERSION, KIND, ROLES, manifest_sha256
from podaudit.audit.context import NodeContext
from podaudit.errors import InputError

DEFAULT_REASON = "recorded by podaudit sweep --write-baseline"


def build_baseline(contexts: list[NodeContext], reason: str = DEFAULT_REASON, suppress: Sequence[str] = ()) -> str:
    """A baseline (YAML text) from a known-good run: per role, the static pods seen on every
    node of that role, pinned by sha256 where the manifest is byte-identical on all of them,
    and the role's nodes. A role with no node in the run is left out (no expectation)."""
    if not reason.strip():
        raise InputError("a recorded baseline needs a reason for its entries")
    lines = [
        "# podaudit baseline: the static pods each node role is expected to run.",
        "# Review every entry and give it a real reason before checking this file in (docs/baselines.md).",
        f"apiVersion: {API_VERSION}",
        f"kind: {KIND}",
    ]
    body: list[str] = []
    for role in ROLES:
        members = [c for c in contexts if c.role == role]
        if members:
            body += _record_role(role, members, reason.strip())
    lines += ["roles:", *body] if body else ["roles: {}"]
    lines += ["suppress:", *suppress] if suppress else ["suppress: []"]
    return "\n".join(lines) + "\n"


def _record_role(role: str, members: list[NodeContext], reason: str) -> list[str]:
    # A node whose static pod path could not be read completely would empty the intersection.
    complete = [c for c in members if not c.view.incomplete] or members
    used = {id(c) for c in complete}
    seen = [(c, {(p.namespace, p.name): p for p in c.view.static_pods}) for c in complete]
    common = set(seen[0][1]).intersection(*(pods for _, pods in seen[1:]))
    lines = [f"  {role}:", f"    nodes: [{', '.join(quoted(n) for n in sorted({c.node for c in members}))}]"]
    skipped = sorted(c.node for c in members if id(c) not in used)
    if skipped:
        lines.append(f"    # read incompletely, so not used to choose the static pods: {plain(', '.join(skipped))}")
    for namespace, name in sorted(set().union(*(pods for _, pods in seen)) - common):
        where = ", ".join(sorted(c.node for c, pods in seen if (namespace, name) in pods))
        lines.append(f"    # left out, seen on some {role} nodes only: {plain(f'{namespace}/{name} on {where}')}")
    if not common:
        return [*lines, "    static_pods: []"]
    lines.append("    static_pods:")
    for namespace, name in sorted(common):
        hashes = {manifest_sha256(c.view, pods[(namespace, name)]) for c, pods in seen}
        pinned = next(iter(hashes)) if len(hashes) == 1 else None
        pin = f", sha256: {pinned}" if pinned else ""
        lines.append(f"      - {{namespace: {quoted(namespace)}, name: {quoted(name)}{pin}, reason: {quoted(reason)}}}")
    return lines


def quoted(text: str) -> str:
    """A double-quoted YAML scalar that reads back as exactly ``text``: printable ASCII as is,
    everything else as a YAML escape (``\\xNN``, ``\\uNNNN``, ``\\UNNNNNNNN``; not JSON's surrogate
    pairs, which YAML reads as two characters), so lone surrogates of undecodable names survive."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\\\"":
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def plain(text: str, limit: int = 200) -> str:
    """Text safe inside a YAML comment (one line, at most ``limit`` characters)."""
    line = "".join(ch if ch.isprintable() else "?" for ch in text)
    return line if len(line) <= limit else line[:limit - 3] + "..."
