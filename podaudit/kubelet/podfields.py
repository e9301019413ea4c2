"""The fields of a static pod manifest that podaudit reads, in one place.

What the kubelet model (manifests.judge, validation.py) and the rules (rules_manifests.py,
rules_pods.py pod_risks, rules_api.py) look at: identity, containers' names and images,
integer fields (a number too big rejects the pod), everything the kubelet's validation reads
(ports, env names, mounts, probes, resources, volume sources, labels, policies), security
settings, host namespaces and paths, references to API objects. Two users:

- a ManifestEntry keeps only these (``slim``): a directory of 100,000 manifests must not hold
  100,000 parsed documents;
- ``podaudit collect --redact`` keeps these values and replaces every other one.

A schema is a dict of field name to schema; ``KEEP`` keeps the value; a one-item list applies
its item's schema to every element; ``WORDS`` marks a command line (``command``, ``args``,
``exec.command``): --redact keeps its flag names and paths, ``slim`` drops it.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from podaudit.kubelet.validate_volumes import SOURCES
from podaudit.kubelet.validation import (
    API_VOLUMES,
    HANDLERS,
    POD_INTS,
    PORT_INTS,
    PROBE_INTS,
    PROJECTED,
    SECRET_REF_VOLUMES,
    SECURITY_INTS,
)

KEEP: Final = "keep"
WORDS: Final = "words"
Schema = dict[str, Any] | list[Any] | str


def _keep(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, KEEP)


class EveryKey(dict[str, Any]):
    """A mapping schema that gives every key the same schema (labels, resource lists): keys
    are the user's own, so no list of names can hold them."""

    def __init__(self, item: Any) -> None:
        super().__init__()
        self.item = item

    def get(self, key: Any, default: Any = None) -> Any:
        return self.item

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return self.item


# Label and annotation values are not kept (but for the one annotation validation reads):
# users put secrets there and --redact must not keep them. Their keys stay (--redact keeps
# every key), so a redacted bundle keeps every verdict but two no real static pod meets: a
# label value the kubelet refuses, annotations over 256 KiB in all (validate_meta.py).
_ANNOTATIONS = _keep("controller.kubernetes.io/pod-deletion-cost")


_NAME = _keep("name")
_SECURITY = {**_keep(*SECURITY_INTS, "privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem",
                     "runAsNonRoot", "procMount", "supplementalGroups"),
             "capabilities": _keep("add", "drop"), "seccompProfile": _keep("type", "localhostProfile")}
_HANDLER: dict[str, Any] = {**{kind: _keep("port") for kind in HANDLERS}, "exec": {"command": WORDS},
                            "sleep": _keep("seconds")}
_HANDLER["httpGet"] = {**_keep("port", "scheme"), "httpHeaders": [_keep("name")]}
_PROBE = {**_keep(*PROBE_INTS), **_HANDLER}
_CONTAINER = {
    **_keep("name", "image", "imagePullPolicy", "terminationMessagePolicy", "restartPolicy"),
    "command": WORDS, "args": WORDS,
    "ports": [_keep(*PORT_INTS, "protocol", "name", "hostIP")],
    "securityContext": _SECURITY,
    "env": [{"name": KEEP, "valueFrom": {"secretKeyRef": _NAME, "configMapKeyRef": _NAME}}],
    "envFrom": [{"secretRef": _NAME, "configMapRef": _NAME}],
    "livenessProbe": _PROBE, "readinessProbe": _PROBE, "startupProbe": _PROBE,
    "lifecycle": {"postStart": _HANDLER, "preStop": _HANDLER},
    "volumeMounts": [_keep("name", "mountPath", "readOnly", "subPath", "subPathExpr", "mountPropagation")],
    "resources": {"limits": EveryKey(KEEP), "requests": EveryKey(KEEP)},
}
_VOLUME = {
    **{kind: {} for kind in SOURCES},  # which sources are set: more than one is invalid
    "name": KEEP, "hostPath": _keep("path", "type"), "emptyDir": _keep("sizeLimit"),
    **{kind: _keep(key) if key else {} for kind, key in API_VOLUMES.items()},
    **{kind: {"secretRef": _NAME} for kind in SECRET_REF_VOLUMES},
    "projected": {"sources": [{kind: {} for kind in PROJECTED}]},
}
POD: Final[dict[str, Any]] = {
    **_keep("apiVersion", "kind"),
    "metadata": {**_keep("name", "namespace", "uid", "generateName"), "annotations": _ANNOTATIONS},
    "spec": {
        **_keep(*POD_INTS, "hostNetwork", "hostPID", "hostIPC", "serviceAccountName", "priorityClassName",
                "restartPolicy", "dnsPolicy", "hostname", "subdomain"),
        "schedulingGates": [{}],
        "securityContext": _SECURITY,
        "imagePullSecrets": [_NAME],
        "containers": [_CONTAINER], "initContainers": [_CONTAINER], "ephemeralContainers": [_CONTAINER],
        "volumes": [_VOLUME],
        "resourceClaims": [_NAME],
    },
}


def slim(value: Any, schema: Schema = POD) -> Any:
    """Only what ``schema`` names, every type as it was (a field of the wrong type is kept as
    it is when it is a scalar, emptied when it is a mapping or list the schema does not walk)."""
    if schema == KEEP:
        return value
    if isinstance(value, dict):
        fields = schema if isinstance(schema, dict) else {}
        # Interned: every entry shares one "name", not a copy per manifest.
        return {sys.intern(k): slim(v, fields[k]) for k, v in value.items()
                if type(k) is str and k in fields and fields[k] != WORDS}
    if isinstance(value, list):
        item = schema[0] if isinstance(schema, list) else {}
        return [slim(v, item) for v in value]
    return value
