"""The v1.Pod field types that decode themselves (their own UnmarshalJSON), and their errors.

An error from one of these stops the kubelet's typed decoding at once, ahead of any type error
saved earlier (sigs.k8s.io/json decode.go ``unmarshal``). A type error of the standard
library's decoder inside one (``TypeError`` here) gets the field's context there
(``addErrorContext``: the fork's UnmarshalTypeError is an alias of the standard library's);
any other error is reported as it is:

- resource.Quantity (apimachinery pkg/api/resource/quantity.go ``UnmarshalJSON``,
  ``ParseQuantity``, ``parseQuantityString``; suffix.go ``interpret``);
- intstr.IntOrString (pkg/util/intstr/intstr.go ``UnmarshalJSON``: stdlib json into an int32);
- metav1.Time (pkg/apis/meta/v1/time.go ``UnmarshalJSON``: a string, time.Parse(RFC3339)).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from podaudit.kubelet import gojson
from podaudit.kubelet.fielderrors import go_quote
from podaudit.kubelet.quantity import syntax_error

RFC3339 = "2006-01-02T15:04:05Z07:00"
# time.Parse(RFC3339, s): each layout element and the text it takes.
_LAYOUT = (("2006", r"[0-9]{4}"), ("-", "-"), ("01", r"[0-9]{2}"), ("-", "-"), ("02", r"[0-9]{2}"),
           ("T", "T"), ("15", r"[0-9]{2}"), (":", ":"), ("04", r"[0-9]{2}"), (":", ":"),
           ("05", r"[0-9]{2}([.,][0-9]+)?"), ("Z07:00", r"Z|[-+][0-9]{2}:[0-9]{2}"))
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_INT_TEXT = re.compile(r"-?[0-9]+")
MAX_LITERAL = 24  # a longer JSON number fits no 64-bit integer (and int() refuses 4300 digits)
_RANGES = {"01": ("month", 1, 12), "02": ("day", 0, 31), "15": ("hour", 0, 23), "04": ("minute", 0, 59),
           "05": ("second", 0, 59)}


def _raw(value: Any, from_json: bool) -> str:
    """The JSON text a custom UnmarshalJSON receives for ``value``."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if from_json else gojson.marshal(value)
    if isinstance(value, (dict, list)):
        return "{" if isinstance(value, dict) else "["  # only the first character matters below
    return json.dumps(value) if isinstance(value, bool) else gojson.number(value)


def quantity_error(value: Any, from_json: bool) -> str | None:
    """Quantity.UnmarshalJSON: a JSON string (quotes removed) or any other JSON text, trimmed,
    through ParseQuantity. Only its syntax errors are modelled (not ErrNumeric)."""
    raw = _raw(value, from_json)
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        raw = raw[1:-1]
    return syntax_error(gojson.go_trim_space(raw))


class TypeError_(NamedTuple):
    """``json: cannot unmarshal <what> into ... of type <kind>`` from the inner decoder."""

    what: str
    kind: str


def json_kind(value: Any) -> str:
    """The JSON value's kind as the decoder's errors name it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "array" if isinstance(value, list) else "object"


def int_error(value: int | float, bits: int) -> str | None:
    """A JSON number into a Go int of ``bits`` (strconv.ParseInt(literal, 10, 64), then the
    field's size): None when it fits, else the decoder's ``number <literal>`` (a literal of
    more than 40 characters abridged)."""
    text = gojson.number(value)
    limit = 1 << (bits - 1)
    if len(text) <= MAX_LITERAL and _INT_TEXT.fullmatch(text) and -limit <= int(text) < limit:
        return None
    if len(text) > 40:
        text = f"{text[:20]}…({sum(c.isdigit() for c in text)} digits)"
    return f"number {text}"


def intorstring_error(value: Any) -> TypeError_ | None:
    """IntOrString.UnmarshalJSON: a JSON string is a name; anything else goes into an int32
    through the standard library's decoder."""
    if isinstance(value, str):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return TypeError_(json_kind(value), "int32")
    what = int_error(value, 32)
    return None if what is None else TypeError_(what, "int32")


def time_error(value: Any) -> TypeError_ | str | None:
    """metav1.Time.UnmarshalJSON: null, or a string time.Parse(RFC3339, ...) takes."""
    if not isinstance(value, str):
        return TypeError_(json_kind(value), "string")
    rest, numbers = value, []
    for element, pattern in _LAYOUT:
        match = re.match(pattern, rest)
        if match is None:
            return f'parsing time {go_quote(value)} as "{RFC3339}": cannot parse {go_quote(rest)} as "{element}"'
        numbers.append(match.group(0))
        rest = rest[match.end():]
        if element in _RANGES:  # checked as each element is read
            name, low, high = _RANGES[element]
            if not low <= int(numbers[-1][:2]) <= high:
                return f"parsing time {go_quote(value)}: {name} out of range"
    if rest:
        return f"parsing time {go_quote(value)}: extra text: {go_quote(rest)}"
    year, month, day = int(numbers[0]), int(numbers[2]), int(numbers[4])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= day <= (29 if month == 2 and leap else _DAYS[month - 1]):  # daysIn
        return f"parsing time {go_quote(value)}: day out of range"
    return None

