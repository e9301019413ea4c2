"""A loopback stand-in for the Kubernetes API server, good enough for a real kubectl.

Plain HTTP on 127.0.0.1 (port chosen by the OS). It serves discovery (aggregated v2 when
kubectl asks for it, else the legacy APIVersions / APIResourceList), the demo cluster's
pods and nodes, made-up namespaces, and each node's ``proxy/configz``. Failures on demand:
``forbidden`` (a set of resources answered with a 403 Status) and ``hang`` (no answer at all
until the server stops).

For ``kubectl debug node/X`` it also keeps the pods that clients create (POST), and serves
get, list (field and label selectors), label (PATCH), logs and delete on them. A created pod
is "run" by ``kubelet``, a callable given the pod JSON and a cancel event, in a thread: the
phase goes Pending -> Running -> Succeeded/Failed with its log and exit code, as a real
kubelet would report it. Knobs: ``pull_failure`` (the pod stays Pending with ErrImagePull,
then ImagePullBackOff), ``admission`` (create refused with a PodSecurity-style 403),
``forbid_create`` (create refused by RBAC: the user may not create pods), ``hang_create``
(the create never answers), ``create_delay`` (the pod exists before the create is
answered), ``unprivileged`` (a mutating policy turns privileged off). Every
request is in ``calls`` as (method, path).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEMO_API = Path(__file__).resolve().parent.parent / "podaudit" / "demo" / "cluster" / "api"
NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
USER = "jane@example.com"
PROTOBUF = "application/vnd.kubernetes.protobuf"

_RESOURCES = {  # name -> (kind, namespaced, short names)
    "pods": ("Pod", True, ["po"]),
    "nodes": ("Node", False, ["no"]),
    "namespaces": ("Namespace", False, ["ns"]),
}
_VERBS = {"pods": ["create", "delete", "get", "list", "patch"]}
_CONFIGZ = re.compile(r"/api/v1/nodes/([^/]+)/proxy/configz")
_NODE = re.compile(r"/api/v1/nodes/([^/]+)")
_NS_PODS = re.compile(r"/api/v1/namespaces/([^/]+)/pods")
_POD_PATH = re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)(/log)?")

# (pod JSON, cancel) -> (log bytes, exit code); cancel is set when the pod is deleted.
Kubelet = Callable[[dict[str, Any], threading.Event], tuple[bytes, int]]


def idle_kubelet(pod: dict[str, Any], cancel: threading.Event) -> tuple[bytes, int]:
    return b"", 0


def hanging_kubelet(pod: dict[str, Any], cancel: threading.Event) -> tuple[bytes, int]:
    """A container that never ends on its own (until the pod is deleted)."""
    cancel.wait()
    return b"", 137


class RunningPod:
    """A created pod: its JSON (status updated as it runs), log and cancel event."""

    def __init__(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        self.log = b""
        self.cancel = threading.Event()


def _status(code: int, reason: str, message: str, kind: str = "") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": {"kind": kind}, "code": code}


class StubApi:
    """The server; use :func:`running` to start and always stop it."""

    def __init__(self, discovery: str = "aggregated") -> None:
        self.discovery = discovery  # "aggregated" or "legacy"
        self.forbidden: set[str] = set()
        self.hang = False
        self.requests: list[tuple[str, str]] = []  # (path, Accept) of every GET
        self.calls: list[tuple[str, str]] = []  # (method, path) of every request
        self.refused: list[dict[str, Any]] = []  # creates refused by RBAC or admission
        self.created: list[dict[str, Any]] = []  # each pod body as a client POSTed it
        self.pods: dict[tuple[str, str], RunningPod] = {}  # (namespace, name) -> pod
        self.kubelet: Kubelet = idle_kubelet
        self.pull_failure = False
        self.admission = False
        self.forbid_create = False  # RBAC: the user may list but not create pods
        self.hang_create = False
        self.create_delay = 0.0  # seconds between storing a created pod and answering
        self.unprivileged = False  # a policy that silently turns privileged off (mutating admission)
        self.deleted: list[dict[str, Any]] = []  # each pod as it was when deleted
        self._lock = threading.Lock()
        self.lists = {
            "pods": json.loads((DEMO_API / "pods.json").read_text()),
            "nodes": json.loads((DEMO_API / "nodes.json").read_text()),
            "namespaces": {"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}, "status": {"phase": "Active"}}
                for n in NAMESPACES]},
        }
        self.configz: dict[str, dict[str, Any]] = {
            item["metadata"]["name"]: {"kubeletconfig": {
                "kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "staticPodPath": "/etc/kubernetes/manifests", "authentication": {"anonymous": {"enabled": False}},
            }} for item in self.lists["nodes"]["items"]
        }
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers
        with self._lock:
            for running in self.pods.values():
                running.cancel.set()  # and hanging kubelets
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def kubeconfig(self, path: Path, user: str = USER) -> Path:
        path.write_text(kubeconfig_text(self.url, user))
        return path

    # -- answers -------------------------------------------------------------------------
    def answer(self, path: str, accept: str) -> tuple[int, str, Any]:
        """(status, content type, JSON body) for a GET."""
        aggregated = self.discovery == "aggregated" and "as=APIGroupDiscoveryList" in accept
        if path == "/version":
            return 200, "application/json", {"major": "1", "minor": "37", "gitVersion": "v1.37.0-stub"}
        if path == "/api":
            if aggregated:
                return 200, AGGREGATED, self._aggregated_core()
            return 200, "application/json", {"kind": "APIVersions", "versions": ["v1"],
                                             "serverAddressByClientCIDRs": [
                                                 {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            if aggregated:
                return 200, AGGREGATED, {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                                         "metadata": {}, "items": []}
            return 200, "application/json", {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
        if path == "/api/v1":
            return 200, "application/json", {
                "kind": "APIResourceList", "groupVersion": "v1", "resources": [
                    {"name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                     "verbs": _VERBS.get(name, ["get", "list"]), "shortNames": short}
                    for name, (kind, namespaced, short) in _RESOURCES.items()]
                + [{"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}]}
        resource = path.removeprefix("/api/v1/")
        if resource in _RESOURCES:
            if resource in self.forbidden:
                return 403, "application/json", _status(
                    403, "Forbidden", f'{resource} is forbidden: User "{USER}" cannot list resource "{resource}" '
                    'in API group "" at the cluster scope', resource)
            body = dict(self.lists[resource])
            if resource == "pods":
                body["items"] = [*body["items"], *self._pod_items(None)]
            body["kind"] = _RESOURCES[resource][0] + "List"
            body["metadata"] = {"resourceVersion": "4242"}
            return 200, "application/json", body
        match = _CONFIGZ.fullmatch(path)
        if match:
            if "nodes" in self.forbidden:
                return 403, "application/json", _status(
                    403, "Forbidden", f'nodes "{match[1]}" is forbidden: User "{USER}" cannot get resource '
                    '"nodes/proxy" in API group "" at the cluster scope', "nodes")
            if match[1] in self.configz:
                return 200, "application/json", self.configz[match[1]]
            return 404, "application/json", _status(404, "NotFound", f'nodes "{match[1]}" not found', "nodes")
        return 404, "application/json", _status(404, "NotFound", "the server could not find the requested resource")

    # -- pods that clients create (kubectl debug node/X) ----------------------------------
    def pod_request(self, method: str, path: str, query: dict[str, list[str]], body: bytes
                    ) -> tuple[int, str, Any] | None:
        """(status, content type, body) for the node and pod paths; None for the others."""
        node = _NODE.fullmatch(path)
        if node and method == "GET":
            found = [n for n in self.lists["nodes"]["items"] if n["metadata"]["name"] == node[1]]
            if not found:
                return 404, "application/json", _status(404, "NotFound", f'nodes "{node[1]}" not found', "nodes")
            return 200, "application/json", found[0]
        listing = _NS_PODS.fullmatch(path)
        if listing and method == "GET":
            items = [p for p in self._pod_items(listing[1]) if _selected(p, query)]
            return 200, "application/json", {"apiVersion": "v1", "kind": "PodList",
                                             "metadata": {"resourceVersion": "4243"}, "items": items}
        if listing and method == "POST":
            return self._create(listing[1], json.loads(body))
        one = _POD_PATH.fullmatch(path)
        if not one:
            return None
        with self._lock:
            running = self.pods.get((one[1], one[2]))
        listed = [p for p in self.lists["pods"]["items"]
                  if (p["metadata"].get("namespace"), p["metadata"]["name"]) == (one[1], one[2])]
        if running is None and listed and method == "GET" and not one[3]:
            return 200, "application/json", listed[0]  # a pod of the recorded cluster (a mirror pod)
        if running is None:
            return 404, "application/json", _status(404, "NotFound", f'pods "{one[2]}" not found', "pods")
        if one[3] and method == "GET":
            return self._log(running)
        if method == "GET":
            return 200, "application/json", self._snapshot(running)
        if method == "PATCH":
            with self._lock:
                _merge(running.pod, json.loads(body))
            return 200, "application/json", self._snapshot(running)
        if method == "DELETE":
            with self._lock:
                if self.pods.pop((one[1], one[2]), None) is not None:
                    self.deleted.append(copy.deepcopy(running.pod))
            running.cancel.set()  # the kubelet kills the container
            return 200, "application/json", self._snapshot(running)
        return 405, "application/json", _status(405, "MethodNotAllowed", f"{method} is not supported here")

    def _create(self, namespace: str, pod: dict[str, Any]) -> tuple[int, str, Any]:
        name = pod.get("metadata", {}).get("name", "")
        # A create RBAC or admission refuses makes no pod: nothing for podaudit to delete.
        (self.refused if self.forbid_create or self.admission else self.created).append(copy.deepcopy(pod))
        if self.forbid_create:
            return 403, "application/json", _status(
                403, "Forbidden", f'pods is forbidden: User "{USER}" cannot create resource "pods" in API group "" '
                f'in the namespace "{namespace}"', "pods")
        if self.admission:
            return 403, "application/json", _status(
                403, "Forbidden", f'pods "{name}" is forbidden: violates PodSecurity "baseline:latest": privileged '
                '(container "debugger" must not set securityContext.privileged=true), host namespaces '
                '(hostNetwork=true, hostPID=true, hostIPC=true), hostPath volumes (volume "host-root")', "pods")
        if self.hang_create:
            self._stop.wait()
            return 504, "application/json", _status(504, "Timeout", "stopped")
        if self.unprivileged:
            for container in pod["spec"]["containers"]:
                container.setdefault("securityContext", {})["privileged"] = False
        meta = pod.setdefault("metadata", {})
        meta.update(namespace=namespace, uid=str(uuid.uuid4()), resourceVersion="1",
                    creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        running = RunningPod(pod)
        with self._lock:
            if (namespace, name) in self.pods:
                return 409, "application/json", _status(409, "AlreadyExists", f'pods "{name}" already exists', "pods")
            self.pods[(namespace, name)] = running
        threading.Thread(target=self._run, args=(running,), daemon=True).start()
        if self.create_delay:
            self._stop.wait(self.create_delay)
        return 201, "application/json", self._snapshot(running)

    def _run(self, running: RunningPod) -> None:
        """What a kubelet reports while it runs the pod's one container."""
        container = running.pod["spec"]["containers"][0]["name"]
        image = running.pod["spec"]["containers"][0].get("image", "")
        if self.pull_failure:
            for reason in ("ErrImagePull", "ImagePullBackOff"):
                self._set_status(running, "Pending", container, {"waiting": {
                    "reason": reason, "message": f'Back-off pulling image "{image}"'}})
                if running.cancel.wait(0.3):
                    return
            return
        self._set_status(running, "Running", container, {"running": {"startedAt": "2026-11-26T00:00:00Z"}})
        try:
            log, code = self.kubelet(copy.deepcopy(running.pod), running.cancel)
        except Exception as exc:  # a broken test kubelet is a failed container, not a stuck pod
            log, code = f"stub kubelet: {exc!r}\n".encode(), 128
        running.log = log
        self._set_status(running, "Succeeded" if code == 0 else "Failed", container, {
            "terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}})

    def _set_status(self, running: RunningPod, phase: str, container: str, state: dict[str, Any]) -> None:
        with self._lock:
            running.pod["status"] = {"phase": phase, "qosClass": "BestEffort", "containerStatuses": [{
                "name": container, "image": running.pod["spec"]["containers"][0].get("image", ""),
                "ready": "running" in state, "restartCount": 0, "state": state}]}

    def _log(self, running: RunningPod) -> tuple[int, str, Any]:
        with self._lock:
            phase = running.pod["status"]["phase"]
            name = running.pod["metadata"]["name"]
        if phase == "Pending":
            return 400, "application/json", _status(
                400, "BadRequest", f'container "debugger" in pod "{name}" is waiting to start: ContainerCreating')
        return 200, "text/plain", running.log

    def _snapshot(self, running: RunningPod) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(running.pod)

    def _pod_items(self, namespace: str | None) -> list[dict[str, Any]]:
        with self._lock:
            made = [copy.deepcopy(r.pod) for (ns, _), r in sorted(self.pods.items())
                    if namespace is None or ns == namespace]
        demo = [p for p in self.lists["pods"]["items"]
                if namespace is None or p["metadata"].get("namespace") == namespace] if namespace else []
        return [*demo, *made]

    def _aggregated_core(self) -> dict[str, Any]:
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": [{"metadata": {"creationTimestamp": None}, "versions": [{
                    "version": "v1", "freshness": "Current", "resources": [
                        {"resource": name, "responseKind": {"group": "", "version": "v1", "kind": kind},
                         "scope": "Namespaced" if namespaced else "Cluster", "singularResource": kind.lower(),
                         "verbs": _VERBS.get(name, ["get", "list"]), "shortNames": short}
                        for name, (kind, namespaced, short) in _RESOURCES.items()]}]}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                path, query = url.path, parse_qs(url.query)
                accept = self.headers.get("Accept", "")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.calls.append((method, path))
                if method == "GET":
                    stub.requests.append((path, accept))
                if stub.hang:
                    stub._stop.wait()
                    return
                if self.headers.get("Content-Type", "").startswith(PROTOBUF) and method == "POST":
                    body = json.dumps(pod_from_protobuf(body)).encode()
                answer = stub.pod_request(method, path, query, body)
                if answer is None and method == "GET":
                    answer = stub.answer(path, accept)
                code, ctype, content = answer or (405, "application/json", _status(
                    405, "MethodNotAllowed", f"{method} {path} is not supported by the stub"))
                data = content if isinstance(content, bytes) else json.dumps(content).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# kubectl (client-go) creates built-in objects in protobuf: the Pod fields kubectl debug node
# sets, by their numbers in k8s.io/api/core/v1/generated.proto (checked against a real
# kubectl's request). A schema: field number -> (JSON name, kind, sub-schema); kinds are
# str, bool, int, msg, and "[]"-suffixed for repeated; "map" is map<string, string>.
_Schema = dict[int, tuple[str, str, Any]]
_SECURITY: _Schema = {2: ("privileged", "bool", None)}
_MOUNT: _Schema = {1: ("name", "str", None), 2: ("readOnly", "bool", None), 3: ("mountPath", "str", None)}
_CONTAINER: _Schema = {1: ("name", "str", None), 2: ("image", "str", None), 3: ("command", "str[]", None),
                       4: ("args", "str[]", None), 9: ("volumeMounts", "msg[]", _MOUNT),
                       14: ("imagePullPolicy", "str", None), 15: ("securityContext", "msg", _SECURITY),
                       16: ("stdin", "bool", None), 18: ("tty", "bool", None),
                       20: ("terminationMessagePolicy", "str", None)}
_VOLUME_SOURCE = {1: ("hostPath", "msg", {1: ("path", "str", None), 2: ("type", "str", None)})}
_VOLUME: _Schema = {1: ("name", "str", None), 2: ("", "inline", _VOLUME_SOURCE)}
_TOLERATION: _Schema = {1: ("key", "str", None), 2: ("operator", "str", None), 3: ("value", "str", None),
                        4: ("effect", "str", None), 5: ("tolerationSeconds", "int", None)}
_SPEC: _Schema = {1: ("volumes", "msg[]", _VOLUME), 2: ("containers", "msg[]", _CONTAINER),
                  3: ("restartPolicy", "str", None), 10: ("nodeName", "str", None),
                  11: ("hostNetwork", "bool", None), 12: ("hostPID", "bool", None), 13: ("hostIPC", "bool", None),
                  22: ("tolerations", "msg[]", _TOLERATION)}
_META: _Schema = {1: ("name", "str", None), 2: ("generateName", "str", None), 3: ("namespace", "str", None),
                  11: ("labels", "map", None), 12: ("annotations", "map", None)}
_POD: _Schema = {1: ("metadata", "msg", _META), 2: ("spec", "msg", _SPEC)}


def pod_from_protobuf(data: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded Pod ("k8s\\0" + runtime.Unknown{typeMeta, raw})."""
    if not data.startswith(b"k8s\x00"):
        raise ValueError("not a Kubernetes protobuf body")
    envelope = dict(_wire(data[4:]))
    pod = _decode(envelope[2], _POD)  # field 2 of runtime.Unknown: the object's bytes
    return {"apiVersion": "v1", "kind": "Pod", **pod}


def _decode(data: bytes, schema: _Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _wire(data):
        if number not in schema:
            continue
        name, kind, sub = schema[number]
        if kind == "inline":
            out.update(_decode(value, sub))
        elif kind == "map":
            entry = dict(_wire(value))
            out.setdefault(name, {})[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
        elif kind.endswith("[]"):
            out.setdefault(name, []).append(_scalar(kind[:-2], value, sub))
        else:
            out[name] = _scalar(kind, value, sub)
    return out


def _scalar(kind: str, value: Any, sub: Any) -> Any:
    if kind == "str":
        return value.decode()
    if kind == "bool":
        return bool(value)
    if kind == "msg":
        return _decode(value, sub)
    return value


def _wire(data: bytes) -> list[tuple[int, Any]]:
    """(field number, int or bytes) pairs of one protobuf message."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = _varint(data, i)
        elif wire_type == 2:
            size, i = _varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, i = data[i:i + size], i + size
        else:
            raise ValueError(f"protobuf wire type {wire_type} is not handled")
        out.append((number, value))
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _selected(pod: dict[str, Any], query: dict[str, list[str]]) -> bool:
    """Equality field selectors (spec.nodeName, metadata.name) and label selectors (k=v, k)."""
    fields = {"spec.nodeName": pod.get("spec", {}).get("nodeName", ""),
              "metadata.name": pod.get("metadata", {}).get("name", ""),
              "metadata.namespace": pod.get("metadata", {}).get("namespace", "")}
    labels = pod.get("metadata", {}).get("labels") or {}
    for term in ",".join(query.get("fieldSelector", [])).split(","):
        key, _, value = term.partition("=")
        if term and fields.get(key) != value.lstrip("="):
            return False
    for term in ",".join(query.get("labelSelector", [])).split(","):
        key, eq, value = term.partition("=")
        if term and (key not in labels or (eq and labels[key] != value.lstrip("="))):
            return False
    return True


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A JSON merge patch (what kubectl label sends; null removes a key)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def kubeconfig_text(server: str, user: str = USER) -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "stub",
        "clusters": [{"name": "stub", "cluster": {"server": server}}],
        "users": [{"name": user, "user": {"token": "stub-token"}}],
        "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": user}},
                     {"name": "other", "context": {"cluster": "stub", "user": user}}],
    })


@contextmanager
def running(discovery: str = "aggregated") -> Iterator[StubApi]:
    stub = StubApi(discovery)
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
