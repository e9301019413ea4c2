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
from typing import Any

from podaudit.kubelet.flags import parse_args
from podaudit.kubelet.yamlload import DecodeError, decode_document
from podaudit.model import Arg, NodeReader, Step

DATA_DIRS = {"k3s": "/var/lib/rancher/k3s", "rke2": "/var/lib/rancher/rke2"}
CONFIG_FILES = {"k3s": "/etc/rancher/k3s/config.yaml", "rke2": "/etc/rancher/rke2/config.yaml"}
SNAP_DATA = "/var/snap/microk8s/current"
SNAP_COMMON = "/var/snap/microk8s/common"


def k3s_like_args(
    kind: str, words: tuple[Arg, ...], reader: NodeReader
) -> tuple[tuple[Arg, ...], dict[str, Arg], tuple[Step, ...]]:
    """Kubelet arguments k3s or rke2 would give its kubelet, distro defaults, and the steps."""
    config_path = CONFIG_FILES[kind]
    config, config_lines = _read_config(reader, config_path)
    flags = parse_args([w.value for w in words])
    flag = flags.get("data-dir") or flags.get("d")
    data_dir = _setting(flag.value if flag else None, config.get("data-dir"), DATA_DIRS[kind])
    args: list[Arg] = []
    steps = [Step(f"{kind} embeds the kubelet; data dir {data_dir}", config_path)]
    conf_d = f"{data_dir}/agent/etc/kubelet.conf.d"
    if reader.file(conf_d).kind == "dir":
        args.append(Arg(f"--config-dir={conf_d}", Step(f"{kind} passes --config-dir={conf_d} to its kubelet", conf_d)))
    node_name = _node_name(words, config, config_lines, config_path)
    if node_name is not None:
        args.append(node_name)
    args.extend(_kubelet_arg_values(words, config, config_lines, config_path))
    default = f"{data_dir}/agent/pod-manifests"
    defaults = {"pod-manifest-path": Arg(default, Step(f"{kind} default static pod path {default}", config_path))}
    return tuple(args), defaults, tuple(steps)


def _setting(*values: Any) -> str:
    return next(str(v) for v in values if isinstance(v, str) and v)


def _read_config(reader: NodeReader, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    record = reader.file(path)
    if record.data is None:
        return {}, {}
    try:
        decoded = decode_document(record.data)
    except DecodeError:
        return {}, {}
    return (decoded.value, decoded.key_lines) if isinstance(decoded.value, dict) else ({}, {})


def _node_name(words: tuple[Arg, ...], config: dict[str, Any], lines: dict[str, int], path: str) -> Arg | None:
    flags = parse_args([w.value for w in words])
    flag = flags.get("node-name")
    if flag is not None:
        origin = words[flag.index - 1].origin
        return Arg(f"--hostname-override={flag.value}", Step(f"--node-name {flag.value}", origin.source, origin.line))
    value = config.get("node-name")
    if isinstance(value, str) and value:
        return Arg(f"--hostname-override={value}", Step(f"node-name: {value}", path, lines.get("node-name")))
    return None


def _kubelet_arg_values(words: tuple[Arg, ...], config: dict[str, Any], lines: dict[str, int], path: str) -> list[Arg]:
    """``kubelet-arg`` from the config file, then ``--kubelet-arg`` flags (later wins)."""
    found: list[Arg] = []
    value = config.get("kubelet-arg")
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    for item in items:
        found.append(Arg(f"--{str(item).lstrip('-')}", Step(f"kubelet-arg: {item}", path, lines.get("kubelet-arg"))))
    values = [w.value for w in words]
    for i, word in enumerate(values):
        item = None
        if word.startswith("--kubelet-arg="):
            item = word.partition("=")[2]
        elif word == "--kubelet-arg" and i + 1 < len(values):
            item = values[i + 1]
        if item is not None:
            origin = words[i].origin
            found.append(Arg(f"--{item.lstrip('-')}", Step(f"--kubelet-arg {item}", origin.source, origin.line)))
    return found


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
