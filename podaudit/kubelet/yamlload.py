"""YAML and JSON decoding the way the kubelet's libraries do it.

sigs.k8s.io/yaml converts YAML to JSON with go-yaml v2's non-strict ``Unmarshal``, which
decodes only the first document of a stream (a repeated key is not an error); apimachinery's
``yaml.ToJSON`` passes a buffer through as JSON when its first non-space character is ``{``
(``IsJSONBuffer``, which trims Unicode white space; a byte-order mark is not white space).
"""

from __future__ import annotations

import json
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


def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return _as_text(loader, node) if ":" in str(node.value) else loader.construct_yaml_int(node)


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return _as_text(loader, node) if ":" in str(node.value) else loader.construct_yaml_float(node)


GoYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _int)
GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _float)


def is_json_buffer(data: bytes) -> bool:
    """apimachinery IsJSONBuffer: the first non-white-space character is '{'."""
    return data.decode("utf-8", "replace").lstrip().startswith("{")


def decode_document(data: bytes) -> Decoded:
    """Decode the first document like the kubelet; raise DecodeError with a one-line reason."""
    if is_json_buffer(data):
        # encoding/json replaces invalid UTF-8 inside strings instead of failing.
        return _decode_json(data.decode("utf-8", "replace"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"not valid UTF-8 (byte {exc.start}): binary or wrongly encoded") from exc
    return _decode_yaml(text)


def _decode_json(text: str) -> Decoded:
    try:
        value = json.loads(text)
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
