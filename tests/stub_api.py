"""A loopback stand-in for the Kubernetes API server, good enough for a real kubectl.

Plain HTTP on 127.0.0.1 (port chosen by the OS). It serves discovery (aggregated v2 when
kubectl asks for it, else the legacy APIVersions / APIResourceList), the demo cluster's
pods and nodes, made-up namespaces, and each node's kubelet through the node proxy
(``proxy/configz`` and ``proxy/pods``, as a kubelet answers them: research-witnesses §1).
Failures on demand: ``forbidden`` (a set of resources answered with a 403 Status;
"nodes/proxy" refuses only the node proxy) and ``hang`` (no answer at all until the server
stops); per node, ``kubelet_trouble`` (see ``KUBELET_TROUBLES``).

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
import hashlib
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
_PROXY = re.compile(r"/api/v1/nodes/([^/]+)/proxy/(configz|pods)")
# The identity a kubeadm API server calls kubelets with (apiserver-kubelet-client.crt).
KUBELET_CLIENT = "kube-apiserver-kubelet-client"
# What a kubelet behind the node proxy may do instead of answering (kubelet_trouble[node]).
KUBELET_TROUBLES = {
    "forbidden": "its authorizer refuses the API server: 403 Forbidden (user=..., subresource(s)=[pods proxy])",
    "authz-error": "its webhook authorizer cannot reach the API server: 500 Authorization error (...)",
    "unauthorized": "it does not accept the API server's client certificate: 401",
    "down": "nothing listens on 10250: the API server answers 503 error trying to reach service",
    "hang": "it accepts and never answers",
    "junk": "something that is not a kubelet answers 200 with HTML",
}
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
        # /configz as a kubelet serves it: no kind/apiVersion (setConfigz converts with no TypeMeta);
        # the demo node's own staticPodPath, so that /configz, /pods and the node's files agree.
        self.configz: dict[str, dict[str, Any]] = {
            item["metadata"]["name"]: {"kubeletconfig": {
                "staticPodPath": _demo_static_pod_path(item["metadata"]["name"]),
                "authentication": {"anonymous": {"enabled": False}},
            }} for item in self.lists["nodes"]["items"]
        }
        # Each node's /pods items (the kubelet's own pods: never mirror pods); a test replaces them.
        self.kubelet_pods: dict[str, list[dict[str, Any]]] = {
            item["metadata"]["name"]: [kubelet_pod(p) for p in self.lists["pods"]["items"]
                                       if p.get("spec", {}).get("nodeName") == item["metadata"]["name"]]
            for item in self.lists["nodes"]["items"]
        }
        self.kubelet_trouble: dict[str, str] = {}  # node -> a key of KUBELET_TROUBLES
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A client that hangs up mid-answer (kubectl stopped at a cap) is the test's point, not an error.
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def point_at(self, addresses: dict[str, str]) -> None:
        """Each node's InternalIP set to where the test reaches it (a lab node's sshd address)."""
        for node in self.lists["nodes"]["items"]:
            for address in node["status"]["addresses"]:
                if address["type"] == "InternalIP":
                    address["address"] = addresses[node["metadata"]["name"]]

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
        match = _PROXY.fullmatch(path)
        if match:
            return self._proxy(match[1], match[2])
        return 404, "application/json", _status(404, "NotFound", "the server could not find the requested resource")

    def _proxy(self, node: str, endpoint: str) -> tuple[int, str, Any]:
        """The API server's node proxy (pkg/registry/core/node/rest/proxy.go): RBAC on
        nodes/proxy, then the kubelet's answer passed through as it is (status, type, body)."""
        if self.forbidden & {"nodes", "nodes/proxy"}:
            return 403, "application/json", _status(
                403, "Forbidden", f'nodes "{node}" is forbidden: User "{USER}" cannot get resource '
                '"nodes/proxy" in API group "" at the cluster scope', "nodes")
        known = [n for n in self.lists["nodes"]["items"] if n["metadata"]["name"] == node]
        if not known:
            return 404, "application/json", _status(404, "NotFound", f'nodes "{node}" not found', "nodes")
        address = next((a["address"] for a in known[0]["status"]["addresses"] if a["type"] == "InternalIP"), node)
        trouble = self.kubelet_trouble.get(node, "")
        if trouble == "hang":
            self._stop.wait()
            return 504, "application/json", _status(504, "Timeout", "stopped")
        if trouble == "down":  # UpgradeAwareHandler's dial error, as the API server words it
            return 503, "application/json", _status(503, "ServiceUnavailable", "error trying to reach service: "
                                                    f"dial tcp {address}:10250: connect: connection refused")
        text = "text/plain; charset=utf-8"
        # The kubelet's InstallAuthFilter (pkg/kubelet/server/server.go): the attributes are
        # verb=get, resource=nodes; with KubeletFineGrainedAuthz the subresource is tried before proxy.
        if trouble == "forbidden":
            return 403, text, (f"Forbidden (user={KUBELET_CLIENT}, verb=get, resource=nodes, "
                               f"subresource(s)=[{endpoint} proxy])").encode()
        if trouble == "authz-error":
            return 500, text, (f"Authorization error (user={KUBELET_CLIENT}, verb=get, resource=nodes, "
                               f"subresource={endpoint})").encode()
        if trouble == "unauthorized":
            return 401, text, b"Unauthorized"
        if trouble == "junk":
            return 200, "text/html", b"<html><body>Welcome to nginx!</body></html>"
        if endpoint == "pods":  # Server.getPods: encodePods of the pod manager's pods, a v1.PodList
            return 200, "application/json", {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                             "items": copy.deepcopy(self.kubelet_pods.get(node, []))}
        if node in self.configz:
            return 200, "application/json", self.configz[node]
        return 404, text, b"404 page not found\n"  # enableDebuggingHandlers: false has no /configz

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


def _demo_static_pod_path(node: str) -> str:
    config = DEMO_API.parent / "nodes" / node / "var" / "lib" / "kubelet" / "config.yaml"
    found = re.search(r"^staticPodPath: (\S+)$", config.read_text(), re.M) if config.is_file() else None
    return found[1] if found else "/etc/kubernetes/manifests"


def kubelet_pod(api_pod: dict[str, Any]) -> dict[str, Any]:
    """An API pod as its kubelet's /pods lists it: no kind/apiVersion; for a mirror pod, the
    static pod it mirrors (uid == config.hash, no config.mirror, no Node owner, no
    creationTimestamp), as applyDefaults (pkg/kubelet/config/common.go) made it."""
    pod = copy.deepcopy(api_pod)
    pod.pop("kind", None)
    pod.pop("apiVersion", None)
    meta = pod.setdefault("metadata", {})
    annotations = meta.setdefault("annotations", {})
    mirror = annotations.pop("kubernetes.io/config.mirror", None)
    if mirror is not None:
        meta["uid"] = annotations.get("kubernetes.io/config.hash", mirror)
        meta["creationTimestamp"] = None
        for key in ("ownerReferences", "resourceVersion", "managedFields"):
            meta.pop(key, None)
    else:
        annotations.setdefault("kubernetes.io/config.source", "api")
    return pod


def static_pod(manifest: str, node: str, namespace: str = "kube-system", *, state: dict[str, Any] | None = None,
               restarts: int = 0, last_exit: int | None = None, uid: str | None = None) -> dict[str, Any]:
    """A static pod as a kubelet's /pods shows it (research-witnesses §1.5): named
    ``<manifest>-<lower(node)>``, uid == config.hash (32 hex), config.source file, the
    status manager's live status. ``state`` is the container's state (running by default)."""
    name = f"{manifest}-{node.lower()}"
    uid = uid or hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:32]
    status: dict[str, Any] = {"name": manifest, "ready": state is None, "started": state is None,
                              "restartCount": restarts, "image": f"registry.k8s.io/{manifest}:v1.30.2",
                              "state": state or {"running": {"startedAt": "2024-06-01T14:33:21Z"}}}
    if last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": last_exit, "reason": "Error", "startedAt":
                                              "2024-06-01T15:02:11Z", "finishedAt": "2024-06-01T15:02:11Z"}}
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "creationTimestamp": None,
                     "labels": {"component": manifest, "tier": "control-plane"},
                     "annotations": {"kubernetes.io/config.hash": uid,
                                     "kubernetes.io/config.seen": "2024-06-01T14:33:20.123456789Z",
                                     "kubernetes.io/config.source": "file"}},
        "spec": {"containers": [{"name": manifest, "image": f"registry.k8s.io/{manifest}:v1.30.2",
                                 "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
                                 "terminationMessagePolicy": "File"}],
                 "restartPolicy": "Always", "nodeName": node, "hostNetwork": True,
                 "tolerations": [{"operator": "Exists", "effect": "NoExecute"}]},
        "status": {"phase": "Running", "qosClass": "Burstable", "startTime": "2024-06-01T14:33:21Z",
                   "conditions": [{"type": "Ready", "status": "True" if state is None else "False"}],
                   "containerStatuses": [status]},
    }


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
