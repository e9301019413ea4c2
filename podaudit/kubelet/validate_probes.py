"""Probe and lifecycle-hook validation (pkg/apis/core/validation/validation.go v1.35.4):
validateLivenessProbe/validateReadinessProbe/validateStartupProbe L3259-3296, validateProbe
L3298-3315, validateHandler L3503-3573 (one handler, in the order exec, httpGet, tcpSocket,
grpc, sleep; each later one is "more than 1"), validateExecAction L3454-3462,
validateHTTPGetAction L3464-3479, ValidatePortNumOrName L3481-3495, validateSleepAction
L3376-3392, validateLifecycle L3593-3606. Values are read after SetDefaults_Probe and
SetDefaults_HTTPGetAction.
"""

from __future__ import annotations

import re
from typing import Any

from podaudit.kubelet.apinames import port_name_errors, port_number_errors, regex_error
from podaudit.kubelet.defaults import ValidationOptions, go_int, go_str, mapping, present, probe_int
from podaudit.kubelet.fielderrors import forbidden, invalid, not_supported, required

PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
HOOK_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
NONNEGATIVE = ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold")
_HEADER_FMT = "[-A-Za-z0-9]+"
_HEADER = re.compile(_HEADER_FMT)
NEGATIVE = "must be greater than or equal to 0"


def probe_errors(where: str, kind: str, probe: dict[str, Any], grace: int, options: ValidationOptions) -> list[str]:
    """The checks of one probe of ``kind`` (livenessProbe, readinessProbe, startupProbe)."""
    errors = handler_errors(where, probe, PROBE_HANDLERS, grace, options)
    for field in NONNEGATIVE:
        value = probe_int(probe, field)  # an absent field defaults to >= 0
        errors += [invalid(f"{where}.{field}", value, NEGATIVE)] if value < 0 else []
    if present(probe, "terminationGracePeriodSeconds"):
        grace_at, probe_grace = f"{where}.terminationGracePeriodSeconds", go_int(probe, "terminationGracePeriodSeconds")
        errors += [invalid(grace_at, probe_grace, "must be greater than 0")] if probe_grace <= 0 else []
        if kind == "readinessProbe":
            errors.append(invalid(grace_at, probe_grace, "must not be set for readinessProbes"))
    success = probe_int(probe, "successThreshold")
    if kind != "readinessProbe" and success != 1:
        errors.append(invalid(f"{where}.successThreshold", success, "must be 1"))
    return errors


def lifecycle_errors(where: str, lifecycle: dict[str, Any], grace: int, options: ValidationOptions) -> list[str]:
    """validateLifecycle without stopSignal (a newer field podaudit does not judge)."""
    errors: list[str] = []
    for hook in ("postStart", "preStop"):
        if present(lifecycle, hook):
            errors += handler_errors(f"{where}.{hook}", mapping(lifecycle[hook]), HOOK_HANDLERS, grace, options)
    return errors


def handler_errors(where: str, handler: dict[str, Any], kinds: tuple[str, ...], grace: int,
                   options: ValidationOptions) -> list[str]:
    errors: list[str] = []
    found = [kind for kind in kinds if present(handler, kind)]
    if not found:
        return [required(where, "must specify a handler type")]
    for kind in found[1:]:
        errors.append(forbidden(f"{where}.{kind}", "may not specify more than 1 handler type"))
    first, action = found[0], mapping(handler[found[0]])
    at = f"{where}.{first}"
    if first == "exec":
        command = action.get("command")
        errors[:0] = [required(f"{at}.command")] if not (isinstance(command, list) and command) else []
    elif first == "httpGet":
        errors[:0] = _http_errors(at, action)
    elif first in ("tcpSocket", "grpc"):
        errors[:0] = port_errors(f"{at}.port", action.get("port") if first == "tcpSocket" else go_int(action, "port"))
    else:
        errors[:0] = _sleep_errors(at, go_int(action, "seconds"), grace, options)
    return errors


def _http_errors(where: str, action: dict[str, Any]) -> list[str]:
    errors = port_errors(f"{where}.port", action.get("port"))
    scheme = go_str(action, "scheme") or "HTTP"
    if scheme not in ("HTTP", "HTTPS"):
        errors.append(not_supported(f"{where}.scheme", scheme, ["HTTP", "HTTPS"]))
    for header in _headers(action.get("httpHeaders")):
        if not _HEADER.fullmatch(header):
            errors.append(invalid(f"{where}.httpHeaders", header, regex_error(
                "a valid HTTP header must consist of alphanumeric characters or '-'", _HEADER_FMT, "X-Header-Name")))
    return errors


def _headers(value: Any) -> list[str]:
    return [go_str(h, "name") for h in value if isinstance(h, dict)] if isinstance(value, list) else []


def port_errors(where: str, port: Any) -> list[str]:
    """ValidatePortNumOrName on an IntOrString: a string is a port name, anything else a number."""
    if isinstance(port, str):
        return [invalid(where, port, e) for e in port_name_errors(port)]
    number = go_int({"port": port}, "port")
    return [invalid(where, number, e) for e in port_number_errors(number)]


def _sleep_errors(where: str, seconds: int, grace: int, options: ValidationOptions) -> list[str]:
    if options.zero_sleep:
        if 0 <= seconds <= grace:
            return []
        return [invalid(where, seconds, f"must be non-negative and less than terminationGracePeriodSeconds ({grace})")]
    if 0 < seconds <= grace:
        return []
    return [invalid(where, seconds, f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace}). "
                                    "Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.")]
