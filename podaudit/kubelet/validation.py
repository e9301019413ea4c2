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
_API_VOLUMES = {
    "secret": "secretName", "configMap": "name", "persistentVolumeClaim": "claimName", "csi": "driver",
    "glusterfs": "endpoints", "ephemeral": None, "azureFile": "secretName",
}
_SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "iscsi", "scaleIO", "storageos")
_PROJECTED = ("secret", "configMap", "serviceAccountToken", "clusterTrustBundle", "podCertificate")


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
        for kind, key in _API_VOLUMES.items() if isinstance(volume.get(kind), dict)
    ]
    found += [f"secret {volume[kind]['secretRef'].get('name')} (volume {name})" for kind in _SECRET_REF_VOLUMES
              if isinstance(volume.get(kind), dict) and isinstance(volume[kind].get("secretRef"), dict)]
    projected = volume.get("projected") if isinstance(volume.get("projected"), dict) else {}
    assert isinstance(projected, dict)
    for source in _items(projected.get("sources")):
        found += [f"projected {kind} (volume {name})" for kind in _PROJECTED if kind in source]
    return found
