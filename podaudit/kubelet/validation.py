"""The validation that makes the kubelet reject a static pod: ValidatePodCreate
(pkg/apis/core/validation/validation.go v1.35.4 L5601-5617) and validatePodMetadataAndSpec
L4500-4530, after the kubelet's defaulting (defaults.py), with each message as the kubelet logs
it (``invalid pod: [<err> <err> ...]``, each ``<field path>: <type>: <value>: <detail>``).

The checks a static pod meets in practice, split by subject: metadata (validate_meta.py),
volumes and mounts (validate_volumes.py), containers, ports and env (validate_containers.py),
probes and hooks (validate_probes.py), resources (validate_resources.py, quantity.py). Not
judged: securityContext, affinity, tolerations, dnsConfig, topology spread, spec.nodeName (the
kubelet sets it from its node name), and most volume sources' own fields.
"""

from __future__ import annotations

from typing import Any

from podaudit.kubelet.apinames import dns_label_errors, dns_subdomain_errors
from podaudit.kubelet.defaults import dns_policy, go_int, go_str, items, mapping, options_for, present, restart_policy
from podaudit.kubelet.fielderrors import forbidden, invalid, not_supported
from podaudit.kubelet.gojson import go_trim_space
from podaudit.kubelet.validate_containers import container_errors, host_network_errors
from podaudit.kubelet.validate_meta import meta_errors
from podaudit.kubelet.validate_volumes import validate_volumes

RESTART_POLICIES = ["Always", "OnFailure", "Never"]  # upstream's order, not sorted
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
MAX_INT32 = (1 << 31) - 1


def validate_pod(pod: dict[str, Any], generated_name: str, namespace: str, *,
                 kubelet_minor: int | None = None) -> list[str]:
    """Errors the kubelet's validation reports for this static pod, in its order; empty when
    valid. ``kubelet_minor``: the kubelet's 1.x release when known (validation options differ
    from 1.35 on, see defaults.options_for); None models the current release."""
    options = options_for(kubelet_minor)
    errors = meta_errors(pod, generated_name, namespace)
    spec = mapping(pod.get("spec"))
    volumes, volume_errors = validate_volumes(spec)
    errors += volume_errors
    errors += container_errors(spec, volumes, options)
    errors += host_network_errors(spec)
    errors += _policy_errors(spec)
    errors += _spec_field_errors(spec)
    errors += _pod_only_errors(spec)
    if isinstance(spec.get("ephemeralContainers"), list) and spec["ephemeralContainers"]:
        errors.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if isinstance(spec.get("schedulingGates"), list) and spec["schedulingGates"]:
        # applyDefaults always sets spec.nodeName.
        errors.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errors


def _policy_errors(spec: dict[str, Any]) -> list[str]:
    """validateRestartPolicy L4072-4085 and validateDNSPolicy L4100-4111, after defaulting."""
    errors: list[str] = []
    if restart_policy(spec) not in RESTART_POLICIES:
        errors.append(not_supported("spec.restartPolicy", restart_policy(spec), RESTART_POLICIES))
    if dns_policy(spec) not in DNS_POLICIES:
        errors.append(not_supported("spec.dnsPolicy", dns_policy(spec), DNS_POLICIES))
    return errors


def _spec_field_errors(spec: dict[str, Any]) -> list[str]:
    """ValidatePodSpec L4682-4710: serviceAccountName, activeDeadlineSeconds, hostname,
    subdomain, priorityClassName."""
    errors: list[str] = []
    account = go_str(spec, "serviceAccountName")
    errors += [invalid("spec.serviceAccountName", account, e) for e in dns_subdomain_errors(account)] if account else []
    if present(spec, "activeDeadlineSeconds"):
        deadline = go_int(spec, "activeDeadlineSeconds")
        if not 1 <= deadline <= MAX_INT32:
            errors.append(invalid("spec.activeDeadlineSeconds", deadline,
                                  f"must be between 1 and {MAX_INT32}, inclusive"))
    for field in ("hostname", "subdomain"):
        value = go_str(spec, field)
        errors += [invalid(f"spec.{field}", value, e) for e in dns_label_errors(value)] if value else []
    priority = go_str(spec, "priorityClassName")
    errors += [invalid("spec.priorityClassName", priority, e)
               for e in dns_subdomain_errors(priority)] if priority else []
    return errors


def _pod_only_errors(spec: dict[str, Any]) -> list[str]:
    """validatePodMetadataAndSpec L4511-4527: a projected token needs a service account; no
    image with leading or trailing whitespace (Go's strings.TrimSpace)."""
    errors: list[str] = []
    if not go_str(spec, "serviceAccountName"):
        for i, volume in enumerate(items(spec.get("volumes"))):
            sources = items(mapping(volume.get("projected")).get("sources")) if present(volume, "projected") else []
            errors += [forbidden(f"spec.volumes[{i}].projected.sources[{j}].serviceAccountToken",
                                 "must not be specified when serviceAccountName is not set")
                       for j, source in enumerate(sources) if present(source, "serviceAccountToken")]
    for field in ("containers", "initContainers"):
        for i, container in enumerate(items(spec.get(field))):
            image = go_str(container, "image")
            if image != go_trim_space(image):
                errors.append(invalid(f"spec.{field}[{i}].image", image,
                                      "must not have leading or trailing whitespace"))
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
    spec = mapping(pod.get("spec"))
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
        source = mapping(env.get("valueFrom"))
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
    for source in _items(mapping(volume.get("projected")).get("sources")):
        found += [f"projected {kind} (volume {name})" for kind in PROJECTED if kind in source]
    return found


# Integer fields of a v1 Pod (k8s.io/api/core/v1 types.go) that podfields keeps (the typed
# decoding that checks their Go types is podtypes.py).
POD_INTS = {"terminationGracePeriodSeconds": 64, "activeDeadlineSeconds": 64, "priority": 32}
SECURITY_INTS = {"runAsUser": 64, "runAsGroup": 64, "fsGroup": 64}
PROBE_INTS = {"initialDelaySeconds": 32, "timeoutSeconds": 32, "periodSeconds": 32, "successThreshold": 32,
               "failureThreshold": 32, "terminationGracePeriodSeconds": 64}
PORT_INTS = {"containerPort": 32, "hostPort": 32}
HANDLERS = ("httpGet", "tcpSocket", "grpc")
