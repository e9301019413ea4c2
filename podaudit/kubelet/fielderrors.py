"""The kubelet's validation messages, as apimachinery's field.Error prints them.

``(*field.Error).Error()`` (k8s.io/apimachinery/pkg/util/validation/field/errors.go, v0.35) is
``<path>: <type>[: <value>][: <detail>]``. The value is printed with ``%q`` when its Go type
is ``string``, with ``%v`` for int32/int64/bool, and JSON-marshalled for any other type: a
named string type (``core.Protocol``, ``core.ResourceName``, a pointer to ``HostPathType``) or
a ``resource.Quantity``. The JSON form differs from ``%q`` only on <, >, & and non-ASCII.
"""

from __future__ import annotations

from podaudit.kubelet.gojson import json_string

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               '"': '\\"', "\\": "\\\\"}


def go_quote(value: str) -> str:
    """strconv.Quote (fmt %q): printable runes as they are, the rest escaped."""
    out = []
    for char in value:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif code < 0x80:
            out.append(char if 0x20 <= code < 0x7F else f"\\x{code:02x}")
        elif char.isprintable() and not 0xD800 <= code <= 0xDFFF:
            out.append(char)
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _body(kind: str, value: str | None, detail: str) -> str:
    text = kind if value is None else f"{kind}: {value}"
    return f"{text}: {detail}" if detail else text


def invalid(path: str, value: str | int, detail: str, *, named: bool = False) -> str:
    """field.Invalid: a str is %q (``named``: JSON, for a named string type), an int %v."""
    return f"{path}: {_body('Invalid value', _value(value, named), detail)}"


def not_supported(path: str, value: str, supported: list[str], *, named: bool = True) -> str:
    """field.NotSupported: the supported values each strconv.Quote'd, joined by ", "."""
    detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
    return f"{path}: {_body('Unsupported value', _value(value, named), detail)}"


def duplicate(path: str, value: str | int) -> str:
    return f"{path}: {_body('Duplicate value', _value(value, False), '')}"


def not_found(path: str, value: str) -> str:
    return f"{path}: {_body('Not found', _value(value, False), '')}"


def required(path: str, detail: str = "") -> str:
    return f"{path}: {_body('Required value', None, detail)}"


def forbidden(path: str, detail: str) -> str:
    return f"{path}: {_body('Forbidden', None, detail)}"


def too_long(path: str, limit: int) -> str:
    """field.TooLong: the value is never printed."""
    return f"{path}: {_body('Too long', None, f'may not be more than {limit} bytes')}"


def _value(value: str | int, named: bool) -> str:
    if isinstance(value, str):
        return json_string(value) if named else go_quote(value)
    return str(value)
