"""k3s and rke2: the kubelet's words as k3s's agent builds them from the user's ``kubelet-arg``.

Mirrors k3s-io/k3s pkg/daemons/agent (index copies of main, 2025-2026: agent.go id 4664273863,
agent_linux.go id 4833829603; pkg/util/args.go id 8075376521): ``startKubelet`` takes k3s's own
flags (``kubeletArgsAndConfig``), strips the user's ``config``/``config-dir`` and copies what
they name into the managed drop-in directory (``extractConfigArgs``), then merges the rest
over its own (``GetArgs``). Only ``--config-dir=<data-dir>/agent/etc/kubelet.conf.d``
reaches the kubelet. A k3s from before that directory (agent_linux.go @82394d7d
``kubeletArgs``) passed ``--pod-manifest-path`` and the user's flags as they are.
"""

from __future__ import annotations

import posixpath
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from podaudit.kubelet.launch import go_lower
from podaudit.model import Arg, NodeReader, Problem, ProblemKind, Step, go_sorted

CLI_CONFIG = "10-cli-config.conf"
CLI_CONFIG_DIR = "20-cli-config-dir"
# rke2 pkg/executor/staticpod/staticpod.go Kubelet L145-157: put before k3s's words.
RKE2_FIRST = ("--volume-plugin-dir=/var/lib/kubelet/volumeplugins", "--file-check-frequency=5s",
              "--sync-frequency=30s")
# rke2 pkg/cli/cmds/root.go validateCloudProvider: bundled providers become "external".
RKE2_BUNDLED = {"rancher-vsphere", "harvester", "ovirt"}
MAX_COPIED = 256  # files compared under a copied config-dir (bounded work)


@dataclass
class Extracted:
    """extractConfigArgs' result: the kept args, the stripped config/config-dir, what it said."""

    kept: list[Arg] = field(default_factory=list)
    stripped: dict[str, Arg] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def extract_config_args(extra: list[Arg]) -> Extracted:
    """agent.go extractConfigArgs L101-151: ``config``/``config-dir`` leave the kubelet's words;
    an arg without "=" takes the NEXT arg as its value, and that next arg is dropped, whatever
    this arg's name."""
    out = Extracted()
    i = 0
    while i < len(extra):
        arg = extra[i]
        key, eq, val = arg.value.removeprefix("--").partition("=")
        swallowed = extra[i + 1] if not eq and i + 1 < len(extra) else None
        if swallowed is not None:
            val = swallowed.value
        if key in {"config", "config-dir"}:
            if not val:
                why = f"the kubelet cannot start: k3s fails: value required for kubelet-arg --{key}"
                out.problems.append(Problem(ProblemKind.CANNOT_START, arg.origin.source, why, arg.origin.line))
            else:
                out.stripped[key] = Arg(val, arg.origin)  # a map: the last one wins
        else:
            out.kept.append(arg)
            if swallowed is not None:
                why = (f"kubelet-arg {swallowed.value!r} is dropped: k3s takes it as the value of the "
                       f"kubelet-arg before it, {arg.value!r}, which has no '=' (extractConfigArgs)")
                out.problems.append(Problem(ProblemKind.KUBELET, swallowed.origin.source, why, swallowed.origin.line))
        i += 2 if swallowed is not None else 1
    return out


def get_args(initial: dict[str, Arg], extra: list[Arg]) -> list[Arg]:
    """pkg/util/args.go GetArgs L27-95: a user ``k=v`` replaces k3s's ``k`` (repeats all stay),
    ``k+=v`` appends to it, ``k-=v`` prepends; no "=" means "true"; sorted by key."""
    initial = dict(initial)
    # A deque per key: GetArgs rebuilds the whole list at each arg, quadratic in a hostile file.
    multi: dict[str, deque[Arg]] = {}
    for arg in extra:
        name, eq, value = arg.value.removeprefix("--").partition("=")
        made = Arg(value if eq else "true", arg.origin)
        cleaned = name.rstrip("-+")
        values = multi.setdefault(cleaned, deque())
        first = initial.pop(cleaned, None)  # only at a key's first arg: then ``values`` is empty
        if name.endswith("+"):
            values.extend([first, made] if first is not None else [made])
        elif name.endswith("-"):
            values.extendleft([first, made] if first is not None else [made])
        else:
            values.append(made)
    for name, arg in initial.items():
        multi[name] = deque([arg])
    return [Arg(f"--{name.removeprefix('--')}={a.value}", a.origin) for name in go_sorted(multi) for a in multi[name]]


def own_args(kind: str, conf_d: str | None, default_path: str, node_name: Arg | None,
             node_labels: Sequence[Arg] = ()) -> dict[str, Arg]:
    """The flags k3s sets itself that decide the kubelet's files and name (kubeletArgsAndConfig
    L77-80 and L107-109; the old kubeletArgs L76-78); the name is lowercased (GetHostnameAndIPs)."""
    own: dict[str, Arg] = {}
    if conf_d is not None:
        own["config-dir"] = Arg(conf_d, Step(f"{kind} passes --config-dir={conf_d} to its kubelet", conf_d))
    else:
        why = f"{kind} passes --pod-manifest-path={default_path} (no kubelet.conf.d: a {kind} from before drop-ins)"
        own["pod-manifest-path"] = Arg(default_path, Step(why, default_path))
    if node_name is not None:
        own["hostname-override"] = Arg(go_lower(node_name.value), node_name.origin)
    if node_labels:
        # kubeletArgsAndConfig: argsMap["node-labels"] = strings.Join(cfg.NodeLabels, ","), the
        # --node-label values; the kubelet validates them (a node-role.kubernetes.io label stops
        # it). Empty, it is "--node-labels=", which sets nothing: left out here.
        joined = ",".join(a.value for a in node_labels)
        own["node-labels"] = Arg(joined, Step(f"{kind} passes its --node-label values as --node-labels={joined}",
                                             node_labels[-1].origin.source, node_labels[-1].origin.line))
    return own


def hostname(name: str | None) -> Arg | None:
    """os.Hostname (Go, Linux: /proc/sys/kernel/hostname, as the collector read it); k3s uses it
    when no --node-name is given (GetHostnameAndIPs)."""
    path = "/proc/sys/kernel/hostname"
    return Arg(name, Step(f"no --node-name: k3s takes the hostname {name!r} (os.Hostname)", path)) if name else None


def rke2_first(cloud: Arg | None) -> list[Arg]:
    """rke2 runs a real kubelet with these words before k3s's (staticpod.go Kubelet L145-157)."""
    origin = Step("rke2 puts these before k3s's kubelet flags (pkg/executor/staticpod Kubelet)", "rke2")
    words = [Arg(w, origin) for w in RKE2_FIRST]
    if cloud is not None and cloud.value and cloud.value != "aws":  # rke2_linux.go L109-120: aws -> none
        name = "external" if cloud.value in RKE2_BUNDLED else cloud.value
        words.append(Arg(f"--cloud-provider={name}", cloud.origin))
    return words


def copy_problems(reader: NodeReader, conf_d: str, stripped: dict[str, Arg]) -> tuple[list[Step], list[Problem]]:
    """extractConfigArgs L134-149: k3s copies the user's file or directory into ``conf_d`` at each
    start, unless its path already starts with ``conf_d``; the kubelet reads the copy."""
    steps: list[Step] = []
    problems: list[Problem] = []
    for key, dest_name in (("config", CLI_CONFIG), ("config-dir", CLI_CONFIG_DIR)):
        src = stripped.get(key)
        if src is None:
            continue
        if src.value.startswith(conf_d):
            why = f"kubelet-arg {key}={src.value} is inside {conf_d}: read there, not copied"
            steps.append(Step(why, src.origin.source, src.origin.line))
            continue
        dest = f"{conf_d}/{dest_name}"
        steps.append(Step(f"kubelet-arg {key}={src.value}: k3s copies it to {dest} (extractConfigArgs); "
                          "the kubelet reads it as a drop-in, not as --" + key, src.origin.source, src.origin.line))
        problem = _compare(reader, posixpath.join("/", src.value), dest, key)
        if problem is not None:
            problems.append(Problem(ProblemKind.KUBELET, dest, problem, None))
    return steps, problems


def _compare(reader: NodeReader, src: str, dest: str, key: str) -> str | None:
    record = reader.file(src)
    if record.kind == "missing":
        return f"the kubelet cannot start at the next k3s start: k3s cannot copy {key} {src} into {dest}: no such file"
    if key == "config" or record.kind != "dir":
        same = record.data is None or record.data == reader.file(dest).data
        return None if same else f"k3s copies {src} at start; the copy differs: takes effect at the next k3s start"
    differ = [rel for rel in _files(reader, src)
              if reader.file(posixpath.join(src, rel)).data != reader.file(f"{dest}/{rel}").data]
    if not differ:
        return None
    names = ", ".join(differ[:3]) + (", ..." if len(differ) > 3 else "")
    return f"k3s copies {src} at start; the copy differs ({names}): takes effect at the next k3s start"


def _files(reader: NodeReader, top: str) -> list[str]:
    """Regular files under ``top``, relative, depth-first in name order (bounded)."""
    found: list[str] = []
    pending = [""]
    while pending and len(found) < MAX_COPIED:
        rel = pending.pop()
        listing = reader.listdir(posixpath.join(top, rel) if rel else top)
        for name in reversed(go_sorted(listing.names or ())):
            child = f"{rel}/{name}" if rel else name
            kind = reader.file(posixpath.join(top, child)).kind
            if kind == "dir" and child.count("/") < 8:
                pending.append(child)
            elif kind == "file":
                found.append(child)
    return found[:MAX_COPIED]
