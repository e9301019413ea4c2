"""The kubelet's command line, parsed with spf13/pflag's rules.

The kubelet parses argv with pflag (cmd/kubelet/app/server.go NewKubeletCommand, with
DisableFlagParsing and its own cleanFlagSet): ``--a=b`` and ``--a b`` both set a value,
a boolean flag never takes the next word, ``_`` in a name means ``-``
(cliflag.WordSepNormalizeFunc), and a repeated flag keeps its last value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# Boolean kubelet flags (KubeletFlags.AddFlags, AddKubeletConfigFlags, klog and a few removed
# ones still seen on old nodes): these never consume the following word.
BOOL_FLAGS = frozenset(
    {
        "add-dir-header", "allow-privileged", "alsologtostderr", "anonymous-auth",
        "authentication-token-webhook", "cgroups-per-qos", "containerized",
        "enable-controller-attach-detach", "enable-debugging-handlers", "enable-load-reader",
        "enable-server", "exit-on-lock-contention", "experimental-check-node-capabilities-before-mount",
        "fail-cgroupv1", "fail-swap-on", "help", "keep-terminated-pod-volumes",
        "kernel-memcg-notification", "local-storage-capacity-isolation", "log-json-split-stream",
        "log-text-split-stream", "enable-cadvisor-json-endpoints", "experimental-kernel-memcg-notification",
        "docker-disable-shared-pid", "redirect-container-streaming", "experimental-dockershim",
        "really-crash-for-testing", "experimental-allocatable-ignore-eviction", "log-file-max-size-check",
        "logtostderr", "make-iptables-util-chains", "one-output", "protect-kernel-defaults",
        "register-node", "register-schedulable", "require-kubeconfig", "rotate-certificates",
        "rotate-server-certificates", "seccomp-default", "serialize-image-pulls",
        "skip-headers", "skip-log-headers", "version",
    }
)
SHORTHANDS = {"v": "v", "h": "help"}


@dataclass(frozen=True)
class FlagValue:
    """A flag's value and the argv index of the word that set it (its last occurrence)."""

    value: str
    index: int


@dataclass
class ParsedArgs:
    """Flags by normalised name, plus words pflag would reject."""

    flags: dict[str, FlagValue] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)

    def get(self, name: str) -> FlagValue | None:
        return self.flags.get(name)


def normalize(name: str) -> str:
    """pflag name normalisation used by the kubelet: '_' and '-' are the same."""
    return name.replace("_", "-")


def parse_args(args: Sequence[str]) -> ParsedArgs:
    """Parse kubelet flags (argv without the program name); never raises.

    Indexes in the result are 1-based argv positions, so argv[index] is the word.
    """
    parsed = ParsedArgs()
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            parsed.positionals.extend(args[i + 1 :])
            break
        if word.startswith("--") and len(word) > 2:
            i = _long_flag(args, i, parsed)
        elif word.startswith("-") and len(word) > 1:
            i = _short_flag(args, i, parsed)
        else:
            parsed.positionals.append(word)
            i += 1
    return parsed


def _long_flag(args: Sequence[str], i: int, parsed: ParsedArgs) -> int:
    name, eq, value = args[i][2:].partition("=")
    return _set(args, i, parsed, normalize(name), value if eq else None)


def _short_flag(args: Sequence[str], i: int, parsed: ParsedArgs) -> int:
    letter, rest = args[i][1], args[i][2:]
    inline = rest[1:] if rest.startswith("=") else rest or None  # "-v=" is an empty value
    return _set(args, i, parsed, SHORTHANDS.get(letter, letter), inline)


def _set(args: Sequence[str], i: int, parsed: ParsedArgs, name: str, inline: str | None) -> int:
    """Record one flag; return the index of the next word (pflag parseLongArg/parseShortArg)."""
    if inline is not None:
        parsed.flags[name] = FlagValue(inline, i + 1)
        return i + 1
    if name in BOOL_FLAGS:
        # A boolean's NoOptDefVal is "true": it never consumes the next word.
        parsed.flags[name] = FlagValue("true", i + 1)
        return i + 1
    if i + 1 < len(args):
        parsed.flags[name] = FlagValue(args[i + 1], i + 1)
        return i + 2
    # pflag: "flag needs an argument"; the kubelet would refuse to start.
    parsed.positionals.append(args[i])
    return i + 1
