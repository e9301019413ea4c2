"""PA4xx: who may write what the kubelet trusts, risky static pods, and the kubelet's own API.

File modes and owners follow CIS Kubernetes 1.1.1-1.1.8 and 4.1.x (kube-bench cfg/cis-1.10),
applied to every file the kubelet actually reads rather than a fixed list of names; the
writable-directory rule is the Threat Matrix's MS-TA9017 "Static Pods" persistence (mitigation
MS-M9016); kubelet authentication follows CIS 4.2.1-4.2.4, with the kubelet's own defaults.

Every rule judges only what was read (a FileRecord of kind "file" or "dir" with a mode or an
owner) and never raises on odd data: a field of the wrong type is simply not judged.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import Finding, finding, rule
from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.manifests import ManifestEntry
from podaudit.kubelet.resolve import NodeView
from podaudit.model import FileRecord

# CIS 1.1.x: manifests 600 or stricter; the directory 700 or 755.
MANIFEST_MODE = 0o600
DIRECTORY_MODE = 0o755
# CIS 4.1.1/4.1.2, 4.1.9/4.1.10: the kubelet's unit, config and env files 600, root:root.
KUBELET_FILE_MODE = 0o600
WRITE_GROUP, WRITE_OTHER, STICKY = 0o020, 0o002, 0o1000
# Static pods that run with host privileges by design when no baseline says otherwise.
WELL_KNOWN = frozenset(("kube-system", name) for name in (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "cloud-controller-manager"))
RISKY_CAPABILITIES = frozenset({"SYS_ADMIN", "NET_ADMIN", "ALL"})
# Fates of the entries the kubelet opens and decodes (not dot-files, directories, sockets...).
READ_FATES = frozenset({"loaded", "shadowed", "rejected"})
# Distributions that run the kubelet in-process and always pass it secure auth flags
# (k3s pkg/daemons/agent: --anonymous-auth=false, --authorization-mode=Webhook,
# --read-only-port=0, --client-ca-file=<agent>/client-ca.crt).
SECURE_EMBEDDERS = frozenset({"k3s", "rke2"})


def _judged(record: FileRecord | None) -> bool:
    return record is not None and record.kind in {"file", "dir"}


def _shown(path: str, record: FileRecord) -> str:
    """The path, and where its symbolic links lead when they do: modes are the target's."""
    return f"{path} (-> {record.target})" if record.target and record.target != path else path


def _static_dir(view: NodeView) -> tuple[str, FileRecord] | None:
    """The static pod directory and its record, when the static pod path is a directory."""
    path = view.static_pod_path.value
    if not path:
        return None
    record = view.records.get(path) or view.records.get(posixpath.normpath(path))
    return (path, record) if record is not None and record.kind == "dir" else None


def _manifests(view: NodeView) -> Iterator[ManifestEntry]:
    """Every entry the kubelet reads as a manifest: loaded, shadowed or rejected."""
    for entry in view.entries:
        dotted = posixpath.basename(entry.path).startswith(".")
        if entry.fate in READ_FATES and entry.record.kind == "file" and not dotted:
            yield entry


def _extra_bits(mode: int | None, allowed: int, mask: int = 0o7777) -> int:
    return 0 if not isinstance(mode, int) else mode & mask & ~allowed


def _not_root(record: FileRecord) -> bool:
    return (isinstance(record.uid, int) and record.uid != 0) or (isinstance(record.gid, int) and record.gid != 0)


def _owner(record: FileRecord) -> str:
    return f"{record.uid if record.uid is not None else '?'}:{record.gid if record.gid is not None else '?'}"


@rule("PA401", "medium", "static pod manifest or directory mode too permissive",
      what="A file the kubelet reads from the static pod path (loaded, shadowed or rejected; dot-files and "
           "ignored entries are skipped) has a mode beyond 0600, or the static pod directory itself a mode "
           "beyond 0755. Symbolic links are followed, as the kubelet follows them: the target's mode counts. "
           "Every entry is judged, not just the four control-plane names kube-bench checks.",
      why="CIS Kubernetes 1.1.1-1.1.8 want pod specification files at 600 or stricter and root:root. Manifests "
          "hold flags, hostPath mounts and often secrets in arguments; a readable or writable one leaks them "
          "or lets its group and others change what runs as a static pod, outside admission control "
          "(Threat Matrix MS-TA9017).",
      fix="`chmod 600 /etc/kubernetes/manifests/*.yaml` (every file listed) and `chmod 755 "
          "/etc/kubernetes/manifests` (or 700); for a symbolic link, chmod its target.",
      example="cp-1: manifest /etc/kubernetes/manifests/etcd.yaml (loaded) has mode 0644, more permissive than 0600")
def manifest_mode(ctx: NodeContext) -> Iterator[Finding]:
    view, node = ctx.view, ctx.node
    found = _static_dir(view)
    if found is not None:
        path, record = found
        if _extra_bits(record.mode, DIRECTORY_MODE, 0o777):
            yield finding("PA401", node, path,
                          f"{node}: static pod directory {_shown(path, record)} has mode {record.mode:04o}, "
                          f"more permissive than 0755", key="mode")
    for entry in _manifests(view):
        record = entry.record
        if _extra_bits(record.mode, MANIFEST_MODE):
            yield finding("PA401", node, entry.path,
                          f"{node}: manifest {_shown(entry.path, record)} ({entry.fate}) has mode "
                          f"{record.mode:04o}, more permissive than 0600", key="mode")


@rule("PA402", "medium", "static pod manifest or directory not owned by root:root",
      what="The static pod directory, or a file the kubelet reads from it (loaded, shadowed or rejected), is "
           "not owned by uid 0 and gid 0 (after following symbolic links).",
      why="CIS Kubernetes 1.1.2/1.1.4/1.1.6/1.1.8 want pod specification files owned root:root. The owner of a "
          "manifest can rewrite it at any time and the kubelet runs the result, with whatever privileges it "
          "asks for, bypassing admission (Threat Matrix MS-TA9017).",
      fix="`chown root:root /etc/kubernetes/manifests /etc/kubernetes/manifests/*` (every path listed), then "
          "check the content: a file with a foreign owner may have been planted.",
      example="worker-2: manifest /etc/kubernetes/manifests/agent.yaml (loaded) is owned 1000:1000, not root:root")
def manifest_owner(ctx: NodeContext) -> Iterator[Finding]:
    view, node = ctx.view, ctx.node
    found = _static_dir(view)
    if found is not None and _not_root(found[1]):
        path, record = found
        yield finding("PA402", node, path,
                      f"{node}: static pod directory {_shown(path, record)} is owned {_owner(record)}, "
                      f"not root:root", key="owner")
    for entry in _manifests(view):
        if _not_root(entry.record):
            yield finding("PA402", node, entry.path,
                          f"{node}: manifest {_shown(entry.path, entry.record)} ({entry.fate}) is owned "
                          f"{_owner(entry.record)}, not root:root", key="owner")


def _chain(view: NodeView) -> list[tuple[str, str, str | None]]:
    """(directory, what it is, the next path down) from the static pod directory up to "/";
    where a directory on the way is a symbolic link, its target's parents too (when read)."""
    value = view.static_pod_path.value
    if not value:
        return []
    spp = posixpath.normpath(value)
    chain: list[tuple[str, str, str | None]] = []
    record = view.records.get(value) or view.records.get(spp)
    if record is not None and record.kind == "dir":
        chain.append((spp, "the static pod directory", None))
    seen = {spp}
    pending = [spp]
    while pending:
        child = pending.pop(0)
        target = (view.records.get(child) or FileRecord(child, "missing")).target
        if target and posixpath.isabs(target) and posixpath.normpath(target) not in seen:
            pending.append(posixpath.normpath(target))
            seen.add(pending[-1])
        while child != "/":
            parent = posixpath.dirname(child) or "/"
            if parent in seen:
                break
            seen.add(parent)
            chain.append((parent, f"a parent of {spp}", child))
            target = (view.records.get(parent) or FileRecord(parent, "missing")).target
            if target and posixpath.isabs(target) and posixpath.normpath(target) not in seen:
                pending.append(posixpath.normpath(target))
                seen.add(pending[-1])
            child = parent
    return chain


def _writable_by_others(record: FileRecord) -> list[str]:
    mode = record.mode if isinstance(record.mode, int) else 0
    reasons = []
    if isinstance(record.uid, int) and record.uid != 0:
        reasons.append(f"owned by uid {record.uid}")
    if mode & WRITE_OTHER:
        reasons.append("world-writable")
    if mode & WRITE_GROUP:
        reasons.append(f"group-writable (gid {record.gid if record.gid is not None else '?'})")
    return reasons


def _sticky_protects(record: FileRecord, child: FileRecord | None) -> bool:
    """A root-owned sticky directory writable only by its group keeps others from renaming
    or removing a root-owned child. A world-writable one (/tmp) never counts: when the child
    goes (tmpfiles clean-up, a tmpfs at boot, a path that does not exist yet) anyone can
    create it, which is exactly how a static pod directory gets planted."""
    mode = record.mode if isinstance(record.mode, int) else 0
    return (bool(mode & STICKY) and record.uid == 0 and not mode & WRITE_OTHER
            and child is not None and child.kind in {"file", "dir"} and child.uid == 0)


@rule("PA403", "high", "static pod directory or a parent writable by a non-root user",
      what="The static pod directory, or any directory above it up to /, is group- or world-writable or owned "
           "by a non-root uid (symbolic links on the way are followed, and their targets' parents checked "
           "when read). A sticky parent is excused only when it is root-owned, not world-writable and the "
           "next directory down is root-owned; a /tmp-like (sticky, world-writable) parent is always reported.",
      why="Whoever can write the directory, or replace any directory above it, can add a manifest and the "
          "kubelet starts it with any privilege, outside admission control and audit: persistence and "
          "control-plane takeover (Microsoft Threat Matrix for Kubernetes MS-TA9017 'Static Pods', "
          "mitigation MS-M9016 'Restrict write access to the static pods manifest folder'). kube-bench does "
          "not look at parent directories (kube-bench #1598).",
      fix="`chmod go-w DIR && chown root:root DIR` for each directory listed; keep the static pod path under "
          "root-owned 0755 (or 0700) directories such as /etc/kubernetes/manifests, never under /tmp or a "
          "user's home.",
      example="node-3: /tmp (a parent of /tmp/manifests) is world-writable, group-writable (gid 0), mode 1777 "
              "(sticky, but anyone may create the path when it is missing): a non-root user can add or replace "
              "static pod manifests")
def static_dir_writable(ctx: NodeContext) -> Iterator[Finding]:
    view, node = ctx.view, ctx.node
    spp = view.static_pod_path.value
    for directory, what, below in _chain(view):
        record = view.records.get(directory)
        if record is None or record.kind != "dir":
            continue
        reasons = _writable_by_others(record)
        if not reasons:
            continue
        mode = record.mode if isinstance(record.mode, int) else 0
        if below is not None and _sticky_protects(record, view.records.get(below)):
            continue
        sticky = " (sticky, but anyone may create the path when it is missing)" if mode & STICKY else ""
        yield finding("PA403", node, directory,
                      f"{node}: {directory} ({what}) is {', '.join(reasons)}, mode {mode:04o}{sticky}: "
                      f"a non-root user can add or replace static pod manifests", key=spp or "")


def _kubelet_files(view: NodeView) -> list[tuple[str, str]]:
    """(path, what) of the kubelet's config, drop-ins, unit, unit drop-ins and env files."""
    files: list[tuple[str, str]] = []
    if view.config_file:
        files.append((view.config_file, "kubelet config file"))
    if view.config_dir:
        prefix = view.config_dir.rstrip("/") + "/"
        files += [(p, "kubelet config drop-in") for p in sorted(view.records)
                  if p.startswith(prefix) and p.endswith(".conf")]
    unit = view.invocation.unit
    if unit is not None:
        if unit.unit_path:
            files.append((unit.unit_path, "kubelet systemd unit"))
        files += [(p, "systemd drop-in") for p in unit.dropins]
        files += [(e.path, "environment file") for e in unit.env_files if e.status == "read"]
    unique: dict[str, str] = {}
    for path, what in files:
        unique.setdefault(path, what)
    return list(unique.items())


@rule("PA404", "medium", "kubelet config, unit or env file mode or owner",
      what="The kubelet's --config file, its --config-dir drop-ins, its systemd unit and unit drop-ins, or an "
           "EnvironmentFile= it reads, has a mode beyond 0600 or is not owned root:root. Only files that "
           "exist are judged; symbolic links are followed.",
      why="CIS Kubernetes 4.1.1/4.1.2 (kubelet service file) and 4.1.9/4.1.10 (kubelet config.yaml) want 600 "
          "and root:root. These files decide staticPodPath, authentication and every flag: whoever can change "
          "them chooses what the kubelet runs and who may talk to it at the next restart.",
      fix="`chmod 600 FILE && chown root:root FILE` for each file listed (for example "
          "/var/lib/kubelet/config.yaml, /var/lib/kubelet/kubeadm-flags.env, "
          "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf), then `systemctl daemon-reload`.",
      example="cp-1: kubelet config file /var/lib/kubelet/config.yaml has mode 0644, more permissive than 0600")
def kubelet_file_permissions(ctx: NodeContext) -> Iterator[Finding]:
    view, node = ctx.view, ctx.node
    for path, what in _kubelet_files(view):
        record = view.records.get(path)
        if record is None or record.kind != "file":
            continue
        if _extra_bits(record.mode, KUBELET_FILE_MODE):
            yield finding("PA404", node, path,
                          f"{node}: {what} {_shown(path, record)} has mode {record.mode:04o}, "
                          f"more permissive than 0600", key="mode")
        if _not_root(record):
            yield finding("PA404", node, path,
                          f"{node}: {what} {_shown(path, record)} is owned {_owner(record)}, not root:root",
                          key="owner")


def _expected_pods(ctx: NodeContext) -> frozenset[tuple[str, str]]:
    """(namespace, name) a static pod may have on this node: the baseline's, else the
    well-known control plane on a control-plane node (a "kube-apiserver" on a worker is not
    exempt), plus rke2's kube-proxy, which rke2 runs as a static pod on every node."""
    pods = getattr(ctx.expected, "static_pods", None) if ctx.expected is not None else None
    if pods is None:
        known = WELL_KNOWN if ctx.role == "control-plane" else frozenset()
        rke2 = (ctx.view.static_pod_path.value or "").startswith("/var/lib/rancher/rke2/")
        return known | ({("kube-system", "kube-proxy")} if rke2 else frozenset())
    try:
        return frozenset((str(getattr(p, "namespace", "")), str(getattr(p, "name", ""))) for p in pods)
    except TypeError:
        return WELL_KNOWN


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def pod_risks(pod: Any) -> list[str]:
    """What gives a pod (a manifest dict) the host: host namespaces, hostPath, privilege."""
    spec = pod.get("spec") if isinstance(pod, dict) else None
    if not isinstance(spec, dict):
        return []
    risks = [key for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    for volume in _items(spec.get("volumes")):
        host = volume.get("hostPath")
        if isinstance(host, dict):
            risks.append(f"hostPath {host.get('path')}")
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in _items(spec.get(kind)):
            name = container.get("name")
            context = container.get("securityContext")
            if not isinstance(context, dict):
                continue
            if context.get("privileged") is True:
                risks.append(f"privileged container {name}")
            caps = context.get("capabilities")
            added = caps.get("add") if isinstance(caps, dict) else None
            names = [str(c).upper().removeprefix("CAP_") for c in added] if isinstance(added, list) else []
            risky = sorted({c for c in names if c in RISKY_CAPABILITIES})
            if risky:
                risks.append(f"container {name} adds {'/'.join(risky)}")
    return risks


@rule("PA405", "high", "an unexpected static pod with host privileges",
      what="A static pod the kubelet runs that is not expected on this node (the baseline's list for its role; "
           "without a baseline, anything but kube-system etcd, kube-apiserver, kube-controller-manager, "
           "kube-scheduler and cloud-controller-manager) is privileged, adds SYS_ADMIN, NET_ADMIN or ALL, "
           "uses hostNetwork, hostPID or hostIPC, or mounts a hostPath volume.",
      why="Static pods bypass admission control (Pod Security, policy engines) and the API audit log "
          "(kubernetes.io 'API Server Bypass Risks'); a privileged one is root on the node for good. This is "
          "the persistence technique MS-TA9017 'Static Pods' of the Microsoft Threat Matrix for Kubernetes, "
          "and GKE's 'Defense Evasion: Static Pod Created'.",
      fix="Find out who put it there (`ls -l --time-style=full-iso FILE`, auditd/FIM logs). If it is not "
          "wanted, move the manifest out of the directory (`mv FILE /root/quarantine/`): the kubelet stops "
          "the pod within ~20 s. If it is wanted, add it to the baseline's expected static pods.",
      example="worker-2: /etc/kubernetes/manifests/agent.yaml runs default/agent-worker-2, not an expected "
              "static pod, with hostPID, hostPath /, privileged container agent")
def unexpected_privileged_pod(ctx: NodeContext) -> Iterator[Finding]:
    expected = _expected_pods(ctx)
    for pod in ctx.view.static_pods:
        if (pod.namespace, pod.name) in expected or (pod.namespace, pod.mirror_name) in expected:
            continue
        risks = pod_risks(pod.spec)
        if risks:
            yield finding("PA405", ctx.node, pod.manifest_path,
                          f"{ctx.node}: {pod.manifest_path} runs {pod.namespace}/{pod.mirror_name}, not an "
                          f"expected static pod, with {', '.join(risks)}", key=f"{pod.namespace}/{pod.name}")


@dataclass(frozen=True)
class _Value:
    """A kubelet auth setting's effective value and what decided it."""

    value: Any
    why: str
    path: str | None


def _config_docs(view: NodeView) -> list[tuple[str, dict[str, Any]]] | None:
    """The --config file and drop-ins in merge order, or None when one cannot be judged
    (unreadable, undecodable: the kubelet refuses to start, or podaudit cannot tell)."""
    if view.config_dir and view.records.get(view.config_dir, FileRecord(view.config_dir, "missing")).kind != "dir":
        return None
    if view.config_file and not any(d.path == view.config_file for d in view.config_docs):
        return None
    if any(d.error for d in view.config_docs):
        return None
    return [(d.path, d.data) for d in view.config_docs]


INVALID = object()


def config_value(data: Any, field: tuple[str, ...]) -> Any:
    """The value at ``field``; None when unset; INVALID when a mapping on the way is not one."""
    for key in field:
        if data is None:
            return None
        if not isinstance(data, dict):
            return INVALID
        data = data.get(key)
    return data


def _well_typed(value: Any, kind: type) -> bool:
    """JSON decoding into the Go field: a bool is no int, an int no bool."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _go_bool(text: str) -> bool | None:
    """strconv.ParseBool."""
    if text in {"1", "t", "T", "true", "TRUE", "True"}:
        return True
    if text in {"0", "f", "F", "false", "FALSE", "False"}:
        return False
    return None


def _go_int(text: str) -> int | None:
    """strconv.ParseInt base 10 (no spaces, no underscores)."""
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def _yaml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# setting → (config field, flag, parse a flag value, v1beta1 (config file) default, CLI default)
_SETTINGS: dict[str, tuple[tuple[str, ...], str, Any, Any, Any]] = {
    "authentication.anonymous.enabled": (("authentication", "anonymous", "enabled"), "anonymous-auth",
                                         _go_bool, False, True),
    "authorization.mode": (("authorization", "mode"), "authorization-mode", str, "Webhook", "AlwaysAllow"),
    "readOnlyPort": (("readOnlyPort",), "read-only-port", _go_int, 0, 10255),
    "authentication.x509.clientCAFile": (("authentication", "x509", "clientCAFile"), "client-ca-file", str, "", ""),
}
# The type each field must have; anything else and the kubelet refuses the config file.
_TYPES: dict[str, type] = {"authentication.anonymous.enabled": bool, "authorization.mode": str,
                           "readOnlyPort": int, "authentication.x509.clientCAFile": str}
_SECURE = {"authentication.anonymous.enabled": False, "authorization.mode": "Webhook", "readOnlyPort": 0,
           "authentication.x509.clientCAFile": "(set by the distribution)"}


def kubelet_auth(view: NodeView) -> dict[str, _Value]:
    """The effective value of each auth setting, as the kubelet decides it: a flag, else the
    merged config files, else the defaults (v1beta1's with --config, the flags' without)."""
    inv = view.invocation
    if inv.kind == "none":
        return {}
    docs = _config_docs(view)
    if docs is None:
        return {}
    for setting, (field, *_) in _SETTINGS.items():
        for _, data in docs:
            value = config_value(data, field)
            if value is not None and not _well_typed(value, _TYPES[setting]):
                return {}  # a wrongly typed field: the kubelet cannot decode the file
    flags = parse_args([a.value for a in inv.args])
    values: dict[str, _Value] = {}
    for setting, (field, flag, parse, file_default, cli_default) in _SETTINGS.items():
        given = flags.get(flag)
        if given is not None:
            origin = inv.args[given.index - 1].origin if 0 < given.index <= len(inv.args) else None
            source = origin.source if origin is not None else None
            where = origin.where() if origin is not None else "the command line"
            values[setting] = _Value(parse(given.value), f"--{flag}={given.value} from {where}",
                                     None if source is None or source.startswith("/proc/") else source)
            continue
        setters = [path for path, data in docs if config_value(data, field) is not None]
        if setters:
            value = config_value(view.config, field)
            values[setting] = _Value(value, f"{setting}: {_yaml(value)} in {setters[-1]}", setters[-1])
        elif inv.kind in SECURE_EMBEDDERS:
            values[setting] = _Value(_SECURE[setting], f"{inv.kind} default", None)
        elif view.config_file:
            values[setting] = _Value(file_default, f"unset in {view.config_file}: KubeletConfiguration "
                                                   f"v1beta1 default", view.config_file)
        else:
            unit = inv.unit.unit_path if inv.unit is not None else None
            values[setting] = _Value(cli_default, f"no --config and no --{flag}: kubelet flag default", unit)
    return values


@rule("PA406", "high", "kubelet API open: anonymous auth, AlwaysAllow, read-only port or no client CA",
      what="The kubelet's effective authentication and authorization, decided as the kubelet decides them: "
           "--anonymous-auth, --authorization-mode, --read-only-port and --client-ca-file on the command line "
           "beat the config file and drop-ins; unset fields take the KubeletConfiguration v1beta1 defaults "
           "when a --config file is used (anonymous off, Webhook, port 0) and the flag defaults when none is "
           "(anonymous ON, AlwaysAllow, read-only port 10255). One finding per setting.",
      why="CIS Kubernetes 4.2.1 (anonymous auth off), 4.2.2 (authorization not AlwaysAllow), 4.2.3 (client CA "
          "set) and 4.2.4 (readOnlyPort 0). An open kubelet API on :10250 lets anyone on the network list "
          "pods, read their environment and exec into any container, static pods included; the read-only "
          "port :10255 leaks pod specs without any authentication.",
      fix="In the kubelet config file (/var/lib/kubelet/config.yaml): `authentication: {anonymous: {enabled: "
          "false}, webhook: {enabled: true}, x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}}`, "
          "`authorization: {mode: Webhook}`, `readOnlyPort: 0`; remove any overriding --anonymous-auth, "
          "--authorization-mode, --read-only-port flag from the unit, kubeadm-flags.env or /etc/default/kubelet; "
          "then `systemctl daemon-reload && systemctl restart kubelet`.",
      example="node-9: kubelet anonymous authentication is enabled (no --config and no --anonymous-auth: "
              "kubelet flag default)")
def kubelet_api_open(ctx: NodeContext) -> Iterator[Finding]:
    node = ctx.node
    values = kubelet_auth(ctx.view)
    anonymous = values.get("authentication.anonymous.enabled")
    if anonymous is not None and anonymous.value is True:
        yield finding("PA406", node, anonymous.path,
                      f"{node}: kubelet anonymous authentication is enabled ({anonymous.why})",
                      key="authentication.anonymous.enabled")
    mode = values.get("authorization.mode")
    if mode is not None and mode.value == "AlwaysAllow":
        yield finding("PA406", node, mode.path,
                      f"{node}: kubelet authorization mode is AlwaysAllow ({mode.why})", key="authorization.mode")
    port = values.get("readOnlyPort")
    if port is not None and isinstance(port.value, int) and not isinstance(port.value, bool) and port.value != 0:
        yield finding("PA406", node, port.path,
                      f"{node}: kubelet read-only port {port.value} is open, no authentication ({port.why})",
                      key="readOnlyPort")
    ca = values.get("authentication.x509.clientCAFile")
    if ca is not None and isinstance(ca.value, str) and not ca.value:
        yield finding("PA406", node, ca.path,
                      f"{node}: kubelet has no client CA file, client certificates are not verified ({ca.why})",
                      key="authentication.x509.clientCAFile")
