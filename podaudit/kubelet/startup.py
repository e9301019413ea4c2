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

from podaudit.kubelet.flags import GO_BOOLS, ParsedArgs
from podaudit.kubelet.invocation import Invocation
from podaudit.kubelet.nodename import NodeName
from podaudit.model import Problem, ProblemKind

EXITS = "the kubelet exits at start"


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
    named = [_from_node_name(p) for p in node_name.problems] if node_name.fatal else []
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
    parse = [_at(inv, i, error) for i, error in flags.errors if not error.startswith("unknown command")]
    stray = _strays(inv, [i for i, error in flags.errors if error.startswith("unknown command")])
    exits = []
    for name, says in (("help", "prints its help and exits"), ("version", "prints its version and exits")):
        value = flags.get(name)
        if value is not None and (GO_BOOLS.get(value.value, False) or value.value == "raw"):
            exits.append(_at(inv, value.index, f"--{name}: the kubelet {says}"))
    return [*parse, *stray, *exits]


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


def _from_node_name(problem: Problem) -> Problem:
    return Problem(ProblemKind.CANNOT_START, problem.path, problem.detail, problem.line)
