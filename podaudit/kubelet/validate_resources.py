"""Container resource validation (pkg/apis/core/validation/validation.go v1.35.4):
validateResourceRequirements L7826-7893, validateResourceName L7419-7435,
validateContainerResourceName L7439-7452, ValidateResourceQuantityValue L8113-8122,
ValidateNonnegativeQuantity L380-386, validateResourceQuantityHugePageValue L7955-7965; the
resource-name helpers of pkg/apis/core/helper/helpers.go (IsStandardResourceName,
IsStandardContainerResourceName, IsNativeResource, IsOvercommitAllowed, IsExtendedResourceName,
IsIntegerResourceName, IsHugePageResourceValueDivisible).

Values are those after defaulting (requests copied from limits, milli rounding) and print as
Quantity.String(). Go walks these maps in random order: with several errors, only their set
is fixed. ``requests > limits`` said "must be less than or equal to cpu limit" up to 1.26.
"""

from __future__ import annotations

from typing import Any

from podaudit.kubelet.apinames import qualified_name_errors
from podaudit.kubelet.defaults import ResourceList, resource_lists
from podaudit.kubelet.fielderrors import forbidden, invalid, required
from podaudit.kubelet.quantity import Quantity, milli_value, parse_quantity, value_of

STANDARD = {"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
            "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
            "replicationcontrollers", "secrets", "configmaps", "persistentvolumeclaims", "storage",
            "requests.storage", "services.nodeports", "services.loadbalancers"}
CONTAINER = {"cpu", "memory", "ephemeral-storage"}
INTEGER = {"pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
           "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"}
HUGEPAGES = "hugepages-"


def _native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit(name: str) -> bool:
    return _native(name) and not name.startswith(HUGEPAGES)


def _extended(name: str) -> bool:
    return not _native(name) and not name.startswith("requests.") and not qualified_name_errors("requests." + name)


def name_errors(where: str, name: str) -> list[str]:
    """validateContainerResourceName; the value is a core.ResourceName (JSON-quoted)."""
    errors = [invalid(where, name, e, named=True) for e in qualified_name_errors(name)]
    if not errors and "/" not in name and name not in STANDARD and not name.startswith(("hugepages-",
                                                                                       "requests.hugepages-")):
        errors.append(invalid(where, name, "must be a standard resource type or fully qualified", named=True))
    if "/" not in name:
        if name not in CONTAINER and not name.startswith(HUGEPAGES):
            errors.append(invalid(where, name, "must be a standard resource for containers", named=True))
    elif not _native(name) and not _extended(name):
        errors.append(invalid(where, name, "doesn't follow extended resource name standard", named=True))
    return errors


def _value_errors(where: str, name: str, quantity: Quantity) -> list[str]:
    """ValidateResourceQuantityValue and the hugepage divisibility check."""
    errors = [invalid(where, str(quantity), "must be greater than or equal to 0")] if quantity.value < 0 else []
    if (name in INTEGER or _extended(name)) and milli_value(quantity) % 1000 != 0:
        errors.append(invalid(where, str(quantity), "must be an integer", named=True))
    return errors


def _hugepage_errors(where: str, name: str, quantity: Quantity | None) -> list[str]:
    if quantity is None or not name.startswith(HUGEPAGES) or _divisible(name, quantity):
        return []
    return [invalid(where, str(quantity), f"{quantity} is not positive integer multiple of {name}")]


def _divisible(name: str, quantity: Quantity) -> bool:
    """IsHugePageResourceValueDivisible: the page size is the name's quantity suffix."""
    page = parse_quantity(name[len(HUGEPAGES):])
    if page is None or page.value <= 0 or page.value.denominator != 1:
        return False
    return value_of(quantity) % value_of(page) == 0


def resource_errors(where: str, container: dict[str, Any]) -> list[str]:
    """validateResourceRequirements for one container; ``where`` is its path."""
    limits, requests = resource_lists(container)
    base = f"{where}.resources"
    errors: list[str] = []
    for name, quantity in limits.items():
        at = f"{base}.limits[{name}]"
        errors += name_errors(at, name) + (_value_errors(at, name, quantity) if quantity else [])
        errors += _hugepage_errors(at, name, quantity)
    for name, quantity in requests.items():
        at = f"{base}.requests[{name}]"
        errors += name_errors(at, name) + (_value_errors(at, name, quantity) if quantity else [])
        errors += _against_limit(base, name, quantity, limits) + _hugepage_errors(at, name, quantity)
    names = set(limits) | set(requests)
    if not names & {"cpu", "memory"} and any(n.startswith(HUGEPAGES) for n in names):
        errors.append(forbidden(base, "HugePages require cpu or memory"))
    return errors


def _against_limit(base: str, name: str, quantity: Quantity | None, limits: ResourceList) -> list[str]:
    if name not in limits:
        return [] if _overcommit(name) else [required(f"{base}.limits", "Limit must be set for non overcommitable "
                                                                        "resources")]
    limit = limits[name]
    if quantity is None or limit is None:
        return []
    if quantity.value != limit.value and not _overcommit(name):
        return [invalid(f"{base}.requests", str(quantity), f"must be equal to {name} limit of {limit}")]
    if quantity.value > limit.value:
        return [invalid(f"{base}.requests", str(quantity), f"must be less than or equal to {name} limit of {limit}")]
    return []
