"""What a launcher (k3s, rke2, MicroK8s kubelite) hands its kubelet, and the Go string rules
the launchers' own code applies: ``strings.TrimSpace``, ``os.ExpandEnv``, ``strings.ToLower``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from podaudit.model import Arg, Problem, Step

_SHELL_SPECIAL = frozenset("*#$@!?-0123456789")


@dataclass(frozen=True)
class Launch:
    """The kubelet's words as a launcher builds them, the launcher's defaults, its steps, and
    what stops it (a launcher that fails starts no kubelet)."""

    args: tuple[Arg, ...]
    steps: tuple[Step, ...] = ()
    problems: tuple[Problem, ...] = ()
    defaults: dict[str, Arg] = field(default_factory=dict)


def go_lower(text: str) -> str:
    """strings.ToLower: one rune for one rune (Python lowers U+0130 to two)."""
    return "".join("i" if c == "\u0130" else c.lower() for c in text)


def go_expand(text: str, mapping: Callable[[str], str]) -> str:
    """os.Expand (os/env.go): ``$name``, ``${name}``, ``$1``/``$*``..., bad ``${`` eaten."""
    out: list[str] = []
    i = j = 0
    while j < len(text):
        if text[j] == "$" and j + 1 < len(text):
            out.append(text[i:j])
            name, width = _shell_name(text[j + 1:])
            if name:
                out.append(mapping(name))
            elif width == 0:
                out.append("$")  # "$" not followed by a name stays
            j += width
            i = j + 1
        j += 1
    return "".join(out) + text[i:] if out else text


def _shell_name(rest: str) -> tuple[str, int]:
    """getShellName (os/env.go): the name after ``$`` and how many bytes it took."""
    if rest[0] == "{":
        if len(rest) > 2 and rest[1] in _SHELL_SPECIAL and rest[2] == "}":
            return rest[1], 3
        close = rest.find("}", 1)
        if close == 1:
            return "", 2  # "${}": eaten
        return (rest[1:close], close + 1) if close > 0 else ("", 1)  # "${" without "}": eaten
    if rest[0] in _SHELL_SPECIAL:
        return rest[0], 1
    end = 0
    while end < len(rest) and (rest[end] == "_" or (rest[end].isascii() and rest[end].isalnum())):
        end += 1
    return rest[:end], end
