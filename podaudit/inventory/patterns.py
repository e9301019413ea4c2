"""``--limit PATTERN``: Ansible's host patterns (lib/ansible/inventory/manager.py).

``split_host_pattern``: patterns separated by ``,`` (or ``:`` when there is no comma and the
whole is not one address); ``order_patterns``: the plain ones first (their union), then each
``&x`` intersects, then each ``!x`` removes; only ``&``/``!`` ones start from ``all``.
``_enumerate_matches``: a pattern names groups (all their hosts, children's included) and,
when it names no group or is a glob (``*``, ``?``, ``[``, ``.``) or a ``~regex``, hosts.
Where Ansible warns of a pattern that matches nothing and goes on, podaudit stops: a typo
in --limit would otherwise sweep less than asked, silently.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re

from podaudit.errors import InputError

_PIECES = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_patterns(text: str) -> list[str]:
    """``a,b`` / ``a:b`` into ``[a, b]``; an IPv6 address or a ``[1:3]`` range stays whole."""
    if "," in text:
        pieces = text.split(",")
    elif _one_address(text):
        pieces = [text]
    else:
        pieces = _PIECES.findall(text)
    return [p.strip() for p in pieces if p.strip()]


def _one_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip().lstrip("!&").strip("[]"))
    except ValueError:
        return False
    return True


def ordered(patterns: list[str]) -> list[str]:
    """manager.py ``order_patterns``: plain, then ``&``, then ``!``; ``all`` when no plain one."""
    plain = [p for p in patterns if p[0] not in "!&"]
    return (plain or ["all"]) + [p for p in patterns if p[0] == "&"] + [p for p in patterns if p[0] == "!"]


def select(text: str, hosts: list[str], groups: dict[str, list[str]], where: str) -> list[str]:
    """The hosts ``text`` selects, in inventory order. ``groups``: each group's hosts (its
    children's included). A pattern matching nothing is an InputError naming it."""
    patterns = split_patterns(text)
    if not patterns:
        raise InputError("--limit is empty; give a host or group name, or a pattern like 'workers:!node03'")
    chosen: list[str] = []
    for pattern in ordered(patterns):
        bare = pattern.lstrip("!&") if pattern[0] in "!&" else pattern
        found = [bare] if bare in hosts and pattern[0] not in "!&" else _matches(bare, hosts, groups, where)
        if not found:
            raise InputError(f"--limit {pattern[:100]!r}: matches no host or group in {where}")
        if pattern[0] == "!":
            chosen = [h for h in chosen if h not in set(found)]
        elif pattern[0] == "&":
            chosen = [h for h in chosen if h in set(found)]
        else:
            chosen += [h for h in found if h not in chosen]
    if not chosen:
        raise InputError(f"--limit {text[:100]!r}: leaves no host of {where} to read")
    order = {h: i for i, h in enumerate(hosts)}
    return sorted(chosen, key=lambda h: order[h])


def _matches(pattern: str, hosts: list[str], groups: dict[str, list[str]], where: str) -> list[str]:
    """manager.py ``_enumerate_matches`` with ``_match_list``: fnmatch globs, ``~`` regexes."""
    try:
        regex = re.compile(pattern[1:] if pattern.startswith("~") else fnmatch.translate(pattern))
    except re.error as exc:
        raise InputError(f"--limit {pattern[:100]!r}: not a valid pattern ({exc})") from exc
    named = [g for g in groups if regex.match(g)]
    found = [h for g in named for h in groups[g]]
    if not named or pattern.startswith("~") or any(c in pattern for c in ".?*["):
        found += [h for h in hosts if regex.match(h)]
    return list(dict.fromkeys(found))
