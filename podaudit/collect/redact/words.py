"""Command lines: flag names stay, values stay only for the flags podaudit reads, and paths.

The words are read with pflag's rules (flags.scan_args), so ``--token abc`` hides ``abc`` and a
boolean flag never hides the word after it; a word that is only systemd variable references
(``$KUBELET_EXTRA_ARGS``) stays for systemd to expand.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from podaudit.collect.redact.values import VARIABLES, is_path, token, without_userinfo
from podaudit.kubelet.envfile import bad_program, split_variable_value
from podaudit.kubelet.flags import BOOL_FLAGS, READ_FLAGS, normalize, scan_args

# k3s/rke2 options distro.py reads (K3S_OPTIONS): data dir, node name, config file, kubelet-arg;
# their shorthands -d and -c only on a k3s or rke2 command line (sh -c would keep its script).
K3S_FLAGS = frozenset({"data-dir", "node-name", "config", "kubelet-arg"})
KUBELET = READ_FLAGS | K3S_FLAGS
K3S = KUBELET | {"d", "c"}
# Subcommands kubelet_kind() needs: k3s/rke2 server|agent, hyperkube kubelet.
_SUBCOMMANDS = frozenset({"server", "agent", "kubelet"})
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """A kubelet's (or k3s's) argv: the program kept, then its arguments."""
    if not argv:
        return ()
    if len(argv) == 1 and " " in argv[0]:  # k3s and rke2 rewrite their title: "k3s server"
        return (" ".join(redact_argv(argv[0].split())),)
    return (program(argv[0]), *redact_words(argv[1:], read_flags(argv[0])))


def read_flags(program_word: str) -> frozenset[str]:
    """The flags whose values stay on ``program_word``'s command line."""
    return K3S if posixpath.basename(program_word) in {"k3s", "rke2"} else KUBELET


def program(word: str) -> str:
    """argv[0]: a path or a plain name stays (systemd prefixes too); another becomes a token
    that systemd would accept or refuse as it would the original (config_parse_exec())."""
    plain = word.lstrip("-@:+!")
    prefixes = word[: len(word) - len(plain)]
    if is_path(plain) or _NAME.fullmatch(plain):
        return word
    if bad_program(plain):
        return f"{prefixes}{token(plain)}/"  # a directory: still refused
    return prefixes + ("/" if plain.startswith("/") else "") + token(plain)


def redact_words(words: Sequence[str], read: frozenset[str] = frozenset()) -> list[str]:
    """Arguments after the program; ``read``: the flags whose values stay."""
    out = list(words)
    for word in scan_args(words):
        text = words[word.index]
        if word.name is None:
            out[word.index] = _positional(text)
        elif word.name != "--":
            prefix, inline = _split(text)
            if inline is not None:
                out[word.index] = prefix + value(word.name, inline, read)
            elif word.separate:
                out[word.index + 1] = value(word.name, words[word.index + 1], read)
    return out


def _positional(text: str) -> str:
    if text.startswith("-"):  # a flag missing its value ("--config" last), or a word after "--"
        prefix, inline = _split(text)
        return prefix + (token(inline) if inline else "")
    keep = text in _SUBCOMMANDS or text in {";", "\\;"} or is_path(text)
    return text if keep or VARIABLES.fullmatch(text) else token(text)


def _split(text: str) -> tuple[str, str | None]:
    """(the flag part, its inline value or None): ``--a=b``, ``-v=2``, ``-v2``."""
    if text.startswith("--"):
        name, eq, inline = text.partition("=")
        return (name + eq, inline) if eq else (text, None)
    if len(text) > 2:
        cut = 3 if text[2] == "=" else 2
        return text[:cut], text[cut:]
    return text, None


def value(name: str, text: str, read: frozenset[str]) -> str:
    """One flag's value."""
    if VARIABLES.fullmatch(text) or text == "":
        return text
    if name == "kubelet-arg" and name in read:  # k3s: "flag=value" (or "--flag=value") of a kubelet flag
        flag, eq, inner = text.partition("=")
        if eq:
            return flag + eq + value(normalize(flag.lstrip("-")), inner, READ_FLAGS)
        return text if normalize(text.lstrip("-")) in BOOL_FLAGS | READ_FLAGS else token(text)
    if name in read:
        return without_userinfo(text)
    return text if is_path(text) or text in {"true", "false"} else token(text)


def words_text(text: str) -> str:
    """A variable's value that systemd splits into words ($VAR in ExecStart=, replace_env_argv()):
    each word redacted, then joined so that systemd splits it the same way again."""
    return " ".join(_protect(w) for w in redact_words(split_variable_value(text), KUBELET))


def _protect(word: str) -> str:
    """A backslash before each character split_variable_value() would take as a separator or
    a quote."""
    return "".join("\\" + c if c in " \t\n\r\"'\\" else c for c in word) or "''"
