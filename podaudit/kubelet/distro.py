"""Distributions that embed or wrap the kubelet: k3s, rke2 and MicroK8s.

k3s (pkg/daemons/agent, pkg/agent/config) runs the kubelet in-process with
``--config-dir=<data-dir>/agent/etc/kubelet.conf.d``, whose ``00-k3s-defaults.conf`` sets
``staticPodPath: <data-dir>/agent/pod-manifests``; older releases passed
``--pod-manifest-path`` with that directory. User ``kubelet-arg`` values (flags or
/etc/rancher/k3s/config.yaml) are appended. rke2 embeds k3s's agent and runs a real
``kubelet`` child, which is read like any kubelet; these rules apply when that child is not
running. MicroK8s ``kubelite`` reads kubelet flags from ``--kubelet-args-file``, one per line.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.yamlload import DecodeError, decode_document
from podaudit.model import Arg, NodeReader, Step, go_sorted

DATA_DIRS = {"k3s": "/var/lib/rancher/k3s", "rke2": "/var/lib/rancher/rke2"}
CONFIG_FILES = {"k3s": "/etc/rancher/k3s/config.yaml", "rke2": "/etc/rancher/rke2/config.yaml"}
SNAP_DATA = "/var/snap/microk8s/current"
SNAP_COMMON = "/var/snap/microk8s/common"
# The k3s/rke2 (urfave/cli) options that decide the kubelet's files; every other option is
# ignored, so an unknown boolean can never swallow one of these.
K3S_OPTIONS = {"--data-dir": "data-dir", "-d": "data-dir", "--node-name": "node-name",
               "--kubelet-arg": "kubelet-arg", "--config": "config", "-c": "config"}


@dataclass
class K3sSettings:
    """k3s/rke2 settings that shape the kubelet, each value with its origin (last wins)."""

    values: dict[str, list[Arg]] = field(default_factory=dict)
    config_files: list[str] = field(default_factory=list)

    def last(self, key: str) -> Arg | None:
        found = self.values.get(key)
        return found[-1] if found else None


def k3s_like_args(
    kind: str, words: tuple[Arg, ...], reader: NodeReader
) -> tuple[tuple[Arg, ...], dict[str, Arg], tuple[Step, ...]]:
    """Kubelet arguments k3s or rke2 would give its kubelet, distro defaults, and the steps."""
    settings = K3sSettings()
    flags = scan_k3s_flags(words)
    config_flag = flags.get("config")
    config_path = config_flag[-1].value if config_flag else CONFIG_FILES[kind]
    _read_k3s_config(reader, config_path, settings)
    for key, found in flags.items():  # flags beat the config files
        settings.values[key] = [*settings.values.get(key, []), *found] if key == "kubelet-arg" else found
    data = settings.last("data-dir")
    data_dir = data.value if data else DATA_DIRS[kind]
    steps = [Step(f"{kind} embeds the kubelet; data dir {data_dir}", data.origin.source if data else config_path)]
    args: list[Arg] = []
    conf_d = f"{data_dir}/agent/etc/kubelet.conf.d"
    if reader.file(conf_d).kind == "dir":
        args.append(Arg(f"--config-dir={conf_d}", Step(f"{kind} passes --config-dir={conf_d} to its kubelet", conf_d)))
    node_name = settings.last("node-name")
    if node_name is not None:
        args.append(Arg(f"--hostname-override={node_name.value}", node_name.origin))
    args += [Arg(f"--{a.value.lstrip('-')}", a.origin) for a in settings.values.get("kubelet-arg", [])]
    default = f"{data_dir}/agent/pod-manifests"
    defaults = {"pod-manifest-path": Arg(default, Step(f"{kind} default static pod path {default}", config_path))}
    return tuple(args), defaults, tuple(steps)


def scan_k3s_flags(words: tuple[Arg, ...]) -> dict[str, list[Arg]]:
    """One pass over k3s/rke2 argv: ``--name=value``, ``--name value``, ``-d value``."""
    found: dict[str, list[Arg]] = {}
    i = 0
    while i < len(words):
        word = words[i].value
        name, eq, inline = word.partition("=")
        key = K3S_OPTIONS.get(name)
        if key is not None and (eq or i + 1 < len(words)):
            value = inline if eq else words[i + 1].value
            found.setdefault(key, []).append(Arg(value, Step(f"{name} {value}", words[i].origin.source,
                                                             words[i].origin.line)))
            i += 1 if eq else 2
            continue
        i += 1
    return found


def _read_k3s_config(reader: NodeReader, path: str, settings: K3sSettings) -> None:
    """config.yaml, then config.yaml.d/*.yaml in order; ``key+`` appends to a list."""
    directory = f"{path}.d"
    listing = reader.listdir(directory)
    extra = [f"{directory}/{n}" for n in go_sorted(listing.names or ()) if n.endswith((".yaml", ".yml"))]
    for file in (path, *extra):
        config, lines = _read_yaml(reader, file)
        if config:
            settings.config_files.append(file)
        for raw_key, value in config.items():
            key = str(raw_key).removesuffix("+")
            if key not in K3S_OPTIONS.values():
                continue
            items = value if isinstance(value, list) else [value]
            found = [Arg(str(v), Step(f"{raw_key}: {v}", file, lines.get(str(raw_key)))) for v in items
                     if isinstance(v, (str, int, float))]
            appending = str(raw_key).endswith("+")
            settings.values[key] = [*settings.values.get(key, []), *found] if appending else found


def _read_yaml(reader: NodeReader, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    record = reader.file(path)
    if record.data is None:
        return {}, {}
    try:
        decoded = decode_document(record.data)
    except DecodeError:
        return {}, {}
    return (decoded.value, decoded.key_lines) if isinstance(decoded.value, dict) else ({}, {})


def kubelite_args(words: tuple[Arg, ...], reader: NodeReader) -> tuple[tuple[Arg, ...], tuple[Step, ...]]:
    """MicroK8s: the kubelet's flags are the lines of ``--kubelet-args-file``."""
    flag = parse_args([w.value for w in words]).get("kubelet-args-file")
    path = _snap_expand(flag.value if flag else "$SNAP_DATA/args/kubelet")
    step = Step(f"kubelite reads kubelet flags from {path}", path)
    record = reader.file(path)
    if record.data is None:
        return (), (step, Step(f"cannot read {path}: {record.error or record.kind}", path))
    args = []
    for number, raw in enumerate(record.data.decode("utf-8", "replace").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        word = _snap_expand(f"{name}={_unquote(value)}" if eq else name)
        args.append(Arg(word, Step(line, path, number)))
    return tuple(args), (step,)


def _snap_expand(text: str) -> str:
    for var, value in (("SNAP_DATA", SNAP_DATA), ("SNAP_COMMON", SNAP_COMMON)):
        text = text.replace("${" + var + "}", value).replace("$" + var, value)
    return posixpath.normpath(text) if text.startswith("/") else text


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
