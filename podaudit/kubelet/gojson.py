"""Go's text for the values the kubelet's decoding prints: numbers and JSON as encoding/json's
``Marshal`` writes them, and floats as ``strconv.FormatFloat`` writes them.

The kubelet's JSON is made by sigs.k8s.io/yaml ``YAMLToJSON`` (``json.Marshal`` of go-yaml's
value), so its error messages quote that JSON: ``Object 'Kind' is missing in '<json>'`` and
``json: cannot unmarshal number <literal> into ...``.
"""

from __future__ import annotations

import json
import math
import struct
from decimal import Decimal
from typing import Any

# unicode.IsSpace (Go): the Latin-1 spaces and the White_Space property beyond them.
# Python's str.isspace also counts \x1c-\x1f, which Go does not.
GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                     + "".join(chr(c) for c in range(0x2000, 0x200B)))
_FLOAT32_MAX = 3.4028234663852886e38
# encoding/json encode.go floatEncoder: 'e' notation outside [1e-6, 1e21).
_E_LOW, _E_HIGH = 1e-6, 1e21
# encodeState.string (HTMLEscape on): these are written as \u escapes.
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
# Messages quote whole documents: past this, the rest is cut (the kubelet prints it all).
QUOTE_LIMIT = 400


def _digits(value: float, bits: int) -> tuple[str, int]:
    """The shortest decimal digits that read back as ``value`` (a float32 when bits is 32) and
    the decimal point's position: (digits, dp) with value = 0.digits * 10**dp."""
    if bits == 64:
        text = repr(abs(value))
    else:
        target = abs(value)
        text = ""
        for precision in range(9):
            text = f"{target:.{precision}e}"
            if _float32(float(text)) == target:
                break
    _, digits, exponent = Decimal(text).normalize().as_tuple()
    assert isinstance(exponent, int)
    figures = "".join(map(str, digits)).rstrip("0") or "0"
    return figures, len(digits) + exponent


def _float32(value: float) -> float:
    """float32(value), infinite beyond float32's range as Go converts it."""
    if abs(value) > _FLOAT32_MAX:
        return math.copysign(math.inf, value)
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _fixed(figures: str, dp: int) -> str:
    """strconv 'f' format, shortest precision."""
    if figures == "0":
        return "0"
    if dp <= 0:
        return "0." + "0" * -dp + figures
    if dp >= len(figures):
        return figures + "0" * (dp - len(figures))
    return figures[:dp] + "." + figures[dp:]


def _exponent(figures: str, dp: int) -> str:
    """strconv 'e' format, shortest precision: at least two exponent digits."""
    mantissa = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
    exp = dp - 1 if figures != "0" else 0
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def format_float32_g(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32), with go-yaml's spellings of the infinities, as
    sigs.k8s.io/yaml convertToJSONableObject names a float map key."""
    value = _float32(value)
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return _format_g(value, 32)


def format_g(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 64), which is also fmt's %v and %#v of a float64."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return _format_g(value, 64)


def _format_g(value: float, bits: int) -> str:
    figures, dp = _digits(value, bits)
    sign = "-" if math.copysign(1, value) < 0 else ""
    exp = dp - 1
    if figures != "0" and (exp < -4 or exp >= 6):  # shortest 'g' decides with precision 6
        return sign + _exponent(figures, dp)
    return sign + _fixed(figures, dp)


def number(value: int | float) -> str:
    """A number as encoding/json writes it (floatEncoder for a float64)."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    literal = getattr(value, "literal", None)  # a JSON file's own text (yamlload.JsonFloat)
    if isinstance(literal, str):
        return literal
    if not math.isfinite(value):  # json.Marshal refuses these (yamlload stops them first)
        return str(value)
    figures, dp = _digits(value, 64)
    sign = "-" if math.copysign(1, value) < 0 else ""
    if value != 0 and not _E_LOW <= abs(value) < _E_HIGH:
        text = _exponent(figures, dp)
        if text[-4:-1] == "e-0":  # "clean up e-09 to e-9"
            text = text[:-2] + text[-1]
        return sign + text
    return sign + _fixed(figures, dp)


def marshal(value: Any) -> str:
    """json.Marshal of a value decoded from YAML: compact, keys sorted, HTML characters escaped."""
    parts: list[str] = []
    work: list[Any] = [value]
    while work:  # iterative: a document nests up to yamlload.MAX_NESTING levels
        item = work.pop()
        if isinstance(item, _Raw):
            parts.append(item.text)
        elif isinstance(item, dict):
            seq: list[Any] = [_Raw("{")]
            for i, key in enumerate(sorted(item)):
                seq += [_Raw(("," if i else "") + json_string(str(key)) + ":"), item[key]]
            work.extend(reversed([*seq, _Raw("}")]))
        elif isinstance(item, list):
            seq = [_Raw("[")]
            for i, element in enumerate(item):
                seq += [_Raw(","), element] if i else [element]
            work.extend(reversed([*seq, _Raw("]")]))
        elif isinstance(item, str):
            parts.append(json_string(item))
        elif item is None or isinstance(item, bool):
            parts.append(json.dumps(item))
        else:
            parts.append(number(item))
    return "".join(parts)


class _Raw:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def go_trim_space(text: str) -> str:
    """strings.TrimSpace: leading and trailing unicode.IsSpace characters."""
    start, stop = 0, len(text)
    while start < stop and text[start] in GO_SPACE:
        start += 1
    while stop > start and text[stop - 1] in GO_SPACE:
        stop -= 1
    return text[start:stop]


def json_string(text: str) -> str:
    """A string as encoding/json writes it (HTML characters escaped)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(_HTML_ESCAPES.get(c, c) for c in quoted) if any(c in _HTML_ESCAPES for c in quoted) else quoted


_CONTROLS = {c: f"\\x{c:02x}" for c in range(32)} | {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r"}


def quote(text: str) -> str:
    """A document quoted in a message (a JSON file's own text, new lines and all), on one line
    as klog quotes the error (\\n), cut past QUOTE_LIMIT characters."""
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT] + f"… ({len(text)} characters)"
    return text.translate(_CONTROLS)
