"""Scalars, tags, merge keys and map keys as the kubelet's YAML stage reads them.

The kubelet turns YAML into JSON with sigs.k8s.io/yaml ``YAMLToJSON``: go-yaml v2 ``Unmarshal``
into interface{} (YAML 1.1 scalars, resolve.go ``resolve``), ``convertToJSONableObject`` (map
keys become strings) and ``json.Marshal`` (no infinities). This module gives PyYAML's loader
those rules; yamlload.GoYamlLoader uses it.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import yaml

from podaudit.kubelet.gojson import format_float32_g, format_g

PREFIX = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (PREFIX + t for t in ("str", "int", "float", "bool", "null"))
MERGE, SEQ, MAP, BINARY, TIMESTAMP = (PREFIX + t for t in ("merge", "seq", "map", "binary", "timestamp"))
INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


class GoYamlError(yaml.YAMLError):
    """An error with the kubelet's own text (``yaml: ...``, ``json: unsupported value: +Inf``)."""


# resolve.go init(): the first byte hints what a plain scalar may be; resolveMap holds the
# words (YAML 1.1 booleans, including y and n; nulls; infinities).
_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), (BOOL, True)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), (BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
    **{s + w: (FLOAT, math.inf) for s in ("", "+") for w in (".inf", ".Inf", ".INF")},
    **{"-" + w: (FLOAT, -math.inf) for w in (".inf", ".Inf", ".INF")},
}
_HINTS = {**dict.fromkeys("yYnNtTfFoO~", "M"), **dict.fromkeys("0123456789+-", "D"), ".": "."}
# strconv.ParseInt(s, 0, 64) syntax (after go-yaml removed every "_").
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# strconv.ParseFloat of a scalar starting with '.': underscores only between digits.
_DOT_FLOAT = re.compile(r"\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?"
                        r"(Z|[-+][0-9]{2}:[0-9]{2})?)?")


def _go_int(plain: str) -> int | None:
    """strconv.ParseInt(plain, 0, 64), else ParseUint (no sign), as resolve() tries them."""
    match = _GO_INT.fullmatch(plain)
    if match is None:
        return None
    sign, digits = match.groups()
    base, body = 10, digits
    if digits[:1] == "0" and len(digits) > 1:  # a base prefix, or a leading 0: octal
        prefix = digits[1].lower()
        base, body = ({"x": 16, "o": 8, "b": 2}[prefix], digits[2:]) if prefix in "xob" else (8, digits)
    try:
        number = int(body, base)
    except ValueError:  # over 4300 decimal digits: beyond 64 bits anyway
        return None
    number = -number if sign == "-" else number
    if INT64_MIN <= number <= INT64_MAX or (not sign and number <= UINT64_MAX):
        return number
    return None


def resolve(text: str) -> tuple[str, Any]:
    """go-yaml v2 resolve.go resolve("", text): the tag and value of a plain scalar."""
    hint = _HINTS.get(text[:1], "M" if not text else "")
    word = _WORDS.get(text) if hint else None
    if word is not None:
        return word
    if hint == ".":
        if _DOT_FLOAT.fullmatch(text):
            number = float(text.replace("_", ""))
            if math.isfinite(number):  # ParseFloat fails out of range
                return FLOAT, number
    elif hint == "D":
        plain = text.replace("_", "")
        integer = _go_int(plain)
        if integer is not None:
            return INT, integer
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            number = float(plain)
            if math.isfinite(number):
                return FLOAT, number
    return STR, text


def plain_tag(text: str) -> str:
    """The tag of a plain scalar; "<<" is the merge key (decode.go isMerge)."""
    return MERGE if text == "<<" else resolve(text)[0]


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _typed(tag: str) -> Any:
    """A constructor for an implicit or explicit !!int, !!float, !!bool or !!null: resolve()'s
    value, or its error when the text is not of that type (``!!int abc``)."""

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        text = _scalar(loader, node)
        found, value = resolve(text)
        if found == FLOAT and not math.isfinite(value):
            loader.__dict__["go_nonfinite"] = True
        if found == tag:
            return value
        if tag == FLOAT and found == INT and value <= INT64_MAX:
            return float(value)
        raise GoYamlError(f"yaml: cannot decode !!{found[len(PREFIX):]} `{text}` as a !!{tag[len(PREFIX):]}")

    return construct


def _binary(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    """decode.go scalar(): base64 (new lines ignored) into a Go string; json.Marshal writes each
    byte that is not UTF-8 as U+FFFD."""
    text = _scalar(loader, node).replace("\n", "").replace("\r", "")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise GoYamlError("yaml: !!binary value contains invalid base64 data") from None
    return re.sub("[\udc80-\udcff]", "\ufffd", data.decode("utf-8", "surrogateescape"))


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    """An explicit !!timestamp decoded into interface{} stays its text (decode.go scalar)."""
    text = _scalar(loader, node)
    if _TIMESTAMP.fullmatch(text) is None:
        raise GoYamlError(f"yaml: cannot decode !!str `{text}` as a !!timestamp")
    return text


def _untyped(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    """Any other tag (``!foo``, ``!!set``, ``!!omap``): go-yaml ignores it; a scalar is a string."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_yaml_map(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_yaml_seq(node)
    return _scalar(loader, node)


def _untyped_collection(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return _untyped(loader, "", node)


def register(loader: type[yaml.SafeLoader]) -> None:
    for tag in (INT, FLOAT, BOOL, NULL):
        loader.add_constructor(tag, _typed(tag))
    loader.add_constructor(BINARY, _binary)
    loader.add_constructor(TIMESTAMP, _timestamp)
    for tag in ("set", "omap", "pairs"):
        loader.add_constructor(PREFIX + tag, _untyped_collection)
    loader.add_multi_constructor("", _untyped)


def merge_in_document_order(node: yaml.MappingNode) -> None:
    """decode.go mapping() and merge(): keys are set in document order, a merge writing all of
    its keys where it stands (so a ``<<`` after a key overrides it, unlike PyYAML); in a
    sequence of merges the earlier maps win."""
    if any(key.tag == MERGE for key, _ in node.value):
        node.value = _pairs(node)


def _pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if key.tag != MERGE:
            pairs.append((key, value))
            continue
        sources = list(reversed(value.value)) if isinstance(value, yaml.SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise GoYamlError("yaml: map merge requires map or sequence of maps as the value")
            pairs += _pairs(source)
    return pairs


def json_key(key: Any, value: Any) -> str:
    """sigs.k8s.io/yaml convertToJSONableObject: a map key as a JSON object key."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int) and INT64_MIN <= key <= INT64_MAX:
        return str(key)
    if isinstance(key, float):
        return format_float32_g(key)
    if isinstance(key, (list, dict)):  # decode.go mapping()
        raise GoYamlError(f"yaml: invalid map key: {sharp_v(key)}")
    kind = "uint64" if isinstance(key, int) else "%!s(<nil>)"
    raise GoYamlError(f"unsupported map key of type: {kind}, key: {sharp_v(key)}, value: {sharp_v(value)}")


def sharp_v(value: Any) -> str:
    """Go's %#v of a go-yaml value (containers abridged)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if value > INT64_MAX else str(value)
    if isinstance(value, float):
        return format_g(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return "[]interface {}{…}" if isinstance(value, list) else "map[interface {}]interface {}{…}"


def first_nonfinite(value: Any) -> str | None:
    """What json.Marshal stops at: the first infinity or NaN in its (sorted-key) order."""
    work = [value]
    while work:
        item = work.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "NaN" if math.isnan(item) else ("+Inf" if item > 0 else "-Inf")
        if isinstance(item, dict):
            work += [item[k] for k in sorted(item, reverse=True)]
        elif isinstance(item, list):
            work += reversed(item)
    return None
