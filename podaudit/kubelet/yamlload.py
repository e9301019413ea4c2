"""YAML and JSON decoding the way the kubelet's libraries do it.

sigs.k8s.io/yaml converts YAML to JSON with go-yaml v2's non-strict ``Unmarshal``, which
decodes only the first document of a stream (a repeated key is not an error); apimachinery's
``yaml.ToJSON`` passes a buffer through as JSON when its first non-space character is ``{``
(``IsJSONBuffer``, which trims Unicode white space; a byte-order mark is not white space).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml


class DecodeError(ValueError):
    """The bytes are not a document the kubelet could decode."""


@dataclass(frozen=True)
class Decoded:
    value: Any
    # Line (1-based) of each top-level key, for provenance.
    key_lines: dict[str, int]
    documents: int  # 1, or 2 meaning "at least two": later documents are ignored


# libyaml's parser when PyYAML was built with it: about ten times faster, and a sweep parses
# every manifest of every node.
_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class GoYamlLoader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """SafeLoader with go-yaml v2's scalars: a timestamp-looking value decoded into
    interface{} stays a string ("for backward compatibility"), and there are no base-60
    numbers, so ``name: 2024-01-01`` or ``port: 1:20`` keep their text."""


def _as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


# A 64-bit integer has at most 20 digits; go-yaml and Go's JSON decoder hold nothing larger.
INT64_MIN, UINT64_MAX = -(1 << 63), (1 << 64) - 1
MAX_INT_DIGITS = 20
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


class BigNumber(float):
    """A JSON integer of more than 20 digits: Go can hold it only as a float64 (infinite beyond
    its range), so decoding it into any integer field fails; ``digits`` says how big it was."""

    digits: int

    def __new__(cls, text: str) -> BigNumber:
        number = super().__new__(cls, float(text))  # float() has no digit limit; inf beyond 1e308
        number.digits = len(text.lstrip("-"))
        return number


def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(node.value)
    if ":" in text:
        return _as_text(loader, node)
    try:
        value = loader.construct_yaml_int(node)
    except ValueError:  # more decimal digits than CPython converts (4300): beyond any 64-bit integer
        value = None
    if isinstance(value, int) and INT64_MIN <= value <= UINT64_MAX:
        return value
    return _out_of_range(text)


def _out_of_range(text: str) -> Any:
    """go-yaml v2 resolve(): when neither strconv.ParseInt nor ParseUint can hold the number, a
    decimal one becomes a float64 if ParseFloat can hold it; anything else stays a string."""
    plain = text.replace("_", "")
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        number = float(plain)
        if math.isfinite(number):
            return number
    return text


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(node.value)
    if ":" in text:
        return _as_text(loader, node)
    value = loader.construct_yaml_float(node)
    # resolve(): ParseFloat fails out of range (1.5e999), so the value stays a string; only the
    # .inf and .nan spellings are infinite.
    return value if math.isfinite(value) or text.lstrip("+-").lower() in {".inf", ".nan"} else text


GoYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _int)
GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _float)


def is_json_buffer(data: bytes) -> bool:
    """apimachinery IsJSONBuffer: the first non-white-space character is '{'."""
    return data.decode("utf-8", "replace").lstrip().startswith("{")


# No field of a Pod or a KubeletConfiguration lies deeper than about 12 levels; anything deeper
# is an unknown field, which the kubelet's typed decoding drops. podaudit empties containers
# below this depth: a NodeView must pickle (worker processes) and be walked without recursion
# limits, and 1,000 nested levels (libyaml's limit) exceed pickle's.
MAX_NESTING = 64


def decode_document(data: bytes) -> Decoded:
    """Decode the first document like the kubelet; raise DecodeError with a one-line reason."""
    if is_json_buffer(data):
        # encoding/json replaces invalid UTF-8 inside strings instead of failing.
        decoded = _decode_json(data.decode("utf-8", "replace"))
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not valid UTF-8 (byte {exc.start}): binary or wrongly encoded") from exc
        decoded = _decode_yaml(text)
    _limit_nesting(decoded.value)
    return decoded


def _limit_nesting(value: Any) -> None:
    """Empty every mapping and list nested deeper than MAX_NESTING (iteratively)."""
    work = [(value, 1)]
    while work:
        node, depth = work.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_NESTING:
                    child.clear()
                else:
                    work.append((child, depth + 1))


def _json_int(text: str) -> int | BigNumber:
    # int() of more than 4300 digits raises ValueError; no 64-bit field takes 21 digits anyway.
    return BigNumber(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _decode_json(text: str) -> Decoded:
    try:
        value = json.loads(text, parse_int=_json_int)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DecodeError(f"invalid JSON: {exc}") from exc
    return Decoded(value, _key_lines(text), 1)


def _decode_yaml(text: str) -> Decoded:
    try:
        loader = GoYamlLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        raise DecodeError(f"invalid YAML: {_one_line(exc)}") from exc
    try:
        node = _first_node(loader)
        if node is not None and "*" in text:  # no alias without a '*'
            _check_aliases(node)
        value = loader.construct_document(node) if node is not None else None
        more = _has_more_documents(loader)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise DecodeError(f"invalid YAML: {_one_line(exc)}") from exc
    finally:
        loader.dispose()
    return Decoded(value, _node_key_lines(node), 2 if more else 1)


def _first_node(loader: GoYamlLoader) -> yaml.Node | None:
    # check_node consumes the stream start; an empty stream has no document.
    if loader.check_node():
        node: yaml.Node = loader.get_node()
        return node
    return None


# go-yaml v2 decode.go (the CVE-2019-11253 fix): past 100 aliased and 1000 decoded nodes, at most
# this share of the decoded nodes may come from alias expansion (99%, down to 10% from 400,000 to
# 4,000,000 decoded nodes), else "document contains excessive aliasing".
ALIAS_RATIO_LOW, ALIAS_RATIO_HIGH = 400_000, 4_000_000


def _allowed_alias_ratio(decodes: int) -> float:
    """go-yaml v2 allowedAliasRatio()."""
    if decodes <= ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - ALIAS_RATIO_LOW) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW)


def _check_aliases(root: yaml.Node) -> None:
    """Count nodes as go-yaml v2's decoder.unmarshal() and alias() do while expanding aliases
    (PyYAML shares the node instead): raise its errors for an alias bomb or an anchor whose
    value contains itself. In the composed graph, a node's first occurrence in document order
    is its anchor and each later one an alias."""
    decodes = aliased = 0
    defined: set[int] = set()
    expanding: set[int] = set()  # aliases being expanded (decoder.aliases)
    work: list[tuple[yaml.Node | None, int, int]] = [(root, 0, 0)]  # (node, alias depth, id to close)
    while work:
        node, depth, closing = work.pop()
        if node is None:
            expanding.discard(closing)
            continue
        decodes += 1
        aliased += depth > 0
        if aliased > 100 and decodes > 1000 and aliased / decodes > _allowed_alias_ratio(decodes):
            raise yaml.YAMLError("document contains excessive aliasing")
        if id(node) in defined and not closing:
            if id(node) in expanding:
                raise yaml.YAMLError("an anchor's value contains itself")
            expanding.add(id(node))
            work += [(None, 0, id(node)), (node, depth + 1, 1)]  # the alias, then its value again
            continue
        defined.add(id(node))
        children = node.value if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) else []
        flat = [n for pair in children for n in pair] if isinstance(node, yaml.MappingNode) else children
        work += [(child, depth, 0) for child in reversed(flat)]


def _has_more_documents(loader: GoYamlLoader) -> bool:
    # go-yaml v2 never reads past the first document, so an error there does not count.
    try:
        return bool(loader.check_node())
    except yaml.YAMLError:
        return True


def _node_key_lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(k.value): k.start_mark.line + 1
        for k, _ in node.value
        if isinstance(k, yaml.ScalarNode)
    }


def _key_lines(text: str) -> dict[str, int]:
    """Top-level key lines of a JSON text, found through the YAML composer (JSON is YAML)."""
    try:
        return _node_key_lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError, ValueError):
        return {}


def _one_line(exc: BaseException) -> str:
    """'line 5, column 13: mapping values are not allowed here', without PyYAML's excerpt."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem or exc.context}"
    return " ".join(str(exc).split())
