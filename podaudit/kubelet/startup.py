"""Whether the kubelet can start with its settings at all: a kubelet that exits runs nothing.

cmd/kubelet/app/server.go NewKubeletCommand's RunE returns an error, and the process exits
before any pod source exists, when: pflag refuses a word (``failed to parse kubelet flag``),
a word is no flag (``unknown command <word>``: a stray word from an environment file's inline
``# comment``, an empty ``${VAR}``, a launcher's split), ``--help`` or ``--version`` was
given (they print and exit), ``loadConfigFile`` fails, ``mergeKubeletConfigurations`` fails
(a missing ``--config-dir``, a drop-in that does not decode), or the node name is unusable
(nodeutil.GetHostname: ``empty hostname is invalid``). systemd then restarts it, forever.

Who is believed: the words of a kubelet process's own ``/proc/<pid>/cmdline`` were accepted
by that kubelet, since it runs; if podaudit reads them as fatal, podaudit is wrong, and says
so instead of claiming the kubelet cannot start. Files (the config, the drop-ins, a
launcher's argument file) may have changed since it started: with a kubelet running, their
blockers say what the next restart does.
"""

from __future__ import annotations

from dataclasses import dataclass

from podaudit.kubelet.apinames import label_value_errors, qualified_name_errors
from podaudit.kubelet.flags import GO_BOOLS, ParsedArgs, scan_args
from podaudit.kubelet.gojson import go_trim_space
from podaudit.kubelet.invocation import Invocation
from podaudit.kubelet.nodename import NodeName
from podaudit.model import Problem, ProblemKind

EXITS = "the kubelet exits at start"
# kubernetes/kubelet pkg/apis/well_known_labels.go: the kubernetes.io labels a kubelet may set
# on its own Node (kubeletLabels) and the namespaces it may use (kubeletLabelNamespaces).
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type", "kubernetes.io/os", "kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
})
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


@dataclass(frozen=True)
class Startup:
    """What stops the kubelet from starting with these settings (empty: nothing known)."""

    blockers: tuple[Problem, ...] = ()
    # Blockers found in the words of a kubelet that runs: podaudit's reading is wrong.
    doubts: tuple[Problem, ...] = ()

    @property
    def why(self) -> str:
        """The first blocker, as the one line a pod's state gives."""
        return self.blockers[0].text() if self.blockers else ""


def kubelet_startup(inv: Invocation, flags: ParsedArgs, problems: list[Problem], node_name: NodeName) -> Startup:
    """The blockers of these settings, first the command line's (pflag runs first), then the
    files' (loadConfigFile, then mergeKubeletConfigurations), then the node name's."""
    words = _argv_blockers(inv, flags)
    # The launcher's and systemd's first (nothing runs without them), then the kubelet's files.
    files = [p for p in (*inv.problems, *problems) if p.kind is ProblemKind.CANNOT_START]
    named = list(node_name.problems) if node_name.fatal else []
    own_words = inv.argv_source == "process" and inv.kind in {"kubelet", "hyperkube"}
    if own_words and words:
        # This very process accepted these words.
        doubts = tuple(Problem(ProblemKind.KUBELET, p.path, f"podaudit reads this word as fatal, yet the kubelet "
                               f"runs with it: {p.detail}", p.line) for p in words)
        return Startup((*files, *named), doubts)
    return Startup((*words, *files, *named))


def _argv_blockers(inv: Invocation, flags: ParsedArgs) -> list[Problem]:
    # pflag stops at its first error, then RunE checks for stray words, then --help and
    # --version; all are listed, so that one fix is not followed by the next surprise.
    parse = [_at(inv, i, error) for i, error in flags.errors]
    stray = _strays(inv, flags.strays)
    exits = []
    for name, says in (("help", "prints its help and exits"), ("version", "prints its version and exits")):
        value = flags.get(name)
        if value is not None and (GO_BOOLS.get(value.value, False) or value.value == "raw"):
            exits.append(_at(inv, value.index, f"--{name}: the kubelet {says}"))
    return [*parse, *stray, *exits, *_node_label_blockers(inv)]


def _node_label_blockers(inv: Invocation) -> list[Problem]:
    """cmd/kubelet/app/options ValidateKubeletFlags, run by RunE after the flags parse: a
    kubernetes.io or k8s.io label a kubelet may not set on its own Node (the classic
    ``node-role.kubernetes.io/worker``), or a label that is not a label, stops it."""
    labels: dict[str, tuple[str, int]] = {}
    args = [a.value for a in inv.args]
    for word in scan_args(args):
        if word.name == "node-labels" and word.value is not None and word.error is None:
            for key, value in _configuration_map(word.value):
                labels[key] = (value, word.index + 1)
    unknown = sorted(k for k in labels if _kubernetes_label(k) and not _kubelet_label(k))
    if unknown:
        why = (f"failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with "
               f"--node-labels: [{' '.join(unknown)}] (only the prefixes {', '.join(KUBELET_LABEL_NAMESPACES)} and a "
               "few well-known labels are allowed: set node-role labels with kubectl label node)")
        return [_at(inv, labels[unknown[0]][1], why)]
    for key, (value, index) in labels.items():
        errors = qualified_name_errors(key) + label_value_errors(value)
        if errors:
            return [_at(inv, index, f"failed to validate kubelet flags: invalid node labels: '{key}' - "
                                    f"{', '.join(errors)}")]
    return []


def _configuration_map(text: str) -> list[tuple[str, str]]:
    """component-base cli/flag ConfigurationMap.Set: comma-separated, each "k=v" or "k" (value
    ""), both sides trimmed; every --node-labels adds to the same map."""
    pairs = []
    for item in text.split(","):
        if item:
            key, _, value = item.partition("=")
            pairs.append((go_trim_space(key), go_trim_space(value)))
    return pairs


def _namespace(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _kubernetes_label(key: str) -> bool:
    """options.go isKubernetesLabel."""
    namespace = _namespace(key)
    return any(namespace == ns or namespace.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))


def _kubelet_label(key: str) -> bool:
    """well_known_labels.go IsKubeletLabel."""
    namespace = _namespace(key)
    return key in KUBELET_LABELS or any(namespace == ns or namespace.endswith("." + ns)
                                        for ns in KUBELET_LABEL_NAMESPACES)


def _strays(inv: Invocation, indexes: list[int]) -> list[Problem]:
    """One blocker per place the stray words came from (the kubelet names only the first)."""
    found: dict[tuple[str, int | None, str], list[int]] = {}
    for index in indexes:
        origin = inv.args[index - 1].origin if 0 < index <= len(inv.args) else None
        key = (origin.source, origin.line, origin.what) if origin is not None else ("", None, "")
        found.setdefault(key, []).append(index)
    blockers = []
    for same in found.values():
        first, *rest = same
        also = f"; then {', '.join(_shown(inv.args[i - 1].value) for i in rest)}" if rest else ""
        # NewKubeletCommand: `if len(cleanFlagSet.Args()) > 0 { ... "unknown command %+s" }`.
        blockers.append(_at(inv, first, f"unknown command {inv.args[first - 1].value}", also))
    return blockers


def _shown(word: str) -> str:
    return repr(word) if word.strip() != word or not word else word


def _at(inv: Invocation, index: int, error: str, also: str = "") -> Problem:
    """A blocker naming the word and where it came from (a unit line, an env file, /proc)."""
    arg = inv.args[index - 1] if 0 < index <= len(inv.args) else None
    if arg is None:
        return Problem(ProblemKind.CANNOT_START, None, f"{EXITS}: {error}")
    origin = arg.origin
    return Problem(ProblemKind.CANNOT_START, origin.source or None,
                   f"{EXITS}: {error} (word {_shown(arg.value)}{also}: {origin.what})", origin.line)
