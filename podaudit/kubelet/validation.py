"""The validation that makes the kubelet reject a static pod (ValidatePodCreate, subset).

Only the rules a hand-written manifest commonly breaks: the generated name must be a
DNS-1123 subdomain (ValidatePodName), the namespace a DNS-1123 label, each container a
DNS-1123 label name (unique) and an image (validateContainerCommon). Messages follow
apimachinery's wording so they match the kubelet's log line.
"""

from __future__ import annotations

import re
from typing import Any

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253


def _dns_errors(value: str, pattern: re.Pattern[str], limit: int, message: str) -> list[str]:
    errors = [f"must be no more than {limit} characters (is {len(value)})"] if len(value) > limit else []
    return errors + ([] if pattern.match(value) else [message])


def subdomain_errors(value: str) -> list[str]:
    """apimachinery IsDNS1123Subdomain."""
    return _dns_errors(value, DNS1123_SUBDOMAIN, SUBDOMAIN_MAX, (
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
        "'-' or '.', and must start and end with an alphanumeric character"))


def label_errors(value: str) -> list[str]:
    """apimachinery IsDNS1123Label."""
    return _dns_errors(value, DNS1123_LABEL, LABEL_MAX, (
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character"))


def validate_pod(pod: dict[str, Any], generated_name: str, namespace: str) -> list[str]:
    """Errors the kubelet's validation would report for this static pod, empty when valid."""
    errors = [f'metadata.name: Invalid value: "{generated_name}": {e}' for e in subdomain_errors(generated_name)]
    errors += [f'metadata.namespace: Invalid value: "{namespace}": {e}' for e in label_errors(namespace)]
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return [*errors, "spec.containers: Required value"]
    errors += _container_errors(spec)
    return errors


def _container_errors(spec: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        errors.append("spec.containers: Required value")
        containers = []
    init = spec.get("initContainers")
    seen: set[str] = set()
    for field, items in (("containers", containers), ("initContainers", init if isinstance(init, list) else [])):
        for i, container in enumerate(items):
            errors += _one_container(f"spec.{field}[{i}]", container, seen)
    return errors


def _one_container(where: str, container: Any, seen: set[str]) -> list[str]:
    if not isinstance(container, dict):
        return [f"{where}: Invalid value: not an object"]
    errors: list[str] = []
    name = container.get("name")
    if not isinstance(name, str) or not name:
        errors.append(f"{where}.name: Required value")
    else:
        errors += [f'{where}.name: Invalid value: "{name}": {e}' for e in label_errors(name)]
        if name in seen:
            errors.append(f'{where}.name: Duplicate value: "{name}"')
        seen.add(name)
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        errors.append(f"{where}.image: Required value")
    elif image != image.strip():
        errors.append(f"{where}.image: Invalid value: must not have leading or trailing whitespace")
    return errors


# Volume types that name API objects (podutil.HasAPIObjectReference), and projected sources.
API_VOLUMES = {
    "secret": "secretName", "configMap": "name", "persistentVolumeClaim": "claimName", "csi": "driver",
    "glusterfs": "endpoints", "ephemeral": None, "azureFile": "secretName",
}
SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "iscsi", "scaleIO", "storageos")
PROJECTED = ("secret", "configMap", "serviceAccountToken", "clusterTrustBundle", "podCertificate")


def api_references(pod: dict[str, Any]) -> list[str]:
    """The API objects a static pod names; since v1.34 (PreventStaticPodAPIReferences) the
    kubelet rejects such a pod, before that its mirror pod is refused by NodeRestriction."""
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    found = [f"service account {spec['serviceAccountName']}"] if spec.get("serviceAccountName") else []
    found += [f"image pull secret {s.get('name')}" for s in _items(spec.get("imagePullSecrets"))]
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in _items(spec.get(field)):
            found += _env_references(container)
    for volume in _items(spec.get("volumes")):
        found += _volume_references(volume)
    found += [f"resource claim {c.get('name')}" for c in _items(spec.get("resourceClaims"))]
    return found


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _env_references(container: dict[str, Any]) -> list[str]:
    found = []
    for env in _items(container.get("env")):
        source = env.get("valueFrom") if isinstance(env.get("valueFrom"), dict) else {}
        assert isinstance(source, dict)
        for key, what in (("secretKeyRef", "secret"), ("configMapKeyRef", "config map")):
            if isinstance(source.get(key), dict):
                found.append(f"{what} {source[key].get('name')} (env {env.get('name')})")
    for env_from in _items(container.get("envFrom")):
        for key, what in (("secretRef", "secret"), ("configMapRef", "config map")):
            if isinstance(env_from.get(key), dict):
                found.append(f"{what} {env_from[key].get('name')} (envFrom)")
    return found


def _volume_references(volume: dict[str, Any]) -> list[str]:
    name = volume.get("name")
    found = [
        f"{kind} {volume[kind].get(key) if key else ''} (volume {name})".replace("  ", " ")
        for kind, key in API_VOLUMES.items() if isinstance(volume.get(kind), dict)
    ]
    found += [f"secret {volume[kind]['secretRef'].get('name')} (volume {name})" for kind in SECRET_REF_VOLUMES
              if isinstance(volume.get(kind), dict) and isinstance(volume[kind].get("secretRef"), dict)]
    projected = volume.get("projected") if isinstance(volume.get("projected"), dict) else {}
    assert isinstance(projected, dict)
    for source in _items(projected.get("sources")):
        found += [f"projected {kind} (volume {name})" for kind in PROJECTED if kind in source]
    return found


# Integer fields of a v1 Pod (k8s.io/api/core/v1 types.go) and their Go type. A number none of
# them can hold makes the kubelet's JSON decoding fail (json: cannot unmarshal number ... of type
# int32) before any validation: tryDecodeSinglePod logs it and skips the file. "port" is an
# IntOrString: only a number is decoded into its int32.
POD_INTS = {"terminationGracePeriodSeconds": 64, "activeDeadlineSeconds": 64, "priority": 32}
SECURITY_INTS = {"runAsUser": 64, "runAsGroup": 64, "fsGroup": 64}
PROBE_INTS = {"initialDelaySeconds": 32, "timeoutSeconds": 32, "periodSeconds": 32, "successThreshold": 32,
               "failureThreshold": 32, "terminationGracePeriodSeconds": 64}
PORT_INTS = {"containerPort": 32, "hostPort": 32}
HANDLERS = ("httpGet", "tcpSocket", "grpc")
_DIGITS = re.compile(r"[-+]?[0-9][0-9_]*")


def integer_errors(pod: dict[str, Any]) -> list[str]:
    """Integer fields holding a number no Go integer of their size holds (a 5000-digit number
    is a JSON float64 or, from YAML, go-yaml's string): the kubelet cannot decode such a pod."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return []
    errors = _ints("spec", spec, POD_INTS)
    context = spec.get("securityContext")
    if isinstance(context, dict):
        errors += _ints("spec.securityContext", context, SECURITY_INTS)
        groups = context.get("supplementalGroups")
        for i, group in enumerate(groups if isinstance(groups, list) else []):
            errors += _int_error(f"spec.securityContext.supplementalGroups[{i}]", group, 64)
    for field in ("containers", "initContainers", "ephemeralContainers"):
        items = spec.get(field)
        for i, container in enumerate(items if isinstance(items, list) else []):
            if isinstance(container, dict):
                errors += _container_ints(f"spec.{field}[{i}]", container)
    return errors


def _container_ints(where: str, container: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    ports = container.get("ports")
    for i, port in enumerate(ports if isinstance(ports, list) else []):
        if isinstance(port, dict):
            errors += _ints(f"{where}.ports[{i}]", port, PORT_INTS)
    if isinstance(container.get("securityContext"), dict):
        errors += _ints(f"{where}.securityContext", container["securityContext"], SECURITY_INTS)
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(name)
        if isinstance(probe, dict):
            errors += _ints(f"{where}.{name}", probe, PROBE_INTS) + _handler_ints(f"{where}.{name}", probe)
    lifecycle = container.get("lifecycle")
    for name in ("postStart", "preStop"):
        hook = lifecycle.get(name) if isinstance(lifecycle, dict) else None
        if isinstance(hook, dict):
            errors += _handler_ints(f"{where}.lifecycle.{name}", hook)
    return errors


def _handler_ints(where: str, handler: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    for kind in HANDLERS:
        action = handler.get(kind)
        port = action.get("port") if isinstance(action, dict) else None
        if not isinstance(port, str):  # IntOrString: a string is a port name
            errors += _int_error(f"{where}.{kind}.port", port, 32)
    return errors


def _ints(where: str, mapping: dict[str, Any], fields: dict[str, int]) -> list[str]:
    return [e for field, bits in fields.items() for e in _int_error(f"{where}.{field}", mapping.get(field), bits)]


def _int_error(where: str, value: Any, bits: int) -> list[str]:
    what = _too_big(value, bits)
    if what is None:
        return []
    return [f"{where}: {what} does not fit an int{bits}: the kubelet cannot decode the pod"]


def _too_big(value: Any, bits: int) -> str | None:
    """How to name a value beyond a signed integer of ``bits``, or None when it is not one."""
    digits = getattr(value, "digits", None)  # yamlload.BigNumber: a JSON integer of > 20 digits
    if isinstance(digits, int):
        return f"a number with {digits} digits"
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        count = sum(c.isdigit() for c in value)
        # go-yaml keeps a number it cannot hold as a string; the JSON string fails any int field.
        return f"a number with {count} digits" if count > 19 else None
    limit = 1 << (bits - 1)
    if isinstance(value, float) and not (-limit <= value < limit):  # inf and nan too
        return f"the number {value:g}"
    if isinstance(value, int) and not isinstance(value, bool) and not -limit <= value < limit:
        return f"the number {value}"
    return None
