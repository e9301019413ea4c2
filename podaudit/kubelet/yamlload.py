"""YAML and JSON decoding the way the kubelet's libraries do it.

sigs.k8s.io/yaml converts YAML to JSON with go-yaml v2's non-strict ``Unmarshal``, which
decodes only the first document of a stream (a repeated key is not an error); apimachinery's
``yaml.ToJSON`` passes a buffer through as JSON when its first non-space character is ``{``
(``IsJSONBuffer``, which trims Unicode white space; a byte-order mark is not white space).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from podaudit.kubelet import goscalars
from podaudit.kubelet.goscalars import GoYamlError, first_nonfinite


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

# A 64-bit integer has at most 20 digits; go-yaml and Go's JSON decoder hold nothing larger.
MAX_INT_DIGITS = 20


class BigNumber(float):
    """A JSON integer of more than 20 digits: Go can hold it only as a float64 (infinite beyond
    its range), so decoding it into any integer field fails; ``digits`` says how big it was and
    ``literal`` is its text."""

    digits: int
    literal: str

    def __new__(cls, text: str) -> BigNumber:
        number = super().__new__(cls, float(text))  # float() has no digit limit; inf beyond 1e308
        number.digits = len(text.lstrip("-"))
        number.literal = text
        return number

    def __reduce__(self) -> tuple[type[BigNumber], tuple[str]]:
        return BigNumber, (self.literal,)  # pickled to the sweep's workers: rebuilt from the text


class JsonFloat(float):
    """A JSON file's number with a fraction or an exponent, with its text: Go's decoder quotes
    the literal (``cannot unmarshal number 1e3 into ... of type int32``)."""

    literal: str

    def __new__(cls, text: str) -> JsonFloat:
        number = super().__new__(cls, float(text))
        number.literal = text
        return number

    def __reduce__(self) -> tuple[type[JsonFloat], tuple[str]]:
        return JsonFloat, (self.literal,)


class GoYamlLoader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """SafeLoader that reads scalars, tags, merge keys and map keys as go-yaml v2 ``Unmarshal``
    into interface{} and sigs.k8s.io/yaml ``YAMLToJSON`` do (goscalars.py)."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        # go-yaml decode.go scalar(): a quoted scalar is a string; a plain one goes through
        # resolve() (goscalars.plain_tag). Tags on mappings and sequences are ignored.
        if kind is yaml.ScalarNode:
            return goscalars.plain_tag(value) if implicit[0] else goscalars.STR
        return goscalars.SEQ if kind is yaml.SequenceNode else goscalars.MAP

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        goscalars.merge_in_document_order(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            value = self.construct_object(value_node, deep=deep)
            if type(key) is not str:
                key = goscalars.json_key(key, value)
            mapping[key] = value
        return mapping


goscalars.register(GoYamlLoader)


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
        value = json.loads(text, parse_int=_json_int, parse_float=JsonFloat)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DecodeError(f"invalid JSON: {exc}") from exc
    return Decoded(value, _key_lines(text), 1)


def _decode_yaml(text: str) -> Decoded:
    if "%YAML" in text:
        _check_version(text)
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
    except GoYamlError as exc:
        raise DecodeError(str(exc)) from exc
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise DecodeError(f"invalid YAML: {_one_line(exc)}") from exc
    finally:
        loader.dispose()
    if loader.__dict__.get("go_nonfinite"):
        bad = first_nonfinite(value)
        if bad:  # yamlToJSONTarget: json.Marshal refuses it, wherever it is
            raise DecodeError(f"json: unsupported value: {bad}")
    return Decoded(value, _node_key_lines(node), 2 if more else 1)


_VERSION = re.compile(r"%YAML[ \t]+([0-9]+)\.([0-9]+)")


def _check_version(text: str) -> None:
    """parserc.go yaml_parser_process_directives: only %YAML 1.1, once, in the first document's
    directives. A parser error names its 0-based line, and none on the first (decode.go fail)."""
    seen = False
    for number, line in enumerate(text.lstrip("\ufeff").splitlines()):
        if not line.startswith("%"):
            if line.strip() and not line.lstrip().startswith("#"):
                return  # the directives end where the document starts
            continue
        match = _VERSION.match(line)
        if match is None:
            continue
        where = f"line {number}: " if number else ""
        if seen:
            raise DecodeError(f"yaml: {where}found duplicate %YAML directive")
        if match.groups() != ("1", "1"):
            raise DecodeError(f"yaml: {where}found incompatible YAML document")
        seen = True


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
            raise GoYamlError("yaml: document contains excessive aliasing")
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
