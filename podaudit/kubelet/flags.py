"""The kubelet's command line, parsed with spf13/pflag's rules.

The kubelet parses argv with pflag (cmd/kubelet/app/server.go NewKubeletCommand, with
DisableFlagParsing and its own cleanFlagSet): ``--a=b`` and ``--a b`` both set a value,
a boolean flag never takes the next word, ``_`` in a name means ``-``
(cliflag.WordSepNormalizeFunc), and a repeated flag keeps its last value.

What pflag refuses stops the kubelet before it reads anything (RunE returns
``failed to parse kubelet flag: ...``, or ``unknown command <word>`` for the first word that
is no flag): each such word carries pflag's own message in ``Word.error``
(pflag flag.go parseArgs, parseLongArg, parseSingleShortArg, v1.0.9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from podaudit.model import Compact

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
        # AddKubeletConfigFlags BoolVar (cmd/kubelet/app/options/options.go) and the cadvisor
        # booleans globalflags_linux.go addCadvisorFlags still registers, deprecated.
        "cpu-cfs-quota", "runonce", "contention-profiling", "docker-only", "docker-tls",
        "log-cadvisor-usage", "storage-driver-secure",
    }
)
# The kubelet's only shorthands: -v (klog verbosity, takes a value) and -h (help).
SHORTHANDS = {"v": "v", "h": "help"}
# strconv.ParseBool, which pflag's boolValue.Set calls.
GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


@dataclass(frozen=True, slots=True)
class FlagValue(Compact):
    """A flag's value and the argv index of the word that set it (its last occurrence)."""

    value: str
    index: int


@dataclass
class ParsedArgs:
    """Flags by normalised name, plus words pflag would reject."""

    flags: dict[str, FlagValue] = field(default_factory=dict)
    # What pflag refuses, in argv order: (1-based argv index, pflag's message).
    errors: list[tuple[int, str]] = field(default_factory=list)
    # Words that are no flag (1-based argv indexes): RunE refuses them, "unknown command".
    strays: list[int] = field(default_factory=list)

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
    # Why pflag refuses this word (the kubelet then exits), in pflag's words; None when fine.
    error: str | None = None
    # A word that is no flag (a positional): pflag keeps it, the kubelet's RunE refuses it.
    stray: bool = False


def scan_args(args: Sequence[str]) -> list[Word]:
    """Every word's role, in order (the words after ``--`` are positionals); never raises."""
    found: list[Word] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            found.append(Word(i, "--"))
            found += [Word(j, None, stray=True) for j in range(i + 1, len(args))]
            break
        if word.startswith("--"):
            found.append(_long(args, i))
        elif word.startswith("-") and len(word) > 1:
            found.append(_short(args, i))
        else:  # "", "-" and any word not starting with "-" (parseArgs)
            found.append(Word(i, None, stray=True))
        i += 2 if found[-1].separate else 1
    return found


def _long(args: Sequence[str], i: int) -> Word:
    """pflag parseLongArg."""
    word = args[i]
    raw, eq, value = word[2:].partition("=")
    if not raw or raw.startswith("-"):  # "---x", "--=x"
        return Word(i, None, error=f"bad flag syntax: {word}")
    name = normalize(raw)
    if name != name.lower():
        # Every kubelet flag is lowercase and pflag does not fold case.
        return Word(i, name, value if eq else None, error=f"unknown flag: --{raw}")
    return _flag(args, i, name, value if eq else None, word)


def _short(args: Sequence[str], i: int) -> Word:
    """pflag parseSingleShortArg: ``-v4``, ``-v=4``, ``-v 4``, ``-h``; any other letter is unknown."""
    word = args[i]
    letter, rest = word[1], word[2:]
    name = SHORTHANDS.get(letter)
    if name is None:
        return Word(i, None, error=f"unknown shorthand flag: {letter!r} in {word}")
    inline = rest[1:] if rest.startswith("=") else rest or None  # "-v=" is an empty value
    return _flag(args, i, name, inline, word)


def _flag(args: Sequence[str], i: int, name: str, inline: str | None, word: str) -> Word:
    """One flag's value: inline, the next word, or a boolean's "true"."""
    if name in BOOL_FLAGS:
        # A boolean's NoOptDefVal is "true": it never consumes the next word.
        value = "true" if inline is None else inline
        if value not in GO_BOOLS and not (name == "version" and value == "raw"):  # verflag's tri-state
            why = (f'invalid argument "{value}" for "--{name}" flag: '
                   f'strconv.ParseBool: parsing "{value}": invalid syntax')
            return Word(i, name, value, error=why)
        return Word(i, name, value)
    if inline is not None:
        return Word(i, name, inline)
    if i + 1 < len(args):
        return Word(i, name, args[i + 1], separate=True)
    return Word(i, None, error=f"flag needs an argument: {word}")


def parse_args(args: Sequence[str]) -> ParsedArgs:
    """Parse kubelet flags (argv without the program name); never raises.

    Indexes in the result are 1-based argv positions, so argv[index] is the word.
    """
    parsed = ParsedArgs()
    for word in scan_args(args):
        if word.stray:
            parsed.strays.append(word.index + 1)
        elif word.error is not None:
            parsed.errors.append((word.index + 1, word.error))
        elif word.name is not None and word.name != "--" and word.value is not None:
            parsed.flags[word.name] = FlagValue(word.value, word.index + 1)
    return parsed
