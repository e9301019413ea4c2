"""PA108-PA111 fire on a node built for each and stay silent on a clean one; PA107 reads the
running path from either witness; PA301 only for pods that run (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from podaudit.audit.context import NodeContext
from podaudit.audit.registry import RULES, load_all_rules
from podaudit.kubelet.resolve import analyze_node
from podaudit.model import (
    ContainerRun,
    KubeletWord,
    NodeHints,
    NodeSnapshot,
    NodeWitnesses,
    RuntimeWord,
    Witness,
    WitnessSource,
    WitnessStatus,
)
from tests.test_reconcile import (
    CONFIG,
    KUBELET_CONFIG,
    NEW,
    NODE,
    OLD,
    POD,
    absent,
    api_with_mirrors,
    kubelet_word,
    node,
    runtime_word,
    stale_node,
    static,
)

WITNESS_RULES = ["PA108", "PA109", "PA110", "PA111"]
APISERVER = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\nspec:\n"
             "  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.30.2\n")
CRASH = ContainerRun("kube-apiserver", "exited", "Error", 1, 14,
                     ("I0601 15:02:11 flags", "Error: unknown flag: --this-is-very-wrong"))


@pytest.fixture(scope="module", autouse=True)
def registry() -> None:
    load_all_rules()


def fired(snap: NodeSnapshot, rule_id: str, hints: NodeHints | None = None, **ctx: Any) -> list[str]:
    view = analyze_node(snap, hints=hints)
    return [f.message for f in RULES[rule_id].check(NodeContext(view, "control-plane", node=NODE, **ctx))]


def web_node(**kwargs: Any) -> NodeSnapshot:
    return node({"/m/web.yaml": POD.format("web")}, "--pod-manifest-path=/m", **kwargs)


def witnessed(snap: NodeSnapshot, kubelet: KubeletWord, runtime: RuntimeWord | None = None) -> NodeSnapshot:
    snap.witnesses = NodeWitnesses(kubelet, runtime or RuntimeWord(absent(WitnessSource.RUNTIME, "no crictl")))
    return snap


def test_a_clean_witnessed_node_fires_none():
    """Every witness heard and agreeing: no PA108-PA111."""
    snap = witnessed(web_node(), kubelet_word([static("web", containers=(ContainerRun("c", "running"),))]),
                     runtime_word([static("web", containers=(ContainerRun("c", "running", restarts=2),))]))
    assert [m for rule_id in WITNESS_RULES for m in fired(snap, rule_id)] == []


def test_no_witness_no_finding():
    """Absent, refused or failed witnesses say nothing, so these rules say nothing."""
    snap = witnessed(web_node(), KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.REFUSED, "api node proxy",
                                                     "forbidden")),
                     RuntimeWord(Witness(WitnessSource.RUNTIME, WitnessStatus.FAILED, "crictl", "runtime down")))
    assert [m for rule_id in WITNESS_RULES for m in fired(snap, rule_id)] == []


def test_pa108_a_pod_only_the_kubelet_runs():
    snap = witnessed(web_node(), kubelet_word([static("web"), static("miner", "a" * 32, namespace="kube-system")]))
    [message] = fired(snap, "PA108")
    assert message.startswith(f"{NODE}: kube-system/miner-{NODE} runs (the kubelet's /pods (api node proxy)) but no "
                              "file defines it: no file in /m defines it")


def test_pa108_names_the_runtime_when_only_it_was_heard():
    snap = witnessed(web_node(), KubeletWord(absent(WitnessSource.KUBELET, "no cert")),
                     runtime_word([static("web"), static("miner", "a" * 32)]))
    [message] = fired(snap, "PA108")
    assert "runs (the container runtime (crictl unix:///run/containerd.sock))" in message


def test_pa108_is_silent_when_the_folder_was_not_read_in_full():
    snap = witnessed(web_node(), kubelet_word([static("web"), static("miner", "a" * 32)]))
    snap.files["/m/web.yaml"] = snap.files["/m/web.yaml"].__class__("/m/web.yaml", "denied", error="denied")
    assert fired(snap, "PA108") == []


def test_pa109_a_file_the_kubelet_refused():
    snap = witnessed(web_node(), kubelet_word([]))
    [message] = fired(snap, "PA109")
    assert message.startswith(f"{NODE}: /m/web.yaml defines default/web-{NODE} but the running kubelet does not run "
                              "it: the kubelet does not list it in /pods")


def test_pa109_a_pod_with_no_sandbox():
    snap = witnessed(web_node(), kubelet_word([static("web")]), runtime_word([]))
    [message] = fired(snap, "PA109")
    assert "the container runtime has no ready sandbox for it" in message


def test_pa110_a_sandbox_the_kubelet_does_not_list():
    snap = witnessed(web_node(), kubelet_word([static("web")]), runtime_word([static("web"), static("web", "e" * 32)]))
    [message] = fired(snap, "PA110")
    assert message == (f"{NODE}: the container runtime has a sandbox for default/web-{NODE} (uid {'e' * 32}) that the "
                       "kubelet's /pods does not list")


def test_pa111_the_broken_control_plane_from_the_runtime_alone():
    """The API server is down: the kubelet's webhook authorization fails too, only crictl answers."""
    snap = node({"/etc/kubernetes/manifests/kube-apiserver.yaml": APISERVER},
                "--pod-manifest-path=/etc/kubernetes/manifests")
    snap = witnessed(snap, KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.REFUSED, "https://127.0.0.1:10250",
                                               "HTTP 500 Authorization error")),
                     runtime_word([static("kube-apiserver", namespace="kube-system", containers=(CRASH,))]))
    [message] = fired(snap, "PA111")
    assert message == (f"{NODE}: kube-system/kube-apiserver from /etc/kubernetes/manifests/kube-apiserver.yaml: "
                       "container kube-apiserver exited 1, 14 restarts, last log line: Error: unknown flag: "
                       "--this-is-very-wrong")


def test_pa111_from_the_kubelets_word_and_for_a_pod_no_file_defines():
    loop = ContainerRun("c", "waiting", "CrashLoopBackOff", 2, 5)
    snap = witnessed(web_node(), kubelet_word([static("web", containers=(loop,)),
                                               static("ghost", "a" * 32, containers=(loop,))]))
    messages = fired(snap, "PA111")
    assert messages == [f"{NODE}: default/web from /m/web.yaml: container c waiting, last exit 2 (CrashLoopBackOff), "
                        "5 restarts",
                        f"{NODE}: default/ghost-{NODE} (no file defines it; the kubelet's /pods (api node proxy)): "
                        "container c waiting, last exit 2 (CrashLoopBackOff), 5 restarts"]


def test_pa301_only_for_pods_that_run():
    """A rejected file runs nothing: no 'runs with no mirror pod' for it."""
    api = api_with_mirrors()
    assert len(fired(web_node(), "PA301", api=api)) == 1  # no witness, no restart pending: it runs
    assert fired(witnessed(web_node(), kubelet_word([])), "PA301", api=api) == []


def test_pa301_for_a_pod_of_the_running_kubelets_folder():
    word = kubelet_word([static("static-web")], {"staticPodPath": OLD})
    [message] = fired(stale_node(), "PA301", NodeHints(kubelet=word), api=api_with_mirrors())
    assert f"default/static-web runs from {OLD}/static-web.yaml but the API has no mirror pod" in message


def test_pa107_from_the_apis_word_or_the_nodes_own_configz():
    word = kubelet_word(None, {"staticPodPath": OLD})
    [api] = fired(stale_node(), "PA107", NodeHints(kubelet=word))
    assert api == (f"{NODE}: the running kubelet's staticPodPath is {OLD} (configz) but its files say {NEW} (a "
                   "restart is pending: the files changed after the kubelet started)")
    on_node = witnessed(stale_node(), kubelet_word(None, {"staticPodPath": OLD}, via="https://127.0.0.1:10250"))
    assert fired(on_node, "PA107") == [api]


def test_pa107_silent_when_the_path_agrees_or_comes_from_the_command_line():
    same = node({CONFIG: KUBELET_CONFIG.format(OLD)}, f"--config={CONFIG}")
    assert fired(same, "PA107", NodeHints(kubelet=kubelet_word(None, {"staticPodPath": OLD + "/"}))) == []
    assert fired(web_node(), "PA107", NodeHints(kubelet=kubelet_word(None, {"staticPodPath": "/m"}))) == []
    url = NodeHints(kubelet=kubelet_word(None, {"staticPodPath": OLD, "staticPodURL": "http://10.0.0.5/pods"}))
    assert [m.split(" (configz)")[0] for m in fired(same, "PA107", url)] == [
        f"{NODE}: the running kubelet's staticPodURL is http://10.0.0.5/pods"]
