"""The kubelet's word through the API's node proxy (issue 13, the API side): a real kubectl
against the stub API server, whose node proxy answers as a kubelet does (tests/stub_api.py).

``kubectl get --raw /api/v1/nodes/NODE/proxy/configz`` and ``.../proxy/pods`` are asked
before the nodes are read (run/reach.py), and a snapshot's ``api/configz/`` and
``api/kubelet-pods/`` give the same hints offline."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from podaudit.api.kubectl import kubelet_word, kubelet_words
from podaudit.errors import InputError
from podaudit.model import ContainerRun, KubeletWord, NodeHints, Witness, WitnessSource, WitnessStatus
from podaudit.run.audit import cross_check
from podaudit.run.bundles import bundles_cluster
from podaudit.run.select import Cluster, Selection, select_cluster, snapshot_cluster
from podaudit.transport.kubectl import KubectlOptions
from tests import stub_api
from tests.stub_api import KUBELET_CLIENT, USER, StubApi, static_pod

HEARD = KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.HEARD, "api node proxy", ""))
ETCD_HASH = "5570bf5e3e821eaefa8115c8c0de3b89"  # the demo's etcd-controlplane config.hash


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ~/.kube or ~/.ssh of the user's: its own HOME and discovery cache."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kubecache"))
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture
def stub() -> Iterator[StubApi]:
    with stub_api.running() as server:
        yield server


@pytest.fixture
def opts(stub: StubApi, tmp_path: Path, kubectl_bin: str) -> KubectlOptions:
    return KubectlOptions(kubeconfig=str(stub.kubeconfig(tmp_path / "kubeconfig")), kubectl=kubectl_bin, timeout=10)


def asked(stub: StubApi, node: str) -> list[str]:
    """The node proxy endpoints asked of ``node``, in order."""
    prefix = f"/api/v1/nodes/{node}/proxy/"
    return [path.removeprefix(prefix) for path, _ in stub.requests if path.startswith(prefix)]


def sources(cluster: Cluster) -> dict[str, NodeHints | None]:
    """Each node's hints, without when the word was heard (a live run and a snapshot differ there)
    and without the API's Nodes (for the node name: tests/test_nodename.py)."""
    hints = {node.name: node.hints for node in cluster.nodes}  # type: ignore[attr-defined]
    return {name: None if h is None else replace(h, kubelet=h.kubelet and replace(h.kubelet, heard_at=None),
                                                 api_node=None, api_nodes=(), nodes_loaded=False)
            for name, h in hints.items()}


# -- one node ------------------------------------------------------------------------------

def test_an_endless_answer_is_cut_at_the_cap(stub: StubApi, opts: KubectlOptions) -> None:
    """A node's kubelet is hostile input even through the API's node proxy: past
    MAX_PROXY_ANSWER bytes kubectl is stopped, the word is failed (not heard), and memory stays
    bounded; the node's configz is still heard."""
    from podaudit.api.kubectl import MAX_PROXY_ANSWER

    pod = static_pod("bloat", "node01")
    pod["metadata"]["annotations"]["bloat"] = "x" * (1 << 20)
    stub.kubelet_pods["node01"] = [pod] * (MAX_PROXY_ANSWER // (1 << 20) + 2)
    word = kubelet_word(opts, "node01")
    assert word.pods is None and word.configz is not None
    assert f"more than {MAX_PROXY_ANSWER >> 20} MiB on stdout" in word.witness.detail, word.witness


def test_heard_the_kubelets_own_pods_and_configuration(stub: StubApi, opts: KubectlOptions) -> None:
    """/pods lists static pods as applyDefaults made them (uid == config.hash, config.source
    file) with the status manager's live status; /configz has no kind/apiVersion."""
    stub.kubelet_pods["node01"].append(static_pod("kube-apiserver", "node01", restarts=14, last_exit=1, state={
        "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}))
    word = kubelet_word(opts, "node01")
    assert word.witness == HEARD.witness
    assert word.configz == {"staticPodPath": "/etc/just-to-mess-with-you",  # as node01's own files say
                            "authentication": {"anonymous": {"enabled": False}}}
    pods = {p.name: p for p in word.pods or ()}
    assert set(pods) == {"static-greenbox-node01", "kube-apiserver-node01", "kube-proxy-sbgfh", "weave-net-md8jw"}
    apiserver = pods["kube-apiserver-node01"]
    assert (apiserver.namespace, apiserver.source, apiserver.ready) == ("kube-system", "file", False)
    assert len(apiserver.uid) == 32 and apiserver.uid == stub.kubelet_pods["node01"][-1]["metadata"]["uid"]
    assert apiserver.containers == (ContainerRun("kube-apiserver", "waiting", "CrashLoopBackOff", 1, 14),)
    assert pods["static-greenbox-node01"].uid == "8bd637d3305da182ea3202a7c8943392"  # its mirror's config.mirror
    assert pods["kube-proxy-sbgfh"].source == "api"
    assert asked(stub, "node01") == ["configz", "pods"]  # one kubectl run each


def test_configz_reads_the_same_with_or_without_kind(stub: StubApi, opts: KubectlOptions) -> None:
    """A real kubelet's /configz has no TypeMeta (setConfigz converts without one); the
    Kubernetes docs add it with jq. Either way the kubeletconfig object is what is read."""
    bare = kubelet_word(opts, "node01").configz
    stub.configz["node01"]["kubeletconfig"].update(kind="KubeletConfiguration",
                                                   apiVersion="kubelet.config.k8s.io/v1beta1")
    word = kubelet_word(opts, "node01")
    typed = word.configz
    assert word.witness == HEARD.witness and word.pods  # /pods was asked all the same
    assert bare is not None and typed is not None and "kind" not in bare
    assert typed["staticPodPath"] == bare["staticPodPath"] == "/etc/just-to-mess-with-you"


def test_pods_alone_are_heard_when_configz_is_off(stub: StubApi, opts: KubectlOptions) -> None:
    """enableDebuggingHandlers: false removes /configz (404) but not /pods."""
    del stub.configz["node01"]
    word = kubelet_word(opts, "node01")
    assert word.witness.status is WitnessStatus.HEARD and word.configz is None and word.pods
    assert word.witness.detail.startswith("kubectl get --raw /api/v1/nodes/node01/proxy/configz failed (")


def test_refused_by_rbac_on_nodes_proxy(stub: StubApi, opts: KubectlOptions) -> None:
    stub.forbidden = {"nodes/proxy"}
    word = kubelet_word(opts, "node01")
    assert word == KubeletWord(Witness(
        WitnessSource.KUBELET, WitnessStatus.REFUSED, "api node proxy",
        f"kubectl get --raw /api/v1/nodes/node01/proxy/configz: forbidden for user {USER} (RBAC): podaudit "
        "needs get on nodes/proxy to hear the kubelets (/pods, /configz)"))
    assert asked(stub, "node01") == ["configz"]  # /pods needs the same permission: not asked


@pytest.mark.parametrize(("trouble", "said"), [
    ("forbidden", "forbidden by the kubelet: the API server's kubelet client needs get on nodes/proxy there"),
    ("authz-error", f"refused by the kubelet (Authorization error (user={KUBELET_CLIENT}, verb=get, "
                    "resource=nodes, subresource=configz)): its webhook could not ask the API server"),
    ("unauthorized", "unauthorized (401): the kubelet did not accept the API server's client credentials"),
])
def test_refused_by_the_kubelet(stub: StubApi, opts: KubectlOptions, trouble: str, said: str) -> None:
    """The kubelet's InstallAuthFilter judges the API server's identity: 403 Forbidden (...),
    401, or 500 Authorization error (...) when its webhook cannot reach the API server."""
    stub.kubelet_trouble["node01"] = trouble
    word = kubelet_word(opts, "node01")
    assert (word.witness.status, word.pods, word.configz) == (WitnessStatus.REFUSED, None, None)
    assert word.witness.detail.startswith("kubectl get --raw /api/v1/nodes/node01/proxy/configz: ")
    assert said in word.witness.detail and "\n" not in word.witness.detail


def test_a_hanging_kubelet_is_failed_within_the_timeout(stub: StubApi, opts: KubectlOptions) -> None:
    stub.kubelet_trouble["node01"] = "hang"
    quick = KubectlOptions(opts.kubeconfig, kubectl=opts.kubectl, timeout=2)
    start = time.monotonic()
    word = kubelet_word(quick, "node01")
    assert time.monotonic() - start < 2 + 5  # one timeout: /pods is not asked of a kubelet that hangs
    assert word.witness.status is WitnessStatus.FAILED
    assert word.witness.detail.startswith("kubectl get --raw /api/v1/nodes/node01/proxy/configz: ")
    assert "in time" in word.witness.detail or "no answer within 2s" in word.witness.detail
    assert asked(stub, "node01") == ["configz"]


@pytest.mark.parametrize(("trouble", "said"), [
    ("junk", "not kubectl JSON"),
    ("down", "(Error from server (ServiceUnavailable): error trying to reach service: dial tcp 192.168.121.11:10250: "
             "connect: connection refused)"),
])
def test_junk_or_a_kubelet_that_is_down_is_failed(stub: StubApi, opts: KubectlOptions, trouble: str, said: str
                                                  ) -> None:
    stub.kubelet_trouble["node01"] = trouble
    word = kubelet_word(opts, "node01")
    assert (word.witness.status, word.pods, word.configz) == (WitnessStatus.FAILED, None, None)
    assert said in word.witness.detail
    assert word.witness.detail.startswith("kubectl get --raw /api/v1/nodes/node01/proxy/configz")
    assert asked(stub, "node01") == ["configz", "pods"]  # a kubelet down now may be up for /pods


def test_a_pod_list_that_is_not_one_is_failed(stub: StubApi, opts: KubectlOptions) -> None:
    stub.kubelet_pods["node01"] = "nope"  # type: ignore[assignment]
    del stub.configz["node01"]
    word = kubelet_word(opts, "node01")
    assert word.witness.status is WitnessStatus.FAILED
    assert word.witness.detail.endswith("proxy/configz failed (Error from server (NotFound): the server could not "
                                        "find the requested resource)")
    stub.configz["node01"] = {"kubeletconfig": {"staticPodPath": "/m"}}
    word = kubelet_word(opts, "node01")
    assert (word.witness.status, word.pods) == (WitnessStatus.HEARD, None)
    assert word.witness.detail == ("kubectl get --raw /api/v1/nodes/node01/proxy/pods: not a pod list (no items); "
                                   "the kubelet's pod list is not used")


# -- many nodes ----------------------------------------------------------------------------

@pytest.mark.parametrize("refusal", ["rbac", "kubelet"])
def test_only_the_first_node_is_asked_when_it_is_refused(stub: StubApi, opts: KubectlOptions, refusal: str
                                                         ) -> None:
    if refusal == "rbac":
        stub.forbidden = {"nodes/proxy"}
    else:
        stub.kubelet_trouble.update(controlplane="forbidden", node01="forbidden")
    words = kubelet_words(opts, ["controlplane", "node01"])
    assert words["controlplane"].witness.status is WitnessStatus.REFUSED
    assert words["node01"] == words["controlplane"]  # the same line, not asked
    assert asked(stub, "node01") == []


def test_an_authorization_error_is_that_kubelets_own(stub: StubApi, opts: KubectlOptions) -> None:
    """The 500 comes from one kubelet's webhook failing to reach the API server: the others
    are still asked."""
    stub.kubelet_trouble["controlplane"] = "authz-error"
    words = kubelet_words(opts, ["controlplane", "node01"])
    assert words["controlplane"].witness.status is WitnessStatus.REFUSED
    assert words["node01"].witness == HEARD.witness and asked(stub, "node01") == ["configz", "pods"]


def test_a_hanging_first_kubelet_does_not_silence_the_others(stub: StubApi, opts: KubectlOptions) -> None:
    stub.kubelet_trouble["controlplane"] = "hang"
    quick = KubectlOptions(opts.kubeconfig, kubectl=opts.kubectl, timeout=2)
    words = kubelet_words(quick, ["controlplane", "node01"])
    assert words["controlplane"].witness.status is WitnessStatus.FAILED
    assert words["node01"].witness == HEARD.witness and words["node01"].pods


# -- before the nodes are read (run/reach.py) ------------------------------------------------

def select(opts: KubectlOptions, **kw: Any) -> Cluster:
    """The cluster as a sweep reads it: its nodes with the kubelets' word, asked just before."""
    sel = Selection(kubeconfig=opts.kubeconfig, kubectl=opts.kubectl, **kw)
    cluster = select_cluster(sel, want_api=True)
    cluster.nodes = cluster.about_to_read(cluster.nodes)
    return cluster


def test_find_asks_only_the_kubelets_of_the_nodes_it_reads(stub: StubApi, opts: KubectlOptions) -> None:
    """find reads the nodes a pod name points to; the other kubelets are not asked."""
    from podaudit.run.find import find_pod

    sel = Selection(kubeconfig=opts.kubeconfig, kubectl=opts.kubectl, nodes="controlplane,node01", timeout=1.0)
    cluster = select_cluster(sel, want_api=True)
    assert not [path for path, _ in stub.requests if "/proxy/" in path]  # nothing asked yet
    find_pod("static-greenbox-node01", None, cluster)
    asked = sorted({path for path, _ in stub.requests if "/proxy/" in path})
    assert asked == ["/api/v1/nodes/node01/proxy/configz", "/api/v1/nodes/node01/proxy/pods"]


def set_ready(stub: StubApi, node: str, status: str) -> None:
    item = next(n for n in stub.lists["nodes"]["items"] if n["metadata"]["name"] == node)
    next(c for c in item["status"]["conditions"] if c["type"] == "Ready")["status"] = status


def test_every_node_gets_its_hints_before_it_is_read(stub: StubApi, opts: KubectlOptions) -> None:
    cluster = select(opts)
    hints = sources(cluster)
    assert set(hints) == {"controlplane", "node01"}
    for name, ip in (("controlplane", "192.168.121.10"), ("node01", "192.168.121.11")):
        hint = hints[name]
        assert hint is not None and hint.node_ip == ip and hint.kubelet is not None
        assert hint.kubelet.witness == HEARD.witness and hint.kubelet.pods
    etcd = next(p for p in hints["controlplane"].kubelet.pods if p.name == "etcd-controlplane")  # type: ignore[union-attr]
    assert (etcd.uid, etcd.source) == (ETCD_HASH, "file")
    assert cluster.api is not None and sorted(cluster.api.configz) == ["controlplane", "node01"]
    assert replace(cluster.api.kubelet["node01"], heard_at=None) == hints["node01"].kubelet  # type: ignore[union-attr]
    assert cluster.api.kubelet["node01"].heard_at is not None  # when it was heard: files newer than that are new
    assert not [n for n in cluster.notes if "kubelet" in n]


def test_not_ready_nodes_are_not_asked(stub: StubApi, opts: KubectlOptions) -> None:
    set_ready(stub, "node01", "False")
    set_ready(stub, "controlplane", "Unknown")
    hints = sources(select(opts))
    for name, state in (("node01", "NotReady"), ("controlplane", "Ready=Unknown")):
        word = hints[name].kubelet  # type: ignore[union-attr]
        assert word == KubeletWord(Witness(
            WitnessSource.KUBELET, WitnessStatus.ABSENT, "api node proxy",
            f"the API calls node {name} {state}: its node proxy cannot reach a kubelet that is down; not asked"))
        assert asked(stub, name) == []


def test_a_refusal_is_one_note_never_a_failure(stub: StubApi, opts: KubectlOptions) -> None:
    stub.forbidden = {"nodes/proxy"}
    cluster = select(opts)
    assert cluster.api is not None and cluster.api.failed == {} and cluster.api.configz == {}
    [note] = [n for n in cluster.notes if "kubelet" in n]
    assert note.startswith("the kubelet witness (/configz and /pods through the API's node proxy) was not heard "
                           "from 2 of 2 nodes, so PA107 and the kubelet's pod list are not checked there: ")
    assert note.endswith("podaudit needs get on nodes/proxy to hear the kubelets (/pods, /configz)")
    assert asked(stub, "node01") == []


def test_an_inventory_node_the_api_does_not_know_is_not_asked(stub: StubApi, opts: KubectlOptions) -> None:
    hints = sources(select(opts, nodes="node01,stranger"))
    assert hints["node01"].kubelet.witness == HEARD.witness  # type: ignore[union-attr]
    assert hints["stranger"] == NodeHints(None, KubeletWord(Witness(
        WitnessSource.KUBELET, WitnessStatus.ABSENT, "api node proxy", "the API lists no node stranger; not asked")))
    assert asked(stub, "stranger") == []


def test_the_deadline_bounds_the_asking(stub: StubApi, opts: KubectlOptions) -> None:
    hints = sources(select(opts, deadline=0.0))
    assert hints["node01"].kubelet.witness.status is WitnessStatus.FAILED  # type: ignore[union-attr]
    assert not [p for p, _ in stub.requests if "/proxy/" in p]


def test_after_the_nodes_only_the_pods_are_read_again(stub: StubApi, opts: KubectlOptions) -> None:
    """cross_check no longer asks configz: the kubelets' word was asked once, before."""
    sel = Selection(kubeconfig=opts.kubeconfig, kubectl=opts.kubectl)
    cluster = select_cluster(sel, want_api=True)
    cluster.nodes = cluster.about_to_read(cluster.nodes)
    stub.requests.clear()
    cross_check(sel, cluster, ["controlplane", "node01"])
    paths = [path for path, _ in stub.requests]
    assert "/api/v1/pods" in paths and not [p for p in paths if "/proxy/" in p]
    assert cluster.api is not None and sorted(cluster.api.configz) == ["controlplane", "node01"]


# -- snapshots -----------------------------------------------------------------------------

def record(stub: StubApi, opts: KubectlOptions, folder: Path, endpoints: tuple[str, ...] = ("configz", "pods")
           ) -> Path:
    """A cluster snapshot of the stub: its nodes, and the node proxy's answers as kubectl get
    --raw printed them (api/configz/NODE.json, api/kubelet-pods/NODE.json)."""
    api = folder / "api"
    api.mkdir(parents=True)
    (api / "nodes.json").write_text(json.dumps(stub.lists["nodes"]))
    for node in ("controlplane", "node01"):
        (folder / "nodes" / node).mkdir(parents=True)
        for endpoint in endpoints:
            out = subprocess.run([opts.kubectl, f"--kubeconfig={opts.kubeconfig}", "get", "--raw",
                                  f"/api/v1/nodes/{node}/proxy/{endpoint}"], capture_output=True, check=True,
                                 env=os.environ, timeout=30).stdout
            where = api / ("configz" if endpoint == "configz" else "kubelet-pods")
            where.mkdir(exist_ok=True)
            (where / f"{node}.json").write_bytes(out)
    return folder


def test_a_snapshot_gives_the_same_hints(stub: StubApi, opts: KubectlOptions, tmp_path: Path) -> None:
    stub.kubelet_pods["node01"].append(static_pod("kube-apiserver", "node01", restarts=3, last_exit=2, state={
        "waiting": {"reason": "CrashLoopBackOff"}}))
    live = sources(select(opts))
    offline = sources(snapshot_cluster(str(record(stub, opts, tmp_path / "snap"))))
    assert offline == live
    assert offline["node01"].kubelet.witness == HEARD.witness  # type: ignore[union-attr]


def test_a_snapshot_without_the_answers(stub: StubApi, opts: KubectlOptions, tmp_path: Path) -> None:
    snap = record(stub, opts, tmp_path / "snap", endpoints=("configz",))
    word = sources(snapshot_cluster(str(snap)))["node01"].kubelet  # type: ignore[union-attr]
    assert word is not None and word.witness.status is WitnessStatus.HEARD and word.pods is None
    assert word.witness.detail == "api/kubelet-pods/node01.json: not in the snapshot"
    for name in os.listdir(snap / "api" / "configz"):
        os.unlink(snap / "api" / "configz" / name)
    hints = sources(snapshot_cluster(str(snap)))
    assert hints["node01"] == NodeHints("192.168.121.11", KubeletWord(Witness(
        WitnessSource.KUBELET, WitnessStatus.ABSENT, "api node proxy",
        "not in the snapshot (api/configz/node01.json, api/kubelet-pods/node01.json)")))
    no_api = sources(snapshot_cluster(str(record(stub, opts, tmp_path / "again")), kubelet=False))
    assert no_api["node01"] == NodeHints("192.168.121.11", None)  # --no-api: the kubelet's word is API data


def test_a_snapshot_answer_that_is_junk_or_a_link(stub: StubApi, opts: KubectlOptions, tmp_path: Path) -> None:
    snap = record(stub, opts, tmp_path / "snap", endpoints=("pods",))
    (snap / "api" / "kubelet-pods" / "node01.json").write_text("<html>")
    cluster = snapshot_cluster(str(snap))
    word = sources(cluster)["node01"].kubelet  # type: ignore[union-attr]
    assert word is not None and word.witness.status is WitnessStatus.FAILED
    assert word.witness.detail.endswith("api/kubelet-pods/node01.json: not JSON (JSONDecodeError); continuing "
                                        "without it")
    assert word.witness.detail in cluster.notes
    (snap / "api" / "kubelet-pods" / "node01.json").unlink()
    (snap / "api" / "kubelet-pods" / "node01.json").symlink_to("/etc/hostname")
    cluster = snapshot_cluster(str(snap))
    assert cluster.api is None and sources(cluster)["node01"] is None
    assert "api/kubelet-pods/node01.json is a link; the API view is not read (a snapshot's api/ holds plain " \
           "files)" in cluster.notes


def test_analyze_copies_the_kubelet_pods_of_api(stub: StubApi, opts: KubectlOptions, tmp_path: Path) -> None:
    """podaudit analyze BUNDLE --api DIR: the node proxy's answers travel with the API's lists."""
    snap = record(stub, opts, tmp_path / "snap")
    folder = tmp_path / "unpacked"
    for node in ("controlplane", "node01"):
        (folder / "nodes" / node).mkdir(parents=True)
    hints = sources(bundles_cluster((), str(snap / "api"), str(folder)))
    assert (folder / "api" / "kubelet-pods" / "node01.json").is_file()
    assert hints == sources(snapshot_cluster(str(snap)))
    (snap / "api" / "kubelet-pods" / "node01.json").unlink()
    (snap / "api" / "kubelet-pods" / "node01.json").symlink_to(snap / "api" / "nodes.json")
    with pytest.raises(InputError, match=r"kubelet-pods/node01\.json is a link"):
        bundles_cluster((), str(snap / "api"), str(tmp_path / "again"))
