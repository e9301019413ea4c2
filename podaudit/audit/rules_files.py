"""PA401-PA404: who may write what the kubelet trusts: its static pod directory (and every
directory above it), its manifests, its config, unit and env files.

File modes and owners follow CIS Kubernetes 1.1.1-1.1.8 and 4.1.x (kube-bench cfg/cis-1.10),
applied to every file the kubelet actually reads rather than a fixed list of names; the
writable-directory rule is the Threat Matrix's MS-TA9017 "Static Pods" persistence (mitigation
MS-M9016).

Every rule judges only what was read (a FileRecord of kind "file" or "dir" with a mode or an
owner) and never raises on odd data: a field of the wrong type is simply not judged.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import Finding, finding, rule
from podaudit.kubelet.manifests import ManifestEntry
from podaudit.kubelet.resolve import NodeView
from podaudit.model import FileRecord

# CIS 1.1.x: manifests 600 or stricter; the directory 700 or 755.
MANIFEST_MODE = 0o600
DIRECTORY_MODE = 0o755
# CIS 4.1.1/4.1.2, 4.1.9/4.1.10: the kubelet's unit, config and env files 600, root:root.
KUBELET_FILE_MODE = 0o600
WRITE_GROUP, WRITE_OTHER, STICKY = 0o020, 0o002, 0o1000
# Fates of the entries the kubelet opens and decodes (not dot-files, directories, sockets...).
READ_FATES = frozenset({"loaded", "shadowed", "rejected"})


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
      example="cp-1: manifest /etc/kubernetes/manifests/etcd.yaml (loaded) has mode 0644, more permissive than 0600",
      cis=("1.1.1", "1.1.3", "1.1.5", "1.1.7"))
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
      example="worker-2: manifest /etc/kubernetes/manifests/agent.yaml (loaded) is owned 1000:1000, not root:root",
      cis=("1.1.2", "1.1.4", "1.1.6", "1.1.8"))
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
      example="cp-1: kubelet config file /var/lib/kubelet/config.yaml has mode 0644, more permissive than 0600",
      cis=("4.1.1", "4.1.2", "4.1.9", "4.1.10"))
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
