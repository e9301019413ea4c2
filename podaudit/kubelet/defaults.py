"""The defaulting the kubelet applies to a static pod before validating it, where it changes
what validation says.

Mirrors pkg/apis/core/v1/defaults.go and zz_generated.defaults.go SetObjectDefaults_Pod
(v1.35.4): SetDefaults_Pod (requests copied from limits; under hostNetwork an unset hostPort
takes the containerPort, for containers and initContainers), SetDefaults_PodSpec (dnsPolicy
ClusterFirst, restartPolicy Always, only when empty), SetDefaults_Volume (a volume with no
source is an emptyDir), SetDefaults_HostPathVolumeSource (type ""), the port protocol TCP,
SetDefaults_Probe (timeout 1, period 10, success 1, failure 3 when 0), SetDefaults_HTTPGetAction
and SetDefaults_ResourceList (every quantity rounded up to milli units). Read on the fly from
the decoded manifest: nothing is copied.

Values read here are Go's zero value when absent or null, as the typed decoding leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podaudit.kubelet.quantity import Quantity, quantity_of, rounded_to_milli

PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


def go_str(mapping: dict[str, Any], key: str) -> str:
    """A string field: "" when absent, null or (never after typed decoding) not a string."""
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def go_int(mapping: dict[str, Any], key: str) -> int:
    """An integer field: 0 when absent or null; a whole float (YAML 1e3) is the JSON number it was."""
    value = mapping.get(key)
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return 0


def go_bool(mapping: dict[str, Any], key: str) -> bool:
    return mapping.get(key) is True


def present(mapping: dict[str, Any], key: str) -> bool:
    """A pointer field is set: present and not null."""
    return mapping.get(key) is not None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[dict[str, Any]]:
    """The elements of a list field, each as a mapping (a wrong type reads as empty)."""
    return [mapping(v) for v in value] if isinstance(value, list) else []


def restart_policy(spec: dict[str, Any]) -> str:
    return go_str(spec, "restartPolicy") or "Always"


def dns_policy(spec: dict[str, Any]) -> str:
    return go_str(spec, "dnsPolicy") or "ClusterFirst"


def protocol(port: dict[str, Any]) -> str:
    return go_str(port, "protocol") or "TCP"


def host_port(port: dict[str, Any], host_network: bool) -> int:
    """defaultHostNetworkPorts: hostPort 0 becomes the containerPort under hostNetwork."""
    value = go_int(port, "hostPort")
    return go_int(port, "containerPort") if host_network and value == 0 else value


def probe_int(probe: dict[str, Any], key: str) -> int:
    value = go_int(probe, key)
    return PROBE_DEFAULTS.get(key, 0) if value == 0 else value


def volume_kinds(volume: dict[str, Any], kinds: tuple[str, ...]) -> list[str]:
    """The volume sources set, in VolumeSource order; none set is an emptyDir (SetDefaults_Volume)."""
    found = [kind for kind, value in volume.items() if value is not None and kind in kinds]
    if len(found) > 1:
        found.sort(key=kinds.index)
    return found or ["emptyDir"]


def host_path_type(host_path: dict[str, Any]) -> str:
    return go_str(host_path, "type")


ResourceList = dict[str, Quantity | None]


def resource_lists(container: dict[str, Any]) -> tuple[ResourceList, ResourceList]:
    """Limits and requests after SetDefaults_Pod and SetDefaults_ResourceList. A value podaudit
    cannot read (None) is one the typed decoding rejects, or out of podaudit's bounds."""
    resources = mapping(container.get("resources"))
    limits = _resource_list(resources.get("limits"))
    requests = _resource_list(resources.get("requests"))
    if isinstance(resources.get("limits"), dict):
        for name, quantity in limits.items():
            requests.setdefault(name, quantity)
    return limits, requests


def _resource_list(value: Any) -> ResourceList:
    if not isinstance(value, dict):
        return {}
    result: ResourceList = {}
    for name, raw in value.items():
        quantity = quantity_of(raw)
        result[str(name)] = rounded_to_milli(quantity) if quantity is not None else None
    return result


@dataclass(frozen=True)
class ValidationOptions:
    """The PodValidationOptions a kubelet validates static pods with (common.go
    tryDecodeSinglePod). Up to v1.34 it passes ``PodValidationOptions{}``: every option off
    whatever the feature gates; from v1.35 (PR #135031) GetValidationOptionsFromPodSpecAndMeta
    takes them from the gates, on by default in 1.35 for these three."""

    relaxed_env_names: bool = True  # RelaxedEnvironmentVariableValidation (GA 1.34)
    zero_sleep: bool = True  # PodLifecycleSleepActionAllowZero
    container_restart_rules: bool = True  # ContainerRestartRules (beta 1.35)


def options_for(minor: int | None) -> ValidationOptions:
    """The options of a kubelet 1.<minor>; None is the current release (1.35)."""
    return ValidationOptions() if minor is None or minor >= 35 else ValidationOptions(False, False, False)
