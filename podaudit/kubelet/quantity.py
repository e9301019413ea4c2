"""resource.Quantity as the kubelet reads, defaults, compares and prints it.

Mirrors k8s.io/apimachinery/pkg/api/resource (v0.35): ``parseQuantityString`` and
``ParseQuantity`` (quantity.go), which keep the text as written (``Quantity.s``) only on their
fast path when it is already canonical; ``RoundUp`` (SetDefaults_ResourceList rounds every
container quantity up to milli units); ``Cmp``; ``String``/``CanonicalizeBytes`` with
``AsCanonicalBytes`` (amount.go) and the suffixer (suffix.go). Values are exact fractions.
A quantity whose exponent is out of bounds (|e| > 1000) is refused (None) to bound the work:
the kubelet takes it, podaudit does not judge it.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from podaudit.kubelet import gojson
from podaudit.kubelet.gojson import go_trim_space

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"
_DIGITS = "0123456789"
_EXPONENT = re.compile(r"[+-]?[0-9]+")
_SUFFIX_CHARS = "eEinumkKMGTP"
_DECIMAL = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_NAMES = {e: s for s, e in _DECIMAL.items()}
_BINARY_NAMES = {e // 10: s for s, e in _BINARY.items()} | {0: ""}
_MAX_INT64 = (1 << 63) - 1
FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX = "unable to parse quantity's suffix"
_MAX_EXPONENT = 1000
NANO = Fraction(1, 10**9)
MILLI = Fraction(1, 1000)


@dataclass(frozen=True)
class Quantity:
    value: Fraction
    format: str
    # Quantity.s: the text as written, kept only when ParseQuantity found it canonical.
    text: str | None = None
    # int64Amount's scale on the fast path; None for the inf.Dec path.
    scale: int | None = None

    def __str__(self) -> str:
        return self.text if self.text is not None else canonical(self)


@dataclass(frozen=True)
class _Parts:
    positive: bool
    value: str
    num: str
    denom: str
    suffix: str


def _run(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _split(text: str) -> _Parts | None:
    """parseQuantityString: sign, digits, fraction, suffix; None is ErrFormatWrong."""
    positive, end = True, len(text)
    pos = 1 if text[:1] in ("-", "+") else 0
    positive = not text.startswith("-")
    pos = _run(text, pos, "0")
    if pos >= end:
        return _Parts(positive, "0", "0", "", "")
    stop = _run(text, pos, _DIGITS)
    if stop >= end:
        return _Parts(positive, text, text[pos:], "", "")
    num, pos, denom = text[pos:stop] or "0", stop, ""
    if text[pos] == ".":
        stop = _run(text, pos + 1, _DIGITS)
        if stop >= end:
            return _Parts(positive, text, num, text[pos + 1:], "")
        denom, pos = text[pos + 1:stop], stop
    value, start = text[:pos], pos
    pos = _run(text, pos, _SUFFIX_CHARS)
    if pos < end and text[pos] in "+-":
        pos += 1
    if _run(text, pos, _DIGITS) >= end:
        return _Parts(positive, value, num, denom, text[start:])
    return None


def _interpret(suffix: str) -> tuple[int, int, str] | None:
    """The suffixer's interpret: base, exponent and format of a suffix."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], DECIMAL_SI
    if suffix in _BINARY:
        return 2, _BINARY[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]):
        if len(suffix[1:].lstrip("+-").lstrip("0")) > 19:  # ErrRange (and past int()'s digit limit)
            return None
        exponent = int(suffix[1:])  # strconv.ParseInt(s, 10, 64)
        if exponent > _MAX_INT64 or exponent < -_MAX_INT64 - 1:
            return None
        return 10, (exponent + (1 << 31)) % (1 << 32) - (1 << 31), DECIMAL_EXPONENT  # int32(parsed)
    return None


def syntax_error(text: str) -> str | None:
    """ParseQuantity's ErrFormatWrong or ErrSuffix for ``text``, or None (its numeric range is
    not judged)."""
    parts = _split(text) if text else None
    if parts is None:
        return FORMAT_WRONG
    return None if _interpret(parts.suffix) is not None else SUFFIX


@functools.lru_cache(maxsize=4096)  # a node's manifests repeat a few quantities; Quantity is frozen
def parse_quantity(text: str) -> Quantity | None:
    """ParseQuantity; None when the kubelet refuses it (or it is out of podaudit's bounds)."""
    if not text:
        return None
    if text == "0":
        return Quantity(Fraction(0), DECIMAL_SI, "0", 0)
    parts = _split(text)
    meaning = _interpret(parts.suffix) if parts else None
    if parts is None or meaning is None or abs(meaning[1]) > _MAX_EXPONENT:
        return None
    return _fast(text, parts, *meaning) or _exact(parts, *meaning)


def _fast(text: str, parts: _Parts, base: int, exponent: int, fmt: str) -> Quantity | None:
    """ParseQuantity's int64Amount path, the only one that keeps the text as written."""
    mantissa, scale = 1, exponent
    precision = 18 - len(parts.num) - len(parts.denom)
    if fmt == BINARY_SI:
        scale, precision = 0, -1
        if exponent >= 0 and not parts.denom:
            mantissa, precision = 1 << exponent, 15 - len(parts.num) - int(exponent * 3 / 10) - 1
    if precision < 0:
        return None
    scale -= len(parts.denom)
    shifted = parts.num + parts.denom
    number = int(shifted)
    if scale < -9 or number > _MAX_INT64 or number * mantissa > _MAX_INT64:
        return None
    result = number * mantissa * (1 if parts.positive else -1)
    if fmt == BINARY_SI:
        keep = exponent % 10 == 0 and number & 7 != 0
    else:
        keep = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
    written = text if keep else None
    return Quantity(Fraction(result) * Fraction(10) ** scale, fmt, written, scale)


def _exact(parts: _Parts, base: int, exponent: int, fmt: str) -> Quantity | None:
    """ParseQuantity's inf.Dec path: rounded up (away from zero) to nano units."""
    try:
        amount = Fraction(parts.value)
    except (ValueError, ZeroDivisionError):
        return None
    amount *= Fraction(base) ** exponent
    sign, amount = (-1 if amount < 0 else 1), abs(amount)
    amount = _round_up(amount, NANO)
    if fmt == BINARY_SI and amount > _MAX_INT64:
        amount = Fraction(_MAX_INT64)
    if fmt == BINARY_SI and 0 < amount < 1:
        fmt = DECIMAL_SI
    return Quantity(sign * amount, fmt)


def _round_up(amount: Fraction, unit: Fraction) -> Fraction:
    """inf.RoundUp: away from zero, to a multiple of ``unit``."""
    steps = amount / unit
    whole = math.ceil(steps) if steps >= 0 else math.floor(steps)
    return whole * unit


def rounded_to_milli(quantity: Quantity) -> Quantity:
    """Quantity.RoundUp(-3), as SetDefaults_ResourceList applies it: the written text stays
    only on the int64 path when nothing needed rounding."""
    if quantity.scale is not None and quantity.scale >= -3:
        return quantity
    return replace(quantity, value=_round_up(quantity.value, MILLI), text=None,
                   scale=None if quantity.scale is None else -3)


def canonical(quantity: Quantity) -> str:
    """CanonicalizeBytes: mantissa and SI suffix, exponent a multiple of 3 (or of 1024)."""
    value = quantity.value
    if value == 0:
        return "0"
    fmt = quantity.format if quantity.format in (DECIMAL_SI, BINARY_SI) else DECIMAL_EXPONENT
    if fmt == BINARY_SI and (-1024 < value < 1024 or value.denominator != 1):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        number, times = abs(value.numerator), 0
        while number >= 1024 and number % 1024 == 0:
            number, times = number // 1024, times + 1
        return f"{'-' if value < 0 else ''}{number}{_BINARY_NAMES.get(times, '')}"
    mantissa, exponent = _base10(value)
    if exponent % 3:
        mantissa, exponent = mantissa * 10 ** (exponent % 3), exponent - exponent % 3
    # Beyond E the suffixer has no name: Go prints none.
    suffix = _DECIMAL_NAMES.get(exponent, "") if fmt == DECIMAL_SI else f"e{exponent}" if exponent else ""
    return f"{mantissa}{suffix}"


def _base10(value: Fraction) -> tuple[int, int]:
    """value = mantissa * 10**exponent with no factor 10 left in the mantissa."""
    exponent = 0
    while value.denominator != 1 and exponent > -40:
        value, exponent = value * 10, exponent - 1
    mantissa = math.ceil(value) if value > 0 else math.floor(value)
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    return mantissa, exponent


def quantity_of(value: Any) -> Quantity | None:
    """A manifest's resource value as Quantity.UnmarshalJSON reads the JSON the kubelet made of
    it: a string unquoted and trimmed, a number as JSON prints it, null the zero Quantity."""
    if value is None:
        return Quantity(Fraction(0), "")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return parse_quantity(str(value))
    if isinstance(value, float):
        return parse_quantity(gojson.number(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        return parse_quantity(go_trim_space(value))
    return None


def milli_value(quantity: Quantity) -> int:
    """MilliValue: rounded up to milli units."""
    return int(_round_up(quantity.value * 1000, Fraction(1)))


def value_of(quantity: Quantity) -> int:
    """Value: rounded up to units."""
    return int(_round_up(quantity.value, Fraction(1)))
