"""Metadata validation of a static pod: apimachinery ValidateObjectMetaAccessor
(pkg/api/validation/objectmeta.go v0.35.4 L182-202, validateObjectMetaAccessorWithOptsCommon
L247-272, ValidateAnnotations L44-56 with TotalAnnotationSizeLimitB L36), v1 ValidateLabels
(pkg/apis/meta/v1/validation/validation.go L104-122), NameIsDNSSubdomain/NameIsDNSLabel and
maskTrailingDash (generic.go L43-85), and ValidatePodSpecificAnnotations
(pkg/apis/core/validation/validation.go v1.35.4 L193-216: pod-deletion-cost,
GetDeletionCostFromPodAnnotations in pkg/apis/core/helper/helpers.go L491-513).

The name is the kubelet's generated ``<name>-<node>`` and the namespace defaults to "default"
(applyDefaults). applyDefaults also sets the ``kubernetes.io/config.hash`` annotation before
validation: it counts toward the 256 KiB.
"""

from __future__ import annotations

import re
from typing import Any

from podaudit.kubelet.apinames import (
    dns_label_errors,
    dns_subdomain_errors,
    go_len,
    label_value_errors,
    qualified_name_errors,
)
from podaudit.kubelet.defaults import go_str, mapping
from podaudit.kubelet.fielderrors import invalid, too_long

ANNOTATIONS_MAX = 256 * (1 << 10)
CONFIG_HASH = "kubernetes.io/config.hash"
HASH_LENGTH = 32  # hex of the fnv-128a the kubelet computes when metadata.uid is empty
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_INT = re.compile(r"-?[0-9]+")


def _mask_trailing_dash(name: str) -> str:
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def meta_errors(pod: dict[str, Any], generated_name: str, namespace: str) -> list[str]:
    """ValidateObjectMeta then ValidatePodSpecificAnnotations, in their order."""
    meta = mapping(pod.get("metadata"))
    errors: list[str] = []
    generate = go_str(meta, "generateName")
    if generate:
        masked = _mask_trailing_dash(generate)
        errors += [invalid("metadata.generateName", generate, e) for e in dns_subdomain_errors(masked)]
    errors += [invalid("metadata.name", generated_name, e) for e in dns_subdomain_errors(generated_name)]
    errors += [invalid("metadata.namespace", namespace, e) for e in dns_label_errors(namespace)]
    errors += _label_errors(meta.get("labels"))
    annotations = _strings(meta.get("annotations"))
    errors += _annotation_errors(annotations, go_str(meta, "uid"))
    return errors + _deletion_cost_errors(annotations)


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else "" for k, v in value.items()}


def _label_errors(labels: Any) -> list[str]:
    errors: list[str] = []
    for key, value in _strings(labels).items():
        errors += [invalid("metadata.labels", key, e) for e in qualified_name_errors(key)]
        errors += [invalid("metadata.labels", value, e) for e in label_value_errors(value)]
    return errors


def _annotation_errors(annotations: dict[str, str], uid: str) -> list[str]:
    """Keys are qualified names, compared in lower case; keys and values at most 256 KiB."""
    errors: list[str] = []
    for key in annotations:
        errors += [invalid("metadata.annotations", key, e) for e in qualified_name_errors(key.lower())]
    with_hash = {**annotations, CONFIG_HASH: uid or "0" * HASH_LENGTH}
    size = sum(go_len(k) + go_len(v) for k, v in with_hash.items())
    return errors + ([too_long("metadata.annotations", ANNOTATIONS_MAX)] if size > ANNOTATIONS_MAX else [])


def _deletion_cost_errors(annotations: dict[str, str]) -> list[str]:
    """The pod-deletion-cost annotation must be a 32-bit integer, no '+' and no leading zero."""
    if DELETION_COST not in annotations:
        return []
    value = annotations[DELETION_COST]
    first_ok = value[:1] == "-" or value == "0" or value[:1] in tuple("123456789")
    if first_ok and len(value) <= 12 and _INT.fullmatch(value) and -(1 << 31) <= int(value) < (1 << 31):
        return []
    return [invalid(f"metadata.annotations[{DELETION_COST}]", value, "must be a 32bit integer")]
