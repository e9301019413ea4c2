"""The kubelet's decoding of a static pod's JSON into a typed v1.Pod, and its errors.

After yaml.ToJSON, ``tryDecodeSinglePod`` runs the legacy scheme's universal decoder: the JSON
serializer's ``Decode`` reads apiVersion and kind case-insensitively (``Interpret``, stdlib
encoding/json), looks the kind up in the scheme, then decodes non-strictly but with exact key
case into v1.Pod (sigs.k8s.io/json ``UnmarshalCaseSensitivePreserveInts``). Unknown fields are
dropped; the first value of the wrong Go type fails the file (``parsed=false``:
``<file>: couldn't parse as pod(<error>), please check config file``).

``kind_error`` and ``type_error`` give the kubelet's own error text, or None.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from podaudit.kubelet import gojson
from podaudit.kubelet.podquantity import (
    TypeError_,
    int_error,
    intorstring_error,
    json_kind,
    quantity_error,
    time_error,
)
from podaudit.kubelet.podtypes_table import NAMED, STRUCTS

# pkg/api/legacyscheme/scheme.go: the scheme's name is where NewScheme was called.
SCHEME = "pkg/api/legacyscheme/scheme.go:30"
# k8s.io/api core/v1 register.go addKnownTypes (and metav1.Status, AddToGroupVersion's WatchEvent
# and option kinds): registered, so they decode and are then "not a Pod".
CORE_KINDS = frozenset((
    "PodList", "PodStatusResult", "PodTemplate", "PodTemplateList", "ReplicationController",
    "ReplicationControllerList", "Service", "ServiceProxyOptions", "ServiceList", "Endpoints", "EndpointsList",
    "Node", "NodeList", "NodeProxyOptions", "Binding", "Event", "EventList", "List", "LimitRange", "LimitRangeList",
    "ResourceQuota", "ResourceQuotaList", "Namespace", "NamespaceList", "Secret", "SecretList", "ServiceAccount",
    "ServiceAccountList", "PersistentVolume", "PersistentVolumeList", "PersistentVolumeClaim",
    "PersistentVolumeClaimList", "PodAttachOptions", "PodLogOptions", "PodExecOptions", "PodPortForwardOptions",
    "PodProxyOptions", "ComponentStatus", "ComponentStatusList", "SerializedReference", "RangeAllocation",
    "ConfigMap", "ConfigMapList", "Status", "WatchEvent", "ListOptions", "GetOptions", "DeleteOptions",
    "CreateOptions", "UpdateOptions", "PatchOptions",
))
# metav1.AddToGroupVersion: unversioned kinds, found by kind under any apiVersion (Scheme.New).
UNVERSIONED_KINDS = frozenset(("Status", "APIVersions", "APIGroupList", "APIGroup", "APIResourceList"))
_INTERPRET = ('struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
              'Kind string "json:\\"kind,omitempty\\"" }')
_INT_BITS = {"int32": 32, "int64": 64}
_CUSTOM = {"resource.Quantity", "intstr.IntOrString", "meta.Time", "meta.FieldsV1"}


def _parse_structs(text: str) -> dict[str, dict[str, str]]:
    structs: dict[str, dict[str, str]] = {}
    name = ""
    for line in text.strip().splitlines():
        words = line.split()
        if not line.startswith(" "):
            name, words = words[0], words[1:]
            structs[name] = {}
        for word in words:
            field, _, kind = word.partition(":")
            structs[name][field] = kind or "string"
    return structs


_STRUCTS = _parse_structs(STRUCTS)
_NAMED = dict(word.split("=", 1) for word in NAMED.split())


@cache
def go_name(kind: str) -> str:
    """reflect.Type.String() of a table type: []v1.Container, map[string]string, v1.ObjectMeta."""
    if kind.startswith("[]"):
        return "[]" + go_name(kind[2:])
    if kind.startswith("map["):
        key, value = kind[4:].split("]", 1)
        return f"map[{go_name(key)}]{go_name(value)}"
    if kind.startswith("meta."):
        return "v1." + kind[5:]
    if kind in _STRUCTS or (kind in _NAMED and "." not in kind):
        return "v1." + kind
    return kind


@cache
def underlying(kind: str) -> str:
    """A named type's underlying type (ResourceList: map[ResourceName]resource.Quantity)."""
    return underlying(_NAMED[kind]) if kind in _NAMED else kind


def child_kind(kind: str | None, key: str | None) -> str | None:
    """The type at a struct's field ``key``, a map's value or (key None) a list's element; None
    where the kubelet drops the value (an unknown field) or decodes it itself."""
    if kind is None or kind in _CUSTOM:
        return None
    base = underlying(kind)
    if base in _STRUCTS:
        return _STRUCTS[base].get(key) if key is not None else None
    if base.startswith("[]"):
        return base[2:] if key is None else None
    return base.split("]", 1)[1] if base.startswith("map[") and key is not None else None


def is_setting(kind: str | None) -> bool:
    """A value the kubelet reads as a number, a bool, a quantity, a port, a time or an enum
    (a named string type: Protocol, RestartPolicy...), not free text."""
    if kind is None:
        return False
    base = underlying(kind)
    return kind in _CUSTOM or base in {"bool", *_INT_BITS} or (base == "string" and kind != "string")


@cache
def _shape(kind: str) -> tuple[str, str]:
    """What decoding into ``kind`` takes: ("struct", name), ("list"|"map", element type),
    ("string"|"bool"|"int32"|"int64", ""), ("custom", kind)."""
    if kind in _CUSTOM:
        return "custom", kind
    base = underlying(kind)
    if base in _STRUCTS:
        return "struct", base
    if base.startswith("[]"):
        return "list", base[2:]
    if base.startswith("map["):
        return "map", base.split("]", 1)[1]
    return base, ""


_PLAIN = {"string": str, "bool": bool, "struct": dict, "list": list, "map": dict}


class _Decoder:
    """decode.go ``value``/``object``/``array``/``literalStore`` over a JSON value and a type:
    a type error is saved (the first one wins) and decoding goes on; an error from a type's own
    UnmarshalJSON (Quantity, IntOrString, Time) stops it (podquantity.py)."""

    def __init__(self, in_order: bool) -> None:
        self.in_order = in_order  # a JSON file's key order; json.Marshal's sorted keys otherwise
        self.saved: str | None = None

    def save(self, what: str, kind: str, struct: str, path: tuple[str, ...]) -> None:
        if self.saved is None:
            self.saved = _message(what, kind, struct, path)

    def value(self, value: Any, kind: str, struct: str, path: tuple[str, ...]) -> str | None:
        shape, detail = _shape(kind)
        if value is None or (type(value) is _PLAIN.get(shape) and shape in {"string", "bool"}):
            return None  # null sets nothing (or nil): never an error
        if shape == "custom":
            error = _custom(kind, value, self.in_order)
            return _message(error.what, error.kind, struct, path) if isinstance(error, TypeError_) else error
        found = json_kind(value)
        if shape == "struct" and found == "object":
            return self.fields(value, detail, path)
        if shape in {"list", "map"} and found == ("array" if shape == "list" else "object"):
            return self.items(value if shape == "list" else self.ordered(value), detail, struct, path)
        if shape in _INT_BITS and found == "number":
            what = int_error(value, _INT_BITS[shape])
            if what is not None:
                self.save(what, kind, struct, path)
            return None
        self.save(found, kind, struct, path)
        return None

    def ordered(self, value: dict[str, Any]) -> list[Any]:
        return list(value.values()) if self.in_order else [value[k] for k in sorted(value)]

    def fields(self, value: dict[str, Any], kind: str, path: tuple[str, ...]) -> str | None:
        fields = _fields(kind)
        name = kind.rpartition(".")[2]
        for key in value if self.in_order else sorted(value):
            field = fields.get(key)  # exact case; an unknown key is skipped
            if field is None:
                continue
            item = value[key]
            if item is None or type(item) is field[1]:
                continue  # the common case: a string or a bool where one goes
            error = self.value(item, field[0], name, (*path, key))
            if error:
                return error
        return None

    def items(self, items: list[Any], element: str, struct: str, path: tuple[str, ...]) -> str | None:
        plain = _PLAIN.get(_shape(element)[0])
        for item in items:
            if type(item) is not plain or plain not in {str, bool}:
                error = self.value(item, element, struct, path)
                if error:
                    return error
        return None


@cache
def _fields(struct: str) -> dict[str, tuple[str, type | None]]:
    """A struct's fields: their type, and the Python type that needs no check (str for text)."""
    return {key: (kind, _PLAIN.get(_shape(kind)[0]) if _shape(kind)[0] in {"string", "bool"} else None)
            for key, kind in _STRUCTS[struct].items()}


def _message(what: str, kind: str, struct: str, path: tuple[str, ...]) -> str:
    """UnmarshalTypeError.Error() with addErrorContext's struct and field path."""
    where = f"Go struct field {struct}.{'.'.join(path)}" if struct or path else "Go value"
    return f"json: cannot unmarshal {what} into {where} of type {go_name(kind)}"


def _custom(kind: str, value: Any, in_order: bool) -> TypeError_ | str | None:
    if kind == "resource.Quantity":
        return quantity_error(value, in_order)
    if kind == "intstr.IntOrString":
        return intorstring_error(value)
    if kind == "meta.Time":
        return time_error(value)
    return None  # FieldsV1 keeps any JSON


def type_error(pod: dict[str, Any], from_json: bool) -> str | None:
    """The first error of decoding ``pod`` into a v1.Pod, worded as the kubelet logs it."""
    decoder = _Decoder(in_order=True)
    fatal = decoder.fields(pod, "Pod", ())
    if not (fatal or decoder.saved) or from_json:
        return fatal or decoder.saved
    # An error: which one comes first depends on the order, json.Marshal's sorted keys (a
    # valid pod, the usual case, needs no sorting).
    decoder = _Decoder(in_order=False)
    return decoder.fields(pod, "Pod", ()) or decoder.saved


def kind_error(value: Any, text: str | None = None) -> str | None:
    """json serializer ``Decode``: why the document is not a v1 Pod, or None. ``text`` is a JSON
    file's own text, which the missing-kind messages quote (else json.Marshal's of ``value``)."""
    if not isinstance(value, dict):
        if value is None:  # "null": decodes to an empty kind
            return "Object 'Kind' is missing in 'null'"
        return f"couldn't get version/kind; json parse error: json: cannot unmarshal {json_kind(value)} " \
               f"into Go value of type {_INTERPRET}"
    api, kind, error = _interpret(value, text is not None)
    if error:
        return f"couldn't get version/kind; json parse error: {error}"
    if api.count("/") > 1:  # schema.ParseGroupVersion
        return f"unexpected GroupVersion string: {api}"
    group, _, version = api.rpartition("/") if api != "/" else ("", "", "")
    if not kind or not version:
        what = "Kind" if not kind else "apiVersion"
        return f"Object '{what}' is missing in '{gojson.quote(text if text is not None else gojson.marshal(value))}'"
    if (group, version, kind) == ("", "v1", "Pod"):
        return None
    return _not_a_pod(group, version, kind)


def _interpret(value: dict[str, Any], in_order: bool) -> tuple[str, str, str | None]:
    """meta.go Interpret: stdlib encoding/json into {APIVersion, Kind}; keys match without case
    (with Unicode simple folding: the Kelvin sign is k, U+017F is s); the last string
    wins, null is skipped, the first wrong type is the error."""
    found = {"apiversion": "", "kind": ""}
    error: str | None = None
    for key in value if in_order else sorted(value):
        field = key.lower().replace("\u017f", "s")
        if field not in found or value[key] is None:
            continue
        if isinstance(value[key], str):
            found[field] = value[key]
        elif error is None:
            name = "apiVersion" if field == "apiversion" else "kind"
            error = f"json: cannot unmarshal {json_kind(value[key])} into Go struct field .{name} of type string"
    return found["apiversion"], found["kind"], error


def _not_a_pod(group: str, version: str, kind: str) -> str:
    """Scheme.New: a registered kind decodes and tryDecodeSinglePod says ``invalid pod: %#v``
    (a Go dump podaudit abridges); any other is not registered (notRegisteredErr, with %q)."""
    if kind in UNVERSIONED_KINDS or ((group, version) == ("", "v1") and kind in CORE_KINDS):
        return f"invalid pod: &{'v1' if kind in UNVERSIONED_KINDS else 'core'}.{kind}{{…}}"
    if version == "__internal":
        return f"no kind {_q(kind)} is registered for the internal version of group {_q(group)} in scheme {_q(SCHEME)}"
    gv = f"{group}/{version}" if group else version
    return f"no kind {_q(kind)} is registered for version {_q(gv)} in scheme {_q(SCHEME)}"


def _q(text: str) -> str:
    """Go's %q (strconv.Quote) for the text a manifest holds."""
    return json.dumps(text, ensure_ascii=False)
