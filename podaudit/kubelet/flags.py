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


# The kubelet flags whose values podaudit reads (resolve.py, nodename.py, distro.py, auth.py, the
# rules: rules_kubelet.FLAG_FIELDS, rules_api): --redact keeps their values.
READ_FLAGS = frozenset({
    "config", "config-dir", "pod-manifest-path", "manifest-url", "hostname-override", "cloud-provider",
    "kubeconfig", "kubelet-args-file", "anonymous-auth", "authorization-mode", "read-only-port",
    "client-ca-file", "cgroup-driver", "max-pods", "cluster-domain", "file-check-frequency",
    "rotate-certificates", "fail-swap-on", "container-runtime-endpoint",
})


@dataclass(frozen=True)
class Word:
    """What pflag makes of one word (``index``) of the arguments: a flag with its value (inline,
    or the next word when ``separate``), a positional, or ``--`` (``name`` is "--")."""

    index: int
    name: str | None
    value: str | None = None
    separate: bool = False


def scan_args(args: Sequence[str]) -> list[Word]:
    """Every word's role, in order (the words after ``--`` are positionals); never raises."""
    found: list[Word] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            found.append(Word(i, "--"))
            found += [Word(j, None) for j in range(i + 1, len(args))]
            break
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word[2:].partition("=")
            found.append(_flag(args, i, normalize(name), value if eq else None))
        elif word.startswith("-") and len(word) > 1:
            letter, rest = word[1], word[2:]
            inline = rest[1:] if rest.startswith("=") else rest or None  # "-v=" is an empty value
            found.append(_flag(args, i, SHORTHANDS.get(letter, letter), inline))
        else:
            found.append(Word(i, None))
        i += 2 if found[-1].separate else 1
    return found


def _flag(args: Sequence[str], i: int, name: str, inline: str | None) -> Word:
    """One flag (pflag parseLongArg/parseShortArg)."""
    if inline is not None:
        return Word(i, name, inline)
    if name in BOOL_FLAGS:
        # A boolean's NoOptDefVal is "true": it never consumes the next word.
        return Word(i, name, "true")
    if i + 1 < len(args):
        return Word(i, name, args[i + 1], separate=True)
    # pflag: "flag needs an argument"; the kubelet would refuse to start.
    return Word(i, None)


def parse_args(args: Sequence[str]) -> ParsedArgs:
    """Parse kubelet flags (argv without the program name); never raises.

    Indexes in the result are 1-based argv positions, so argv[index] is the word.
    """
    parsed = ParsedArgs()
    for word in scan_args(args):
        if word.name is None:
            parsed.positionals.append(args[word.index])
        elif word.name != "--" and word.value is not None:
            parsed.flags[word.name] = FlagValue(word.value, word.index + 1)
    return parsed
