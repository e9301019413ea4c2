"""Container validation the kubelet runs on a static pod (pkg/apis/core/validation/validation.go
v1.35.4): validateContainers L4025-4070, validateInitContainers L3810-3872,
validateContainerCommon L3876-3917, validateContainerPorts L2722-2758, ValidateEnv L2761-2782,
validatePullPolicy L3612-3625, validateInitContainerRestartPolicy L3317-3348,
validateContainerRestartPolicy L3683-3725, AccumulateUniqueHostPorts L3424-3445,
validatePodHostNetworkDeps L4213-4242. Read after defaulting (defaults.py).

Not judged: envFrom, env valueFrom, volumeDevices, resizePolicy, securityContext, restart
rules, stopSignal.
"""

from __future__ import annotations

from typing import Any

from podaudit.kubelet.apinames import dns_label_errors, env_name_errors, port_name_errors, port_number_errors
from podaudit.kubelet.defaults import (
    ValidationOptions,
    go_bool,
    go_int,
    go_str,
    host_port,
    items,
    mapping,
    present,
    protocol,
)
from podaudit.kubelet.fielderrors import duplicate, forbidden, invalid, not_supported, required
from podaudit.kubelet.validate_probes import lifecycle_errors, probe_errors
from podaudit.kubelet.validate_resources import resource_errors
from podaudit.kubelet.validate_volumes import validate_mounts

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
PROTOCOLS = ["SCTP", "TCP", "UDP"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
RESTART_POLICIES = ["Always", "Never", "OnFailure"]
NOT_SIDECAR = "may not be set for init containers without restartPolicy=Always"  # <=1.27: "... for init containers"


class _Pod:
    """What every container's validation needs from the pod."""

    def __init__(self, spec: dict[str, Any], volumes: set[str], options: ValidationOptions) -> None:
        self.volumes = volumes
        self.options = options
        self.host_network = go_bool(spec, "hostNetwork")
        grace = spec.get("terminationGracePeriodSeconds")
        self.grace = go_int(spec, "terminationGracePeriodSeconds") if grace is not None else 30


def container_errors(spec: dict[str, Any], volumes: set[str], options: ValidationOptions) -> list[str]:
    """validateContainers then validateInitContainers."""
    pod = _Pod(spec, volumes, options)
    containers = items(spec.get("containers"))
    errors = _regular(containers, pod) if containers else [required("spec.containers")]
    return errors + _init(items(spec.get("initContainers")), containers, pod)


def _regular(containers: list[dict[str, Any]], pod: _Pod) -> list[str]:
    errors: list[str] = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        where = f"spec.containers[{i}]"
        errors += _common(where, container, pod)
        name = go_str(container, "name")
        errors += [duplicate(f"{where}.name", name)] if name in names else []
        names.add(name)
        errors += _hooks_and_probes(where, container, pod)
        errors += _restart_policy(where, container, pod.options)
    return errors + host_port_conflicts("spec.containers", containers, pod.host_network)


def _restart_policy(where: str, container: dict[str, Any], options: ValidationOptions) -> list[str]:
    """A regular container's restartPolicy: allowed with ContainerRestartRules (1.35), Forbidden
    in 1.34 (PodValidationOptions{}); before 1.34 the field is unknown and dropped."""
    if not present(container, "restartPolicy"):
        return []
    if not options.container_restart_rules:
        return [forbidden(f"{where}.restartPolicy", "may not be set for non-init containers")]
    value = go_str(container, "restartPolicy")
    return [] if value in RESTART_POLICIES else [not_supported(f"{where}.restartPolicy", value, RESTART_POLICIES)]


def _hooks_and_probes(where: str, container: dict[str, Any], pod: _Pod) -> list[str]:
    errors: list[str] = []
    if present(container, "lifecycle"):
        errors += lifecycle_errors(f"{where}.lifecycle", mapping(container["lifecycle"]), pod.grace, pod.options)
    for kind in PROBES:
        if present(container, kind):
            errors += probe_errors(f"{where}.{kind}", kind, mapping(container[kind]), pod.grace, pod.options)
    return errors


def _init(init: list[dict[str, Any]], containers: list[dict[str, Any]], pod: _Pod) -> list[str]:
    errors: list[str] = []
    names = {go_str(c, "name") for c in containers}
    for i, container in enumerate(init):
        where = f"spec.initContainers[{i}]"
        errors += _common(where, container, pod)
        policy = go_str(container, "restartPolicy") if present(container, "restartPolicy") else None
        errors += _init_restart_policy(where, policy, pod.options)
        name = go_str(container, "name")
        if name in names:
            errors.append(duplicate(f"{where}.name", name))
        elif name:
            names.add(name)
        # Upstream checks each init container alone, as a list of one: its index is always 0.
        errors += host_port_conflicts("spec.initContainers", [container], pod.host_network)
        if policy == "Always":
            errors += _hooks_and_probes(where, container, pod)
        else:
            errors += [forbidden(f"{where}.{field}", NOT_SIDECAR)
                       for field in ("lifecycle", *PROBES) if present(container, field)]
    return errors


def _init_restart_policy(where: str, policy: str | None, options: ValidationOptions) -> list[str]:
    if policy is None or policy == "Always":
        return []
    supported = RESTART_POLICIES if options.container_restart_rules else ["Always"]
    return [] if policy in supported else [not_supported(f"{where}.restartPolicy", policy, supported)]


def _common(where: str, container: dict[str, Any], pod: _Pod) -> list[str]:
    """validateContainerCommon, in its order."""
    name, image = go_str(container, "name"), go_str(container, "image")
    errors = [required(f"{where}.name")] if not name else [invalid(f"{where}.name", name, e)
                                                            for e in dns_label_errors(name)]
    errors += [required(f"{where}.image")] if not image else []
    message = go_str(container, "terminationMessagePolicy") or "File"
    if message not in MESSAGE_POLICIES:
        errors.append(not_supported(f"{where}.terminationMessagePolicy", message, MESSAGE_POLICIES))
    errors += _ports(f"{where}.ports", container, pod.host_network)
    errors += _env(f"{where}.env", container, pod.options)
    errors += validate_mounts(where, container, pod.volumes)
    pull = go_str(container, "imagePullPolicy")  # "" is defaulted from the image's tag
    if pull and pull not in PULL_POLICIES:
        errors.append(not_supported(f"{where}.imagePullPolicy", pull, PULL_POLICIES))
    return errors + resource_errors(where, container)


def _ports(where: str, container: dict[str, Any], host_network: bool) -> list[str]:
    errors: list[str] = []
    names: set[str] = set()
    for i, port in enumerate(items(container.get("ports"))):
        at = f"{where}[{i}]"
        name = go_str(port, "name")
        problems = port_name_errors(name) if name else []
        errors += [invalid(f"{at}.name", name, e) for e in problems]
        if name and not problems:
            errors += [duplicate(f"{at}.name", name)] if name in names else []
            names.add(name)
        number = go_int(port, "containerPort")
        errors += [required(f"{at}.containerPort")] if number == 0 else [
            invalid(f"{at}.containerPort", number, e) for e in port_number_errors(number)]
        host = host_port(port, host_network)
        errors += [invalid(f"{at}.hostPort", host, e) for e in port_number_errors(host)] if host else []
        if protocol(port) not in PROTOCOLS:
            errors.append(not_supported(f"{at}.protocol", protocol(port), PROTOCOLS))
    return errors


def _env(where: str, container: dict[str, Any], options: ValidationOptions) -> list[str]:
    errors: list[str] = []
    for i, env in enumerate(items(container.get("env"))):
        name = go_str(env, "name")
        errors += [required(f"{where}[{i}].name")] if not name else [
            invalid(f"{where}[{i}].name", name, e) for e in env_name_errors(name, options.relaxed_env_names)]
    return errors


def host_port_conflicts(where: str, containers: list[dict[str, Any]], host_network: bool) -> list[str]:
    """AccumulateUniqueHostPorts: "<protocol>/<hostIP>/<hostPort>" once per list."""
    seen: set[str] = set()
    errors: list[str] = []
    for ci, container in enumerate(containers):
        for pi, port in enumerate(items(container.get("ports"))):
            number = host_port(port, host_network)
            if number == 0:
                continue
            key = f"{protocol(port)}/{go_str(port, 'hostIP')}/{number}"
            errors += [duplicate(f"{where}[{ci}].ports[{pi}].hostPort", key)] if key in seen else []
            seen.add(key)
    return errors


def host_network_errors(spec: dict[str, Any]) -> list[str]:
    """validatePodHostNetworkDeps: regular containers only. Up to 1.27 the error was on
    containerPort ("must match `hostPort` when `hostNetwork` is true")."""
    if not go_bool(spec, "hostNetwork"):
        return []
    errors: list[str] = []
    for i, container in enumerate(items(spec.get("containers"))):
        for j, port in enumerate(items(container.get("ports"))):
            host, number = host_port(port, True), go_int(port, "containerPort")
            if host not in (0, number):
                errors.append(invalid(f"spec.containers[{i}].ports[{j}].hostPort", host,
                                      "must match `containerPort` when `hostNetwork` is true"))
    return errors
