"""How the node's kubelet is (or would be) started: its arguments and where each came from.

Ground truth is the running process's ``/proc/<pid>/cmdline``. When no kubelet runs, the
command line is rebuilt from its systemd unit (what ``systemctl start`` would run now).
Embedded kubelets (k3s, MicroK8s ``kubelite``) get their kubelet arguments from the
distribution's own flags and files (see ``podaudit.kubelet.distro``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from podaudit.kubelet import distro
from podaudit.kubelet.process import choose_kubelet, kubelet_kind, split_title
from podaudit.kubelet.systemd import UnitCommand, resolve_unit
from podaudit.model import Arg, Compact, NodeReader, NodeSnapshot, Problem, ProblemKind, ProcessRecord, Step

ArgvSource = Literal["process", "systemd", "none"]
# Units tried, in order, when no kubelet process runs.
KUBELET_UNITS = (
    "kubelet.service", "k3s.service", "k3s-agent.service", "rke2-server.service",
    "rke2-agent.service", "snap.microk8s.daemon-kubelite.service",
)


@dataclass(frozen=True, slots=True)
class Invocation(Compact):
    """The kubelet's effective arguments (program excluded) and how they were found."""

    kind: str
    argv_source: ArgvSource
    program: str | None
    args: tuple[Arg, ...]
    cwd: str
    process: ProcessRecord | None = None
    unit: UnitCommand | None = None
    discovery: tuple[Step, ...] = ()
    distro_defaults: dict[str, Arg] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def find_invocation(snapshot: NodeSnapshot, reader: NodeReader) -> Invocation:
    """The running kubelet's arguments, else what its systemd unit would start."""
    process = choose_kubelet(snapshot.processes)
    if process is not None:
        inv = _from_process(process, reader, snapshot.hostname)
        others = [p.pid for p in snapshot.processes
                  if p.pid != process.pid and kubelet_kind(p.argv, p.exe) in {"kubelet", "hyperkube"}]
        if others:
            # Several kubelets on one host (kind, or nodes in containers): each is its own node.
            note = f"{len(others) + 1} kubelet processes; showing pid {process.pid}, not {others}"
            inv = replace(inv, problems=(*inv.problems, Problem(ProblemKind.KUBELET, None, note)))
        return inv
    for unit_name in KUBELET_UNITS:
        unit = resolve_unit(reader, unit_name)
        # A masked unit, or one with nothing to start, is not how this node runs a kubelet.
        if unit is not None and unit.unit_path is not None and unit.argv:
            return _from_unit(unit, reader, snapshot.hostname)
    return Invocation("none", "none", None, (), "/", problems=(Problem(
        ProblemKind.KUBELET, None, "no kubelet process and no kubelet, k3s, rke2 or microk8s systemd unit found"),))


def _from_process(process: ProcessRecord, reader: NodeReader, hostname: str | None) -> Invocation:
    argv = split_title(process.argv)
    kind = kubelet_kind(process.argv, process.exe) or "kubelet"
    source = f"/proc/{process.pid}/cmdline"
    found = Step(f"kubelet process pid {process.pid}: {argv[0] if argv else '?'} ({kind})", source)
    words = tuple(Arg(w, Step(f"argv[{i}] {w}", source)) for i, w in enumerate(argv))
    unit = _unit_of(process, kind, reader)
    steps: tuple[Step, ...] = (found,)
    if kind in {"k3s", "rke2"} and len(argv) <= 2 and unit is not None and len(unit.argv) > 2:
        # k3s and rke2 rewrite their process title, hiding their flags: take the unit's.
        words = unit.argv
        steps += (Step(f"{kind} hides its arguments from /proc; taken from {unit.unit}", unit.unit_path or ""),)
    inv = Invocation(kind, "process", argv[0] if argv else None, (), process.cwd or "/", process, unit, steps)
    return _finish(inv, words, reader, hostname)


def _unit_of(process: ProcessRecord, kind: str, reader: NodeReader) -> UnitCommand | None:
    """The unit that started this process (its cgroup says; else the usual name), if it
    starts the same kind of program."""
    sub = split_title(process.argv)[1:2]
    usual = {"kubelet": "kubelet.service", "hyperkube": "kubelet.service",
             "k3s": "k3s-agent.service" if sub == ("agent",) else "k3s.service",
             "rke2": f"rke2-{sub[0] if sub else 'server'}.service"}.get(kind)
    name = process.unit or usual
    unit = resolve_unit(reader, name) if name else None
    if unit is None or not unit.argv:
        return None
    starts = kubelet_kind([a.value for a in unit.argv])
    same = starts == kind or {starts, kind} <= {"kubelet", "hyperkube"}
    return unit if same else None


def _from_unit(unit: UnitCommand, reader: NodeReader, hostname: str | None) -> Invocation:
    name = unit.argv[0].value if unit.argv else None
    # snapd starts kubelite as "snap run microk8s.daemon-kubelite" (its run-kubelite-with-args wrapper).
    snap = "kubelite" if unit.unit.startswith("snap.microk8s.daemon-kubelite") else None
    kind = kubelet_kind([a.value for a in unit.argv]) or snap or "kubelet"
    found = Step(f"no kubelet process; rebuilt from systemd unit {unit.unit}", unit.unit_path or unit.unit)
    inv = Invocation(kind, "systemd", name, (), unit.working_directory, None, unit, (found,),
                     problems=unit.problems)
    return _finish(inv, unit.argv, reader, hostname)


def _finish(inv: Invocation, words: tuple[Arg, ...], reader: NodeReader, hostname: str | None) -> Invocation:
    """Turn the program's own words into kubelet arguments for every kind of kubelet;
    ``hostname``: the node's (k3s names the node after it)."""
    if inv.kind == "hyperkube":
        return _with(inv, words[2:])
    if inv.kind == "kubelet":
        explained = _explain_from_unit(words[1:], inv.unit) if inv.argv_source == "process" else words[1:]
        return _with(inv, explained)
    # A launcher's own failures (a file it cannot read, a value it refuses) stop the kubelet too.
    launch = distro.kubelite_launch(words[1:], reader) if inv.kind == "kubelite" \
        else distro.k3s_launch(inv.kind, words[2:], reader, hostname)
    inv = replace(inv, problems=(*inv.problems, *launch.problems))
    return _with(inv, launch.args, launch.steps, launch.defaults)


def _with(inv: Invocation, args: tuple[Arg, ...], steps: tuple[Step, ...] = (),
          defaults: dict[str, Arg] | None = None) -> Invocation:
    return replace(inv, args=args, discovery=inv.discovery + steps, distro_defaults=defaults or {})


def _explain_from_unit(args: tuple[Arg, ...], unit: UnitCommand | None) -> tuple[Arg, ...]:
    """Name where systemd set each running argument, when the unit would pass the same word."""
    if unit is None or not unit.argv:
        return args
    origins: dict[str, list[Step]] = {}
    for word in unit.argv[1:]:
        origins.setdefault(word.value, []).append(word.origin)
    explained = []
    for arg in args:
        steps = origins.get(arg.value)
        if not steps:
            explained.append(arg)
            continue
        origin = steps.pop(0)
        # "$VAR = <whole value>" is long; the variable's name and its line say enough.
        what = f"{arg.origin.what} (in {arg.origin.source}), set by {origin.what.split(' = ')[0]}"
        explained.append(Arg(arg.value, Step(what, origin.source, origin.line)))
    return tuple(explained)


def unit_arg_values(unit: UnitCommand | None) -> tuple[str, ...] | None:
    """What systemd would pass the kubelet now, program excluded."""
    if unit is None or unit.unit_path is None or not unit.argv:
        return None
    return tuple(a.value for a in unit.argv[1:])
