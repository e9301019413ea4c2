"""The API server's side: nodes, pods, namespaces and configz as ``kubectl get ... -o json``
prints them, from kubectl (api/kubectl.py) or a snapshot's ``api/`` folder (``load_api_dir``).

A mirror pod carries ``kubernetes.io/config.mirror`` (pkg/kubelet/pod/mirror_client.go);
since v1.17 it also has an ownerReference to its Node. Its ``metadata.uid`` is assigned by
the API server and never matches anything on the node, so it is never used for matching.

Snapshot files are untrusted: every parser here skips a malformed field or item, and
``load_list`` turns an unreadable file into one line in ``problems``; none of them raises.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from podaudit.kubelet.podlist import PodListError, parse_pod_list
from podaudit.kubelet.untrusted import as_dict, as_list, as_str
from podaudit.model import KubeletWord, Witness, WitnessSource, WitnessStatus
from podaudit.names import valid_node_name
from podaudit.userfiles import read_capped

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
SOURCE_ANNOTATION = "kubernetes.io/config.source"
MAX_BYTES = 512 * 1024 * 1024  # a kubectl List bigger than this is not read at all
_INT_LIMIT = 2**63  # int64, what the API server stores; anything beyond is junk
PROXY_VIA = "api node proxy"  # how a kubelet's word reaches us here: kubectl get --raw /api/v1/nodes/N/proxy/...


@dataclass(frozen=True, slots=True)  # slots: a fleet's API lists hold tens of thousands
class ApiNode:
    name: str
    addresses: dict[str, str]
    labels: dict[str, str]
    uid: str = ""
    kubelet_version: str = ""
    ready: str = "Unknown"  # the Ready condition's status: True, False or Unknown
    machine_id: str = ""  # status.nodeInfo.machineID: /etc/machine-id of the node


@dataclass(frozen=True, slots=True)
class ApiPod:
    namespace: str
    name: str
    node_name: str | None
    is_mirror: bool
    owner_node: str | None
    ready: str
    status: str
    restarts: int
    created: str | None
    owner_uid: str = ""  # the Node ownerReference's uid
    source: str = ""  # kubernetes.io/config.source: file, http (static pods) or api
    ip: str = ""
    phase: str = ""
    # kubernetes.io/config.mirror: the static pod's config.hash, its UID in the kubelet's /pods.
    mirror_hash: str = ""

    def age(self, now: datetime | None = None) -> str:
        return _age(self.created, now or datetime.now(timezone.utc))

    def age_seconds(self, now: datetime | None = None) -> int | None:
        return _seconds(self.created, now or datetime.now(timezone.utc))

    def trouble(self) -> str | None:
        """Why this pod is not healthy, as ``kubectl get pods`` would show it; None when it is."""
        ready, _, total = self.ready.partition("/")
        restarts = f", {self.restarts} restarts" if self.restarts else ""
        if self.status in {"Running", "Succeeded", "Completed"} and (ready == total or self.status != "Running"):
            return None
        return f"{self.status} (ready {self.ready}{restarts})"


@dataclass
class ApiView:
    """What the API server holds; ``loaded`` says which lists were read, so a rule never
    mistakes a list that could not be read for an empty one."""

    nodes: list[ApiNode] = field(default_factory=list)
    pods: list[ApiPod] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    # Each node's live kubelet configuration (/configz), for the nodes it could be read from.
    configz: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each node's kubelet word through the node proxy (/configz and /pods): asked before the
    # nodes are read (run/reach.py), or recorded in a snapshot (api/configz/, api/kubelet-pods/).
    kubelet: dict[str, KubeletWord] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)  # of "pods", "nodes", "namespaces"
    failed: dict[str, str] = field(default_factory=dict)  # a list asked for and not read -> why
    origin: str = "api"  # where it came from, for people: "kubectl (context x)", "snapshot DIR/api"

    # Indexes of pods and nodes, built on first use and again when a list is replaced: rules
    # ask per node, and a scan of every pod per node grows with nodes x pods.
    _index: tuple[int, int, dict[str, list[ApiPod]], dict[str, list[ApiPod]], dict[str, ApiNode]] | None = field(
        default=None, compare=False, repr=False)

    def _indexed(self) -> tuple[dict[str, list[ApiPod]], dict[str, list[ApiPod]], dict[str, ApiNode]]:
        if self._index is None or self._index[:2] != (id(self.pods), id(self.nodes)):
            by_name: dict[str, list[ApiPod]] = {}
            mirrors: dict[str, list[ApiPod]] = {}
            for pod in self.pods:
                by_name.setdefault(pod.name, []).append(pod)
                if pod.is_mirror:
                    mirrors.setdefault(pod.node_name or "", []).append(pod)
            nodes: dict[str, ApiNode] = {}
            for node in self.nodes:
                nodes.setdefault(node.name, node)
            self._index = (id(self.pods), id(self.nodes), by_name, mirrors, nodes)
        return self._index[2], self._index[3], self._index[4]

    def pods_named(self, name: str, namespace: str | None) -> list[ApiPod]:
        return [p for p in self._indexed()[0].get(name, []) if namespace in (None, p.namespace)]

    def node(self, name: str) -> ApiNode | None:
        return self._indexed()[2].get(name)

    def mirror_pods(self) -> list[ApiPod]:
        return [p for p in self.pods if p.is_mirror]

    def mirrors_on(self, node: str) -> list[ApiPod]:
        """The mirror pods whose spec.nodeName is ``node``."""
        return list(self._indexed()[1].get(node, []))

    def take(self, resource: str, items: list[dict[str, Any]]) -> None:
        """Set the nodes, pods or namespaces from kubectl List items (bad items skipped)."""
        if resource == "nodes":
            self.nodes = [n for i in items if (n := parse_node(i))]
        elif resource == "pods":
            self.pods = [p for i in items if (p := parse_pod(i))]
        else:
            self.namespaces = namespace_names(items)


def load_list(path: str, problems: list[str]) -> list[dict[str, Any]]:
    """The items of a kubectl List JSON file; a problem line instead of raising.

    A missing file is simply absent (no problem). Only regular files are opened, and
    never more than ``MAX_BYTES`` is read, so a FIFO or /dev/zero cannot hang or flood us.
    """
    try:
        data = read_capped(path, MAX_BYTES)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        problems.append(f"{path}: not readable ({getattr(exc, 'strerror', None) or exc}); {SKIP}")
        return []
    if data is None:
        problems.append(f"{path}: not a regular file; {SKIP}")
        return []
    return list_items(decode_json(data, path, problems), path, problems)


SKIP = "continuing without it"
# What decode_json returns when it could not decode (JSON null is a value, so not None).
UNDECODED: Any = object()


def decode_json(data: bytes, where: str, problems: list[str]) -> Any:
    """kubectl's JSON output (a file, or kubectl's answer), or UNDECODED with one problem line."""
    if len(data) > MAX_BYTES:
        problems.append(f"{where}: larger than {MAX_BYTES} bytes; {SKIP}")
        return UNDECODED
    try:
        return json.loads(data.decode("utf-8-sig"), parse_int=parse_int)
    except UnicodeDecodeError as exc:
        problems.append(f"{where}: not UTF-8 (bad byte at offset {exc.start}); {SKIP}")
    except RecursionError:
        problems.append(f"{where}: JSON nested too deeply; {SKIP}")
    except ValueError as exc:
        problems.append(f"{where}: not kubectl JSON ({exc}); {SKIP}")
    return UNDECODED


def list_items(doc: Any, where: str, problems: list[str]) -> list[dict[str, Any]]:
    """The object items of a kubectl List document (UNDECODED: already reported)."""
    if doc is UNDECODED:
        return []
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        what = f"top level is {_json_type(doc)}" if not isinstance(doc, dict) else f"'items' is {_json_type(items)}"
        problems.append(f"{where}: not a kubectl List ({what}); {SKIP}")
        return []
    good = [i for i in items if isinstance(i, dict)]
    if len(good) < len(items):
        problems.append(f"{where}: {len(items) - len(good)} of {len(items)} items are not objects; skipped them")
    return good


def parse_node(item: dict[str, Any]) -> ApiNode | None:
    meta, status = as_dict(as_dict(item).get("metadata")), as_dict(as_dict(item).get("status"))
    name = meta.get("name")
    if not isinstance(name, str):
        return None
    addresses: dict[str, str] = {}
    for a in map(as_dict, as_list(status.get("addresses"))):
        # The first of each type, as kubectl shows it: a dual-stack node lists IPv4 first.
        if isinstance(a.get("type"), str) and isinstance(a.get("address"), str):
            addresses.setdefault(sys.intern(a["type"]), a["address"])
    info = as_dict(status.get("nodeInfo"))
    ready = next((as_str(c.get("status")) for c in map(as_dict, as_list(status.get("conditions")))
                  if c.get("type") == "Ready"), "")
    return ApiNode(name, addresses, _str_map(meta.get("labels")), as_str(meta.get("uid")),
                   sys.intern(as_str(info.get("kubeletVersion"))), sys.intern(ready or "Unknown"),
                   as_str(info.get("machineID")))


def parse_pod(item: dict[str, Any]) -> ApiPod | None:
    item = as_dict(item)
    meta, spec, status = as_dict(item.get("metadata")), as_dict(item.get("spec")), as_dict(item.get("status"))
    name = meta.get("name")
    if not isinstance(name, str):
        return None
    node_ref = next((o for o in map(as_dict, as_list(meta.get("ownerReferences"))) if o.get("kind") == "Node"), {})
    annotations = as_dict(meta.get("annotations"))
    statuses = [s for s in as_list(status.get("containerStatuses")) if isinstance(s, dict)]
    ready = sum(1 for s in statuses if s.get("ready") is True)
    total = len(as_list(spec.get("containers"))) or len(statuses)
    return ApiPod(
        sys.intern(as_str(meta.get("namespace")) or "default"), name,
        as_str(spec.get("nodeName")) or None,
        MIRROR_ANNOTATION in annotations, as_str(node_ref.get("name")) or None, sys.intern(f"{ready}/{total}"),
        sys.intern(_pod_status(status, statuses, meta)), sum(_int(s.get("restartCount")) for s in statuses),
        as_str(meta.get("creationTimestamp")) or None, as_str(node_ref.get("uid")),
        sys.intern(as_str(annotations.get(SOURCE_ANNOTATION))), as_str(status.get("podIP")),
        sys.intern(as_str(status.get("phase"))),
        as_str(annotations.get(MIRROR_ANNOTATION)),
    )


def _pod_status(status: dict[str, Any], statuses: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The STATUS column of kubectl get pods: a waiting/terminated reason beats the phase."""
    if meta.get("deletionTimestamp"):
        return "Terminating"
    for s in statuses:
        state = as_dict(s.get("state"))
        for key in ("waiting", "terminated"):
            reason = as_str(as_dict(state.get(key)).get("reason"))
            if reason:
                return reason
    return as_str(status.get("reason")) or as_str(status.get("phase")) or "Unknown"


def _int(value: Any) -> int:
    """A count from JSON: an int (or a whole finite float) within int64; anything else is 0."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and -_INT_LIMIT <= value < _INT_LIMIT:
        return value
    return 0


def _str_map(value: Any) -> dict[str, str]:
    """Labels or annotations: only string keys with string values (interned: a fleet's nodes
    repeat the same few keys and values thousands of times)."""
    return {sys.intern(k): sys.intern(v) for k, v in as_dict(value).items()
            if isinstance(k, str) and isinstance(v, str)}


def parse_int(text: str) -> int | float:
    # Python refuses int() of more than 4300 digits (ValueError); such a number is junk
    # anyway, so it becomes a float (inf) and _int() ignores it instead of losing the file.
    try:
        return int(text)
    except ValueError:
        return float(text)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _seconds(created: str | None, now: datetime) -> int | None:
    """Seconds since an RFC 3339 timestamp; None when there is none or it is not one."""
    if not created:
        return None
    try:
        then = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if then.tzinfo is None:
            then = then.replace(tzinfo=timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return int((now - then).total_seconds())
    except (ValueError, TypeError, OverflowError):
        return None


def _age(created: str | None, now: datetime) -> str:
    seconds = _seconds(created, now)
    if seconds is None:
        return "<unknown>"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2 or (unit == "m" and seconds >= 60):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def load_api_dir(directory: str) -> ApiView:
    """A snapshot's api/ folder: ``pods.json``, ``nodes.json``, ``namespaces.json`` (kubectl
    get -o json), ``configz/<node>.json`` and ``kubelet-pods/<node>.json`` (kubectl get --raw
    .../proxy/configz and .../proxy/pods); each optional."""
    from podaudit.api.liststream import load_parsed

    view = ApiView(origin=f"snapshot {directory}")
    for name in ("nodes", "pods", "namespaces"):
        problems_before = len(view.problems)
        path = f"{directory}/{name}.json"
        if name == "nodes":
            view.nodes = load_parsed(path, view.problems, parse_node, load_list, MAX_BYTES, parse_int)
        elif name == "pods":
            view.pods = load_parsed(path, view.problems, parse_pod, load_list, MAX_BYTES, parse_int)
        else:
            view.take(name, load_list(path, view.problems))
        if len(view.problems) > problems_before:
            view.failed[name] = view.problems[problems_before]
        elif os.path.lexists(path):
            view.loaded.add(name)
    for node in view.nodes:
        if not valid_node_name(node.name):  # names are untrusted: never a path like ../x
            continue
        view.kubelet[node.name] = _recorded_word(directory, node.name, view)
    return view


def _recorded_word(directory: str, node: str, view: ApiView) -> KubeletWord:
    """What the node proxy answered when the snapshot was taken: heard when either file
    holds an answer, failed when one is there but unreadable, absent when neither is."""
    names = (f"configz/{node}.json", f"kubelet-pods/{node}.json")
    lines: list[str] = []
    data = [_answer_file(f"{directory}/{name}", lines) for name in names]
    config = None if data[0] is None else configz_object(decode_json(data[0], f"{directory}/{names[0]}", lines),
                                                         f"{directory}/{names[0]}", lines)
    pods = None
    if data[1] is not None and len(data[1]) > MAX_BYTES:
        lines.append(f"{directory}/{names[1]}: larger than {MAX_BYTES} bytes; {SKIP}")
    elif data[1] is not None:
        try:
            pods = parse_pod_list(data[1])
        except PodListError as exc:
            lines.append(f"{directory}/{names[1]}: {exc}; {SKIP}")
    view.problems += lines
    if config is not None:
        view.configz[node] = config
    if config is None and pods is None:
        status = WitnessStatus.FAILED if lines else WitnessStatus.ABSENT
        detail = lines[0] if lines else f"not in the snapshot (api/{names[0]}, api/{names[1]})"
        return KubeletWord(Witness(WitnessSource.KUBELET, status, PROXY_VIA, detail))
    unheard = [f"api/{name}: not in the snapshot" for name, got in zip(names, (config, pods), strict=True)
               if got is None]
    # The pod list was heard when its file was written (a bundle is analysed later).
    heard_at = _written_at(f"{directory}/{names[1]}") if pods is not None else None
    return KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.HEARD, PROXY_VIA, "; ".join(lines or unheard)),
                       pods, config, heard_at)


def _written_at(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def namespace_names(items: list[dict[str, Any]]) -> list[str]:
    return [name for item in items if isinstance(name := as_dict(item.get("metadata")).get("name"), str)]


def configz_object(doc: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    """The ``kubeletconfig`` object of a /configz answer (UNDECODED: already reported)."""
    config = doc.get("kubeletconfig") if isinstance(doc, dict) else None
    if isinstance(config, dict):
        return config
    if doc is not UNDECODED:
        problems.append(f"{where}: no 'kubeletconfig' object in it; skipped it")
    return None


def _answer_file(path: str, problems: list[str]) -> bytes | None:
    """A recorded answer of the node proxy (at most MAX_BYTES + 1 bytes; decode_json refuses
    more); None when it is not there, or (with a line) not a readable regular file."""
    try:
        data = read_capped(path, MAX_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: not readable ({getattr(exc, 'strerror', None) or exc}); {SKIP}")
        return None
    if data is None:
        problems.append(f"{path}: not a regular file; {SKIP}")
    return data
