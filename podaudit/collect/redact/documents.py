"""YAML and JSON documents: static pod manifests, KubeletConfiguration files, k3s config files.

Every key stays; a value stays only where podaudit reads it (podfields.POD for a Pod,
config.READ_FIELDS for a KubeletConfiguration, the k3s options distro.py reads), the rest
becomes a token (values.scalar). A file that is not a Pod becomes a placeholder that the
analysis judges as it judged the file: one that does not decode still does not, anything
else that is not a Pod (a Secret, a kubeconfig) keeps its apiVersion and kind only.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from podaudit.collect.redact.values import kept, scalar
from podaudit.collect.redact.words import KUBELET, program, redact_words, value
from podaudit.kubelet.config import CONFIG_KIND, READ_FIELDS
from podaudit.kubelet.goscalars import STR, plain_tag
from podaudit.kubelet.manifests import not_a_pod
from podaudit.kubelet.podfields import KEEP, POD, WORDS
from podaudit.kubelet.podtypes import child_kind, is_setting
from podaudit.kubelet.yamlload import Decoded, DecodeError, decode_document, is_json_buffer

# A NUL byte: no YAML reader takes it, so the file stays one that does not decode.
UNDECODABLE = b"\0# REDACTED: podaudit could not decode this file\n"
NOT_A_MAPPING = b"# REDACTED: not a mapping\nnull\n"
LATER_DOCUMENTS = b"---\n# REDACTED: the later documents\n"
HEADER = b"# REDACTED by podaudit collect --redact\n"
_IDENTIFIER = re.compile(r"[A-Za-z0-9./-]{1,63}")
K3S_ARGS = "kubelet-args"  # a schema mark: each item is a k3s kubelet-arg value


def _schema(fields: tuple[str, ...]) -> dict[str, Any]:
    """{"a": {"b": KEEP}} from "a.b"."""
    schema: dict[str, Any] = {}
    for field in fields:
        *parents, last = field.split(".")
        level = schema
        for part in parents:
            level = level.setdefault(part, {})
        level[last] = KEEP
    return schema


CONFIG = _schema(READ_FIELDS)
# k3s/rke2 config.yaml keys distro.py reads ("key+" appends); everything else there (token:,
# server:, datastore-endpoint:) is replaced.
K3S = {**{key + plus: KEEP for key in ("data-dir", "node-name", "config", "node-label") for plus in ("", "+")},
       "kubelet-arg": K3S_ARGS, "kubelet-arg+": K3S_ARGS, "apiVersion": KEEP, "kind": KEEP}


def redact_manifest(data: bytes) -> bytes:
    """A file of the static pod folder, judged by the analysis as the original was."""
    try:
        decoded = decode_document(data)
    except DecodeError:
        return UNDECODABLE
    pod = decoded.value
    if not isinstance(pod, dict):
        return NOT_A_MAPPING + (LATER_DOCUMENTS if decoded.documents > 1 else b"")
    if not_a_pod(pod):
        return _dump(_identity(pod), data, decoded)
    out = walk(pod, POD, "Pod")
    # Interpret reads apiVersion and kind whatever their case (APIVERSION, Kind): they stay.
    out.update({k: v for k, v in pod.items() if isinstance(v, str) and k.lower() in {"apiversion", "kind"}})
    return _dump(out, data, decoded)


def redact_document(data: bytes) -> bytes | None:
    """A KubeletConfiguration or k3s config file; None when ``data`` is no YAML or JSON mapping."""
    try:
        decoded = decode_document(data)
    except DecodeError:
        return None
    doc = decoded.value
    if not isinstance(doc, dict):
        return None
    return _dump(walk(doc, CONFIG if doc.get("kind") == CONFIG_KIND else K3S), data, decoded)


def _identity(doc: dict[str, Any]) -> dict[str, Any]:
    """apiVersion and kind of a document that is not a Pod: the reason it is rejected."""
    return {key: doc[key] if not doc[key] or (isinstance(doc[key], str) and _IDENTIFIER.fullmatch(doc[key]))
            else scalar(doc[key]) for key in ("apiVersion", "kind") if key in doc}


class GoSafeDumper(yaml.SafeDumper):
    """safe_dump whose text go-yaml v2 reads back as the same types: a string go-yaml would take
    for a bool, a number or null (y, n, 1e3, 0o17, 08, .5_5, <<) is quoted, as PyYAML does not
    quote what its YAML 1.1 resolver reads as a string."""


def _go_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if plain_tag(data) != STR:
        return dumper.represent_scalar(STR, data, style="'")
    return dumper.represent_str(data)


GoSafeDumper.add_representer(str, _go_str)


def _dump(doc: Any, original: bytes, decoded: Decoded) -> bytes:
    if is_json_buffer(original):
        return json.dumps(doc, indent=2).encode() + b"\n"
    # The comment first: a YAML text starting with "{" would be read as JSON (IsJSONBuffer).
    text = yaml.dump(doc, Dumper=GoSafeDumper, sort_keys=False, default_flow_style=False).encode()
    return HEADER + text + (LATER_DOCUMENTS if decoded.documents > 1 else b"")


def walk(node: Any, schema: Any, kind: str | None = None) -> Any:
    """``node`` with only the values ``schema`` keeps (recursion is bounded: decode_document
    keeps no more than MAX_NESTING levels). ``kind`` is the v1.Pod type at this place
    (podtypes): a setting stays, and a number stays a number, so the kubelet's typed decoding
    judges the redacted pod as the original."""
    if isinstance(node, dict):
        fields = schema if isinstance(schema, dict) else {}
        return {kept(key): _field(key, item, fields.get(key) if isinstance(key, str) else None,
                                  child_kind(kind, key if isinstance(key, str) else None))
                for key, item in node.items()}
    if isinstance(node, list):
        item_schema = schema[0] if isinstance(schema, list) else KEEP if schema == KEEP else None
        return [walk(item, item_schema, child_kind(kind, None)) for item in node]
    if schema == KEEP or is_setting(kind):
        return kept(node)
    if kind is not None and isinstance(node, (int, float)) and not isinstance(node, bool):
        return 0  # a number where the kubelet wants text or an object: its error names no value
    return scalar(node)


def _field(key: Any, node: Any, schema: Any, kind: str | None) -> Any:
    if isinstance(node, list) and all(isinstance(w, str) for w in node):
        if schema == WORDS:  # a command line: flag names and paths stay
            words = redact_words(node)
            return [program(node[0]), *words[1:]] if key == "command" and node else words
        if schema == K3S_ARGS:
            return [value("kubelet-arg", w, KUBELET) for w in node]
    if schema == K3S_ARGS and isinstance(node, str):
        return value("kubelet-arg", node, KUBELET)
    if schema == KEEP and isinstance(node, dict):
        return walk(node, None, kind)  # KEEP is for values: a mapping where one is expected keeps nothing
    return walk(node, schema, kind)
