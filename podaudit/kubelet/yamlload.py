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
        loader = yaml.SafeLoader(text)
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


def _first_node(loader: yaml.SafeLoader) -> yaml.Node | None:
    # check_node consumes the stream start; an empty stream has no document.
    if loader.check_node():
        return loader.get_node()
    return None


def _has_more_documents(loader: yaml.SafeLoader) -> bool:
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
