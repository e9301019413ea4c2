"""Distributions that embed or wrap the kubelet: k3s, rke2 and MicroK8s.

k3s reads its options from flags and /etc/rancher/k3s/config.yaml (+ config.yaml.d), then
builds the kubelet's words (``launch_k3s``). rke2 embeds k3s's agent and runs a real
``kubelet`` child, which is read like any kubelet; these rules apply when that child is not
running. MicroK8s ``kubelite`` reads kubelet flags from ``--kubelet-args-file``
(``launch_microk8s``). The ``*_launch`` functions also say what stops the launcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podaudit.kubelet import launch_k3s
from podaudit.kubelet.launch import Launch
from podaudit.kubelet.launch_microk8s import kubelite_launch
from podaudit.kubelet.yamlload import DecodeError, decode_document
from podaudit.model import Arg, NodeReader, Step, go_sorted

__all__ = ["K3sSettings", "k3s_launch", "kubelite_launch", "scan_k3s_flags"]

DATA_DIRS = {"k3s": "/var/lib/rancher/k3s", "rke2": "/var/lib/rancher/rke2"}
CONFIG_FILES = {"k3s": "/etc/rancher/k3s/config.yaml", "rke2": "/etc/rancher/rke2/config.yaml"}
# The k3s/rke2 (urfave/cli) options that decide the kubelet's files; every other option is
# ignored, so an unknown boolean can never swallow one of these.
K3S_OPTIONS = {"--data-dir": "data-dir", "-d": "data-dir", "--node-name": "node-name",
               "--kubelet-arg": "kubelet-arg", "--config": "config", "-c": "config",
               "--cloud-provider-name": "cloud-provider-name", "--node-label": "node-label"}


@dataclass
class K3sSettings:
    """k3s/rke2 settings that shape the kubelet, each value with its origin (last wins)."""

    values: dict[str, list[Arg]] = field(default_factory=dict)
    config_files: list[str] = field(default_factory=list)

    def last(self, key: str) -> Arg | None:
        found = self.values.get(key)
        return found[-1] if found else None


def k3s_launch(kind: str, words: tuple[Arg, ...], reader: NodeReader, hostname: str | None = None) -> Launch:
    """k3s's startKubelet: its own flags, the user's kubelet-arg merged over them (GetArgs)."""
    settings, config_path = _k3s_settings(kind, words, reader)
    data = settings.last("data-dir")
    data_dir = data.value if data else DATA_DIRS[kind]
    steps = [Step(f"{kind} embeds the kubelet; data dir {data_dir}", data.origin.source if data else config_path)]
    conf_d = f"{data_dir}/agent/etc/kubelet.conf.d"
    managed = reader.file(conf_d).kind == "dir"
    default = f"{data_dir}/agent/pod-manifests"
    extra = settings.values.get("kubelet-arg", [])
    # A k3s from before kubelet.conf.d had no extractConfigArgs: every kubelet-arg went through.
    found = launch_k3s.extract_config_args(extra) if managed else launch_k3s.Extracted(kept=list(extra))
    name = settings.last("node-name") or launch_k3s.hostname(hostname)
    own = launch_k3s.own_args(kind, conf_d if managed else None, default, name,
                              settings.values.get("node-label", []))
    args = launch_k3s.get_args(own, found.kept)
    if kind == "rke2":
        args = [*launch_k3s.rke2_first(settings.last("cloud-provider-name")), *args]
    copied, problems = launch_k3s.copy_problems(reader, conf_d, found.stripped) if managed else ([], [])
    defaults = {"pod-manifest-path": Arg(default, Step(f"{kind} default static pod path {default}", config_path))}
    return Launch(tuple(args), (*steps, *copied), (*found.problems, *problems), defaults)


def _k3s_settings(kind: str, words: tuple[Arg, ...], reader: NodeReader) -> tuple[K3sSettings, str]:
    settings = K3sSettings()
    flags = scan_k3s_flags(words)
    config_flag = flags.get("config")
    config_path = config_flag[-1].value if config_flag else CONFIG_FILES[kind]
    _read_k3s_config(reader, config_path, settings)
    for key, found in flags.items():  # flags beat the config files
        settings.values[key] = [*settings.values.get(key, []), *found] if key == "kubelet-arg" else found
    return settings, config_path


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
