"""A loopback stand-in for the Kubernetes API server, good enough for a real kubectl.

Plain HTTP on 127.0.0.1 (port chosen by the OS). It serves discovery (aggregated v2 when
kubectl asks for it, else the legacy APIVersions / APIResourceList), the demo cluster's
pods and nodes, made-up namespaces, and each node's ``proxy/configz``. Failures on demand:
``forbidden`` (a set of resources answered with a 403 Status) and ``hang`` (no answer at all
until the server stops).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEMO_API = Path(__file__).resolve().parent.parent / "podaudit" / "demo" / "cluster" / "api"
NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
USER = "jane@example.com"

_RESOURCES = {  # name -> (kind, namespaced, short names)
    "pods": ("Pod", True, ["po"]),
    "nodes": ("Node", False, ["no"]),
    "namespaces": ("Namespace", False, ["ns"]),
}
_CONFIGZ = re.compile(r"/api/v1/nodes/([^/]+)/proxy/configz")


def _status(code: int, reason: str, message: str, kind: str = "") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": {"kind": kind}, "code": code}


class StubApi:
    """The server; use :func:`running` to start and always stop it."""

    def __init__(self, discovery: str = "aggregated") -> None:
        self.discovery = discovery  # "aggregated" or "legacy"
        self.forbidden: set[str] = set()
        self.hang = False
        self.requests: list[tuple[str, str]] = []  # (path, Accept)
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
                     "verbs": ["get", "list"], "shortNames": short}
                    for name, (kind, namespaced, short) in _RESOURCES.items()]}
        resource = path.removeprefix("/api/v1/")
        if resource in _RESOURCES:
            if resource in self.forbidden:
                return 403, "application/json", _status(
                    403, "Forbidden", f'{resource} is forbidden: User "{USER}" cannot list resource "{resource}" '
                    'in API group "" at the cluster scope', resource)
            body = dict(self.lists[resource])
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

    def _aggregated_core(self) -> dict[str, Any]:
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                "items": [{"metadata": {"creationTimestamp": None}, "versions": [{
                    "version": "v1", "freshness": "Current", "resources": [
                        {"resource": name, "responseKind": {"group": "", "version": "v1", "kind": kind},
                         "scope": "Namespaced" if namespaced else "Cluster", "singularResource": kind.lower(),
                         "verbs": ["get", "list"], "shortNames": short}
                        for name, (kind, namespaced, short) in _RESOURCES.items()]}]}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                accept = self.headers.get("Accept", "")
                stub.requests.append((path, accept))
                if stub.hang:
                    stub._stop.wait()
                    return
                code, ctype, body = stub.answer(path, accept)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


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
