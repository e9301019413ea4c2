"""KubeletConfiguration files: ``--config`` and the ``--config-dir`` drop-ins.

Mirrors cmd/kubelet/app/server.go: ``loadConfigFile`` (a relative path in the file is made
absolute against the file's own directory, configfiles.Load / resolveRelativePaths), then
``mergeKubeletConfigurations`` (every ``*.conf`` under --config-dir, walked in lexical order,
applied as an RFC 7386 JSON merge patch).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from podaudit.kubelet.yamlload import DecodeError, decode_document
from podaudit.model import DENIED, NodeReader, Problem, ProblemKind, Step, go_sorted

Layer = Literal["config", "config-dir"]
CONFIG_API_VERSION = "kubelet.config.k8s.io/v1beta1"
CONFIG_KIND = "KubeletConfiguration"
# Fields whose value is a path (KubeletConfigurationPathRefs) that we read.
PATH_FIELDS = ("staticPodPath",)
# Every field podaudit reads (resolve.py, auth.py; the rules: rules_kubelet.FLAG_FIELDS):
# --redact keeps these values and replaces the others.
READ_FIELDS = (
    "apiVersion", "kind", "staticPodPath", "staticPodURL", "readOnlyPort", "authentication.anonymous.enabled",
    "authentication.webhook.enabled", "authentication.x509.clientCAFile", "authorization.mode", "cgroupDriver",
    "maxPods", "clusterDomain", "fileCheckFrequency", "rotateCertificates", "failSwapOn", "containerRuntimeEndpoint",
)


@dataclass(frozen=True)
class ConfigDoc:
    """One decoded KubeletConfiguration file."""

    path: str
    data: dict[str, Any]
    key_lines: dict[str, int]
    # Why it cannot be used: the kubelet refuses it (CONFIG), or podaudit may not read it (UNREADABLE).
    error: Problem | None = None

    @property
    def unreadable(self) -> bool:
        """The error is ours (podaudit may not read the file), not the kubelet's."""
        return self.error is not None and self.error.kind is ProblemKind.UNREADABLE


@dataclass
class MergedConfig:
    """The config after the file and the drop-ins, with where each top-level key was last set."""

    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, Step] = field(default_factory=dict)
    # For each key in ``origin``: set by the --config file, or by a --config-dir drop-in.
    layer: dict[str, Layer] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_config_doc(reader: NodeReader, path: str) -> ConfigDoc:
    """Read and decode one KubeletConfiguration file; errors become ``ConfigDoc.error``."""
    record = reader.file(path)
    if not record.readable or record.data is None:
        reason = record.error or ("is a directory" if record.kind == "dir" else record.kind)
        kind = ProblemKind.UNREADABLE if record.kind in {"denied", "uncollected"} else ProblemKind.CONFIG
        return ConfigDoc(path, {}, {}, Problem(kind, path, reason, form="cannot read {path}: {detail}"))
    return parse_config_doc(path, record.data)


def parse_config_doc(path: str, data: bytes) -> ConfigDoc:
    """Decode bytes as a KubeletConfiguration; never raises."""
    try:
        decoded = decode_document(data)
    except DecodeError as exc:
        return ConfigDoc(path, {}, {}, Problem(ProblemKind.CONFIG, path, str(exc)))
    value = decoded.value
    if not isinstance(value, dict):
        return ConfigDoc(path, {}, {}, Problem(ProblemKind.CONFIG, path, "not a KubeletConfiguration (no mapping)"))
    kind, api = value.get("kind"), value.get("apiVersion")
    if kind != CONFIG_KIND or api != CONFIG_API_VERSION:
        # Only v1beta1 KubeletConfiguration is registered in the kubelet's config scheme.
        why = (f"has no apiVersion and kind, so it is not a {CONFIG_API_VERSION} {CONFIG_KIND}"
               if not kind and not api else f"a {api} {kind}, not a {CONFIG_API_VERSION} {CONFIG_KIND}")
        return ConfigDoc(path, {}, decoded.key_lines, Problem(ProblemKind.CONFIG, path, why))
    return ConfigDoc(path, value, decoded.key_lines)


def absolutize_paths(doc: ConfigDoc) -> ConfigDoc:
    """configfiles.Load: relative path fields are resolved against the file's directory."""
    data = dict(doc.data)
    base = posixpath.dirname(doc.path)
    for key in PATH_FIELDS:
        value = data.get(key)
        if isinstance(value, str) and value and not value.startswith("/"):
            data[key] = posixpath.normpath(posixpath.join(base, value))
    return ConfigDoc(doc.path, data, doc.key_lines, doc.error)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, null deletes, anything else replaces (iteratively:
    node files may nest deeply)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    work = [(result, patch)]
    while work:
        into, changes = work.pop()
        for key, value in changes.items():
            if value is None:
                into.pop(key, None)
            elif isinstance(value, dict):
                into[key] = dict(into[key]) if isinstance(into.get(key), dict) else {}
                work.append((into[key], value))
            else:
                into[key] = value
    return result


def dropin_files(reader: NodeReader, directory: str, trailing_slash: bool = False) -> tuple[list[str], list[Problem]]:
    """The ``*.conf`` files under a --config-dir, in filepath.WalkDir order, and problems.

    mergeKubeletConfigurations walks with filepath.WalkDir, which Lstat()s the root: a missing
    root is an error (the kubelet exits), a root that is a symbolic link is walked as a link,
    which is no directory, so no drop-in is read (unless the flag ends in "/", which makes the
    kernel resolve it), and a root that is itself a ``.conf`` file is the one drop-in."""
    record = reader.file(directory)
    if record.kind in {"denied", "uncollected"}:
        return [], [Problem(ProblemKind.UNREADABLE, directory, f"{record.error or record.kind}",
                            form="--config-dir {path}: {detail}")]
    if record.kind == "missing":
        why = (f'failed to merge kubelet configs: failed to walk through kubelet dropin directory "{directory}": '
               f"lstat {directory}: no such file or directory")
        return [], [Problem(ProblemKind.CANNOT_START, directory, why, form="--config-dir {path}: {detail}")]
    if record.link is not None and not trailing_slash:
        why = ("is a symbolic link: filepath.WalkDir does not follow it, so the kubelet reads no drop-in "
               "(end the flag with / or name the real directory)")
        return [], [Problem(ProblemKind.CONFIG, directory, why, form="--config-dir {path} {detail}")]
    if record.kind != "dir":
        return ([directory] if posixpath.splitext(directory)[1] == ".conf" else []), []
    files: list[str] = []
    problems: list[Problem] = []
    _walk(reader, directory, files, problems, depth=0)
    return files, problems


def _walk(reader: NodeReader, directory: str, out: list[str], problems: list[Problem], depth: int) -> None:
    listing = reader.listdir(directory)
    if listing.names is None:
        # WalkDir hands a ReadDir error to the walk function, which returns it: the kubelet
        # exits. Only when podaudit may not read it is the answer merely unknown.
        kind = ProblemKind.UNREADABLE if listing.error == DENIED else ProblemKind.CANNOT_START
        problems.append(Problem(kind, directory, f"{listing.error}", form="--config-dir {path}: {detail}"))
        return
    for name in go_sorted(listing.names):
        path = posixpath.join(directory, name)
        record = reader.file(path)
        # WalkDir does not follow a symlink to a directory (its DirEntry is the link itself);
        # a depth cap guards against pathological trees.
        if record.kind == "dir" and record.link is None and depth < 16:
            _walk(reader, path, out, problems, depth + 1)
        elif posixpath.splitext(name)[1] == ".conf":  # filepath.Ext(name) == ".conf", case-sensitive
            out.append(path)


def merge_config(base: ConfigDoc | None, dropins: list[ConfigDoc]) -> MergedConfig:
    """Apply drop-ins over the base file, tracking which file last set each key."""
    merged = MergedConfig()
    for doc, layer in [*([(base, "config")] if base else []), *((d, "config-dir") for d in dropins)]:
        merged.files.append(doc.path)
        if doc.error is not None:
            # loadConfigFile / mergeKubeletConfigurations: any load error stops the kubelet.
            if doc.unreadable:
                merged.problems.append(doc.error)
            else:
                refused = doc.error.detail + ": the kubelet refuses to start with this file"
                merged.problems.append(replace(doc.error, kind=ProblemKind.CANNOT_START, detail=refused))
            continue
        merged.data = merge_patch(merged.data, doc.data)
        for key, value in doc.data.items():
            if key in {"apiVersion", "kind"}:
                continue
            if value is None:
                merged.origin.pop(key, None)
                merged.layer.pop(key, None)
            else:
                merged.origin[key] = _origin(doc, key, f"--{layer} file")
                merged.layer[key] = layer  # type: ignore[assignment]
    return merged


# What ``config_value`` returns when a mapping on the way is not one (the kubelet cannot decode it).
INVALID = object()


def config_value(data: Any, field: tuple[str, ...]) -> Any:
    """The value at ``field`` (a path of keys); None when unset; INVALID when a mapping on
    the way is not one."""
    for key in field:
        if data is None:
            return None
        if not isinstance(data, dict):
            return INVALID
        data = data.get(key)
    return data


def _origin(doc: ConfigDoc, key: str, how: str) -> Step:
    value = doc.data.get(key)
    shown = value if isinstance(value, (str, int, float, bool)) else "{...}"
    return Step(f"{key}: {shown} ({how})", doc.path, doc.key_lines.get(key))
