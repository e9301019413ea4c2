"""apimachinery's string validators, with their exact messages (v0.35.4).

k8s.io/apimachinery/pkg/util/validation/validation.go: IsDNS1123Label L167-182,
IsDNS1123Subdomain L198-207, IsValidPortName L321-340, IsEnvVarName L377-385,
IsRelaxedEnvVarName L388-403, RegexError L430-443, hasChDirPrefix L457-467; and
pkg/api/validate/content (kube.go IsLabelKey / IsLabelValue, whose MaxLenError says "bytes").
Go's regexp ``^...$`` anchors at the very end of the text, so every match here is fullmatch.
Older releases: no "must not contain dots" split before 1.20; label limits said "characters"
before content/ (v0.34); port names said "letter or number" up to 1.24.
"""

from __future__ import annotations

import re

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + "(\\." + _LABEL_FMT + ")*"
_LABEL = re.compile(_LABEL_FMT)
_SUBDOMAIN = re.compile(_SUBDOMAIN_FMT)
_PORT_CHARS = re.compile("[-a-z0-9]+")
_ENV_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV = re.compile(_ENV_FMT)
_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_KEY = re.compile(_KEY_FMT)
_VALUE_FMT = "(" + _KEY_FMT + ")?"
_VALUE = re.compile(_VALUE_FMT)
# A valid qualified name when no part is too long: an optional subdomain prefix, then a key.
_VALID_KEY = re.compile(f"({_SUBDOMAIN_FMT}/)?{_KEY_FMT}")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """RegexError: each example is followed by "', " and joined with " or " (two spaces)."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(limit: int, unit: str = "characters") -> str:
    return f"must be no more than {limit} {unit}"


def dns_label_errors(value: str) -> list[str]:
    """IsDNS1123Label (lengths in bytes, as Go's len)."""
    errors = [_max_len(LABEL_MAX)] if go_len(value) > LABEL_MAX else []
    if not _LABEL.fullmatch(value):
        errors.append("must not contain dots" if _SUBDOMAIN.fullmatch(value) else regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
            "and end with an alphanumeric character", _LABEL_FMT, "my-name", "123-abc"))
    return errors


def dns_subdomain_errors(value: str, unit: str = "characters") -> list[str]:
    """IsDNS1123Subdomain (``unit``: "bytes" in content.IsDNS1123Subdomain)."""
    errors = [_max_len(SUBDOMAIN_MAX, unit)] if go_len(value) > SUBDOMAIN_MAX else []
    if not _SUBDOMAIN.fullmatch(value):
        errors.append(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
            "start and end with an alphanumeric character", _SUBDOMAIN_FMT, "example.com"))
    return errors


def port_name_errors(value: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME)."""
    errors = [_max_len(15)] if go_len(value) > 15 else []
    if not _PORT_CHARS.fullmatch(value):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errors.append("must contain at least one letter (a-z)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if value[:1] == "-" or value[-1:] == "-":
        errors.append("must not begin or end with a hyphen")
    return errors


def port_number_errors(value: int) -> list[str]:
    """IsValidPortNum."""
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def env_name_errors(value: str, relaxed: bool) -> list[str]:
    """IsRelaxedEnvVarName when ``relaxed``, else IsEnvVarName (with hasChDirPrefix)."""
    if relaxed:
        if not value:
            return ["environment variable name must be non-empty"]
        bad = any(ord(c) > 0x7E or ord(c) < 0x20 or c == "=" for c in value)
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"] \
            if bad else []
    errors = [] if _ENV.fullmatch(value) else [regex_error(
        "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
        "must not start with a digit", _ENV_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1")]
    if value in (".", ".."):
        errors.append(f"must not be '{value}'")
    elif value.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def label_value_errors(value: str) -> list[str]:
    """content.IsLabelValue."""
    errors = [_max_len(LABEL_MAX, "bytes")] if go_len(value) > LABEL_MAX else []
    if not _VALUE.fullmatch(value):
        errors.append(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character", _VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def qualified_name_errors(value: str) -> list[str]:
    """content.IsLabelKey (IsQualifiedName): an optional DNS subdomain prefix and a name."""
    if len(value) <= LABEL_MAX and _VALID_KEY.fullmatch(value):
        return []  # the common case, without building the messages
    key_error = regex_error("must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                            "with an alphanumeric character", _KEY_FMT, "MyName", "my.name", "123-abc")
    parts = value.split("/")
    if len(parts) > 2:
        return ["a valid label key " + key_error + " with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')"]
    errors: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        errors += ["prefix part must be non-empty"] if not prefix else [
            "prefix part " + e for e in dns_subdomain_errors(prefix, "bytes")]
    name = parts[-1]
    if not name:
        errors.append("name part must be non-empty")
    elif go_len(name) > LABEL_MAX:
        errors.append("name part " + _max_len(LABEL_MAX, "bytes"))
    if not _KEY.fullmatch(name):
        errors.append("name part " + key_error)
    return errors


def go_len(value: str) -> int:
    """Go's len: bytes of the UTF-8 text."""
    return len(value.encode("utf-8", "surrogatepass"))
