"""The kubelet's own API authentication and authorization, decided as the kubelet decides them.

A flag on the command line beats the config file and its drop-ins (kubeletConfigFlagPrecedence);
an unset field takes the KubeletConfiguration v1beta1 default when a --config file is used
(pkg/kubelet/apis/config/v1beta1/defaults.go: anonymous off, Webhook, read-only port 0) and
the flag default when none is (cmd/kubelet/app/options: anonymous ON, AlwaysAllow, port 10255).
k3s and rke2 always pass secure flags (pkg/daemons/agent). CIS Kubernetes 4.2.1-4.2.4 judge
the result (audit/rules_kubelet_api.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from podaudit.kubelet.config import config_value
from podaudit.kubelet.resolve import NodeView
from podaudit.model import FileRecord

T = TypeVar("T", bool, int, str)
# Distributions that run the kubelet in-process and always pass it secure auth flags
# (k3s pkg/daemons/agent: --anonymous-auth=false, --authorization-mode=Webhook,
# --read-only-port=0, --client-ca-file=<agent>/client-ca.crt).
SECURE_EMBEDDERS = frozenset({"k3s", "rke2"})


def go_bool(text: str) -> bool | None:
    """strconv.ParseBool."""
    if text in {"1", "t", "T", "true", "TRUE", "True"}:
        return True
    if text in {"0", "f", "F", "false", "FALSE", "False"}:
        return False
    return None


def go_int(text: str) -> int | None:
    """strconv.ParseInt base 10 (no spaces, no underscores)."""
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


@dataclass(frozen=True)
class AuthSetting(Generic[T]):
    """One setting: its config field and flag, how the kubelet parses the flag, its type in
    the config file, and its defaults (v1beta1 with --config, the flag's without, k3s/rke2's)."""

    name: str
    field: tuple[str, ...]
    flag: str
    parse: Callable[[str], T | None]
    kind: type[T]
    file_default: T
    cli_default: T
    embedded: T | None  # None: set by the distribution, value unknown here (a path)

    def well_typed(self, value: Any) -> bool:
        """JSON decoding into the Go field: a bool is no int, an int no bool."""
        return isinstance(value, self.kind) and (self.kind is bool or not isinstance(value, bool))


ANONYMOUS = AuthSetting("authentication.anonymous.enabled", ("authentication", "anonymous", "enabled"),
                        "anonymous-auth", go_bool, bool, False, True, False)
MODE = AuthSetting("authorization.mode", ("authorization", "mode"), "authorization-mode", str, str,
                   "Webhook", "AlwaysAllow", "Webhook")
READ_ONLY_PORT = AuthSetting("readOnlyPort", ("readOnlyPort",), "read-only-port", go_int, int, 0, 10255, 0)
CLIENT_CA = AuthSetting("authentication.x509.clientCAFile", ("authentication", "x509", "clientCAFile"),
                        "client-ca-file", str, str, "", "", None)
AUTH_SETTINGS: tuple[AuthSetting[Any], ...] = (ANONYMOUS, MODE, READ_ONLY_PORT, CLIENT_CA)


@dataclass(frozen=True)
class Decided(Generic[T]):
    """A setting's effective value (None: a flag the kubelet cannot parse, or a value only the
    distribution knows), what decided it, and the file to change (None: the process's argv)."""

    value: T | None
    why: str
    path: str | None


@dataclass(frozen=True)
class KubeletAuth:
    anonymous: Decided[bool]
    mode: Decided[str]
    read_only_port: Decided[int]
    client_ca: Decided[str]


def kubelet_auth(view: NodeView) -> KubeletAuth | None:
    """The effective value of each setting; None when they cannot be judged (no kubelet, a
    config file unreadable or undecodable: the kubelet refuses to start, or podaudit cannot tell)."""
    if view.invocation.kind == "none":
        return None
    docs = _config_docs(view)
    if docs is None:
        return None
    for setting in AUTH_SETTINGS:
        for _, data in docs:
            value = config_value(data, setting.field)
            if value is not None and not setting.well_typed(value):
                return None  # a wrongly typed field: the kubelet cannot decode the file
    return KubeletAuth(_decide(view, docs, ANONYMOUS), _decide(view, docs, MODE),
                       _decide(view, docs, READ_ONLY_PORT), _decide(view, docs, CLIENT_CA))


def _config_docs(view: NodeView) -> list[tuple[str, dict[str, Any]]] | None:
    """The --config file and drop-ins in merge order, or None when one cannot be judged."""
    if view.config_dir and view.records.get(view.config_dir, FileRecord(view.config_dir, "missing")).kind != "dir":
        return None
    if view.config_file and not any(d.path == view.config_file for d in view.config_docs):
        return None
    if any(d.error for d in view.config_docs):
        return None
    return [(d.path, d.data) for d in view.config_docs]


def _decide(view: NodeView, docs: list[tuple[str, dict[str, Any]]], setting: AuthSetting[T]) -> Decided[T]:
    """A flag, else the merged config files, else the defaults."""
    inv = view.invocation
    given = view.flags.get(setting.flag)
    if given is not None:
        origin = inv.args[given.index - 1].origin if 0 < given.index <= len(inv.args) else None
        source = origin.source if origin is not None else None
        where = origin.where() if origin is not None else "the command line"
        return Decided(setting.parse(given.value), f"--{setting.flag}={given.value} from {where}",
                       None if source is None or source.startswith("/proc/") else source)
    setters = [path for path, data in docs if config_value(data, setting.field) is not None]
    if setters:
        value = config_value(view.config, setting.field)
        typed = value if setting.well_typed(value) else None
        return Decided(typed, f"{setting.name}: {_yaml(value)} in {setters[-1]}", setters[-1])
    if inv.kind in SECURE_EMBEDDERS:
        return Decided(setting.embedded, f"{inv.kind} default", None)
    if view.config_file:
        return Decided(setting.file_default, f"unset in {view.config_file}: KubeletConfiguration v1beta1 default",
                       view.config_file)
    unit = inv.unit.unit_path if inv.unit is not None else None
    return Decided(setting.cli_default, f"no --config and no --{setting.flag}: kubelet flag default", unit)


def _yaml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
