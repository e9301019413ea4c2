"""The three witnesses reconciled (podaudit/kubelet/reconcile.py): every state of a static pod
on a node built for it, and the issue's restart-pending node (issue 13)."""

from __future__ import annotations

import time

from podaudit.api.view import ApiNode, ApiPod, ApiView
from podaudit.audit.context import NodeContext
from podaudit.audit.registry import RULES, load_all_rules
from podaudit.collect.passes import RecordingReader, still_needed
from podaudit.kubelet.resolve import NodeView, analyze_node
from podaudit.model import (
    ContainerRun,
    KubeletWord,
    NodeHints,
    NodeSnapshot,
    NodeWitnesses,
    ProcessRecord,
    RuntimeWord,
    Witness,
    WitnessedPod,
    WitnessSource,
    WitnessStatus,
)
from tests.memnode import mem_node

NODE = "node-a"
CONFIG = "/var/lib/kubelet/config.yaml"
NEW, OLD = "/etc/kubernetes/new-manifests", "/etc/kubernetes/manifests"
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\nspec:\n  containers:\n  - name: c\n    image: i\n"
KUBELET_CONFIG = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nstaticPodPath: {}\n"
HASH = "3a5d4c1e6f7b8a9c0d1e2f3a4b5c6d7e"
STARTED = 100.0


def kubelet_word(pods: list[WitnessedPod] | None = None, configz: dict[str, object] | None = None,
                 via: str = "api node proxy") -> KubeletWord:
    return KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.HEARD, via),
                       None if pods is None else tuple(pods), configz)


def runtime_word(sandboxes: list[WitnessedPod]) -> RuntimeWord:
    return RuntimeWord(Witness(WitnessSource.RUNTIME, WitnessStatus.HEARD, "crictl unix:///run/containerd.sock"),
                       tuple(sandboxes))


def absent(source: WitnessSource, why: str) -> Witness:
    return Witness(source, WitnessStatus.ABSENT, "", why)


def static(name: str, uid: str = HASH, ready: bool | None = True, containers: tuple[ContainerRun, ...] = (),
           source: str = "file", namespace: str = "default") -> WitnessedPod:
    """A pod as /pods or crictl pods shows a static pod: <name>-<node>, uid == config.hash."""
    return WitnessedPod(namespace, f"{name}-{NODE}", uid, source, ready, containers)


def node(files: dict[str, str], *args: str, changed: bool = False, mtimes: dict[str, float] | None = None
         ) -> NodeSnapshot:
    """A node whose kubelet runs with ``args``; ``changed``: its config.yaml changed after it started."""
    kubelet = ProcessRecord(10, ("/usr/bin/kubelet", *args), start_time=STARTED)
    times = {CONFIG: STARTED + 100 if changed else 1.0, **(mtimes or {})}
    return mem_node(files, hostname=NODE, processes=[kubelet], mtimes=times)


def stale_node() -> NodeSnapshot:
    """The issue's node: config.yaml moved staticPodPath to new-manifests after the kubelet started."""
    return node({CONFIG: KUBELET_CONFIG.format(NEW),
                 f"{NEW}/static-metrics.yaml": POD.format("static-metrics"),
                 f"{NEW}/static-web.yaml": POD.format("static-web"),
                 f"{OLD}/static-web.yaml": POD.format("static-web")},
                f"--config={CONFIG}", changed=True)


def states(view: NodeView) -> dict[str, str]:
    return {p.manifest_path: p.state for p in view.reconciled.pods}


def the_pod(view: NodeView, path: str):  # type: ignore[no-untyped-def]
    found = view.reconciled.state_of(path)
    assert found is not None, path
    return found


def api_with_mirrors(*names: str) -> ApiView:
    pods = [ApiPod("default", name, NODE, True, NODE, "1/1", "Running", 0, None) for name in names]
    return ApiView(nodes=[ApiNode(NODE, {}, {}, ready="True")], pods=pods, loaded={"nodes", "pods", "namespaces"},
                   namespaces=["default"])


def test_the_issues_node_with_the_kubelets_word():
    """Issue 13: configz says /etc/kubernetes/manifests and /pods lists static-web-node-a, so
    static-web from manifests runs and both new-manifests pods wait for a restart (no PA301)."""
    word = kubelet_word([static("static-web")], {"staticPodPath": OLD})
    view = analyze_node(stale_node(), hints=NodeHints(kubelet=word))
    assert view.reconciled.running.path == OLD and view.reconciled.differs
    assert [e.path for e in view.running_entries] == [f"{OLD}/static-web.yaml"]
    assert states(view) == {f"{NEW}/static-metrics.yaml": "after-restart", f"{NEW}/static-web.yaml": "after-restart",
                            f"{OLD}/static-web.yaml": "running"}
    web = the_pod(view, f"{OLD}/static-web.yaml")
    assert web.witnessed_by == (WitnessSource.FILES, WitnessSource.KUBELET) and web.uid == HASH
    assert "starts it" not in web.why and f"the next restart recreates it from {NEW}/static-web.yaml" in web.why
    assert "it starts at the next kubelet restart" in the_pod(view, f"{NEW}/static-metrics.yaml").why
    assert view.reconciled.next_restart == (f"at the next restart the kubelet reads {NEW} instead of {OLD}: starts "
                                            "default/static-metrics-node-a; recreates default/static-web-node-a")
    assert view.reconciled.unfiled == ()
    load_all_rules()
    ctx = NodeContext(view, "worker", api=api_with_mirrors("static-web-node-a"), node=NODE)
    assert list(RULES["PA301"].check(ctx)) == []


def test_the_issues_node_without_any_witness_is_unknown():
    """No API, no kubelet on the node, no crictl: podaudit does not guess, and names what would settle it."""
    snap = stale_node()
    snap.witnesses = NodeWitnesses(
        KubeletWord(absent(WitnessSource.KUBELET, "nothing listens on 127.0.0.1:10250")),
        RuntimeWord(absent(WitnessSource.RUNTIME, "no crictl on the node")))
    view = analyze_node(snap)
    assert states(view) == {f"{NEW}/static-metrics.yaml": "unknown", f"{NEW}/static-web.yaml": "unknown"}
    why = the_pod(view, f"{NEW}/static-web.yaml").why
    assert "restart pending" in why and "no witness was heard" in why
    for witness in ("/api/v1/nodes/node-a/proxy/configz", "https://127.0.0.1:10250/configz", "crictl pods"):
        assert witness in why
    assert [w.status for w in view.reconciled.witnesses] == [WitnessStatus.HEARD, WitnessStatus.ABSENT,
                                                             WitnessStatus.ABSENT]
    load_all_rules()
    # With an API that has no mirror pod for them, PA301 says they *may* run (see below).
    found = RULES["PA301"].check(NodeContext(view, "worker", api=api_with_mirrors(), node=NODE))
    assert all(" may run " in f.message for f in found)


def test_the_nodes_own_configz_and_the_folder_is_wanted_in_the_next_pass():
    """The node's own /configz is used when the API gave none, and the running folder is asked
    for as a folder, so a gathering pass fetches its listing and files."""
    snap = stale_node()
    snap.witnesses = NodeWitnesses(kubelet_word(None, {"staticPodPath": OLD}, via="https://127.0.0.1:10250"),
                                   RuntimeWord(absent(WitnessSource.RUNTIME, "no crictl")))
    partial = NodeSnapshot("n", NODE, snap.processes, {k: v for k, v in snap.files.items() if not k.startswith(OLD)},
                           {k: v for k, v in snap.dirs.items() if not k.startswith(OLD)}, witnesses=snap.witnesses)
    reader = RecordingReader(partial)
    view = analyze_node(partial, reader)
    assert OLD in still_needed(reader, view)[1]
    assert any(p.path == OLD and "not collected" in p.detail for p in view.incomplete)
    assert not view.reconciled.complete
    full = analyze_node(snap)
    assert full.reconciled.running.via == "/configz through https://127.0.0.1:10250"
    assert states(full)[f"{OLD}/static-web.yaml"] == "running"
    assert "no witness lists its pods" in the_pod(full, f"{OLD}/static-web.yaml").why


def test_the_apis_word_comes_before_the_nodes_and_a_refusal_is_kept():
    refused = KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.REFUSED, "api node proxy",
                                  "forbidden: get on nodes/proxy"))
    snap = stale_node()
    snap.witnesses = NodeWitnesses(kubelet_word([static("static-web")], {"staticPodPath": OLD},
                                                via="https://127.0.0.1:10250"),
                                   RuntimeWord(absent(WitnessSource.RUNTIME, "no crictl")))
    heard = analyze_node(snap, hints=NodeHints(kubelet=refused))
    assert heard.reconciled.witness(WitnessSource.KUBELET) == Witness(
        WitnessSource.KUBELET, WitnessStatus.HEARD, "https://127.0.0.1:10250")
    snap.witnesses = None
    alone = analyze_node(snap, hints=NodeHints(kubelet=refused))
    assert alone.reconciled.witness(WitnessSource.KUBELET) == Witness(
        WitnessSource.KUBELET, WitnessStatus.REFUSED, "api node proxy", "forbidden: get on nodes/proxy")
    snap.witnesses = NodeWitnesses(KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.ABSENT,
                                                       "https://127.0.0.1:10250", "no client certificate")),
                                   RuntimeWord(absent(WitnessSource.RUNTIME, "no crictl")))
    both = analyze_node(snap, hints=NodeHints(kubelet=refused)).reconciled.witness(WitnessSource.KUBELET)
    assert both is not None and (both.status, both.detail) == (
        WitnessStatus.REFUSED,
        "api node proxy: forbidden: get on nodes/proxy; https://127.0.0.1:10250: no client certificate")
    assert set(states(alone).values()) == {"unknown"}


def test_kubelet_not_running():
    """No kubelet process: nothing runs the file pods, whatever the runtime still holds."""
    unit = "[Service]\nExecStart=/usr/bin/kubelet --pod-manifest-path=/m\n"
    snap = mem_node({"/etc/systemd/system/kubelet.service": unit, "/m/web.yaml": POD.format("web")}, hostname=NODE)
    snap.witnesses = NodeWitnesses(KubeletWord(absent(WitnessSource.KUBELET, "nothing listens")),
                                   runtime_word([static("web")]))
    view = analyze_node(snap)
    pod = the_pod(view, "/m/web.yaml")
    assert pod.state == "kubelet-not-running" and "no kubelet process" in pod.why
    assert "the runtime still runs its containers" in pod.why and pod.witnessed_by[-1] is WitnessSource.RUNTIME


def test_rejected_when_the_kubelet_does_not_list_an_old_file():
    snap = node({"/m/web.yaml": POD.format("web"), "/m/fresh.yaml": POD.format("fresh")},
                "--pod-manifest-path=/m", mtimes={"/m/fresh.yaml": time.time()})
    view = analyze_node(snap, hints=NodeHints(kubelet=kubelet_word([], {"staticPodPath": "/m"})))
    assert states(view) == {"/m/fresh.yaml": "running", "/m/web.yaml": "rejected"}
    assert 'journalctl -u kubelet | grep "Could not process manifest file"' in the_pod(view, "/m/web.yaml").why
    assert "written less than a minute ago" in the_pod(view, "/m/fresh.yaml").why


def test_runtime_only_sees_a_sandbox_or_none():
    """A ready sandbox runs the pod; a not-ready one (a completed pod, one being torn down)
    still says the kubelet took the file; no sandbox at all, for a file older than a minute,
    is a file the kubelet refused or cannot start."""
    snap = node({"/m/web.yaml": POD.format("web"), "/m/done.yaml": POD.format("done"),
                 "/m/gone.yaml": POD.format("gone")}, "--pod-manifest-path=/m")
    crash = ContainerRun("c", "exited", "Error", 1, 14, ("boom",))
    snap.witnesses = NodeWitnesses(KubeletWord(absent(WitnessSource.KUBELET, "no client certificate")),
                                   runtime_word([static("web", containers=(crash,)),
                                                 static("done", "f" * 32, ready=False)]))
    view = analyze_node(snap)
    web, done, gone = (the_pod(view, f"/m/{n}.yaml") for n in ("web", "done", "gone"))
    assert (web.state, web.witnessed_by, web.containers, web.sandbox) == (
        "running", (WitnessSource.FILES, WitnessSource.RUNTIME), (crash,), True)
    assert done.state == "running" and "not ready" in done.why
    assert gone.state == "rejected" and "no sandbox" in gone.why and gone.sandbox is False


def test_the_runtimes_containers_come_first_and_the_kubelets_fill_in():
    runtime_c = ContainerRun("c", "exited", "Error", 1, 14, ("last",))
    kubelet_c = (ContainerRun("c", "waiting", "CrashLoopBackOff", 1, 14), ContainerRun("side", "running"))
    snap = node({"/m/web.yaml": POD.format("web")}, "--pod-manifest-path=/m")
    snap.witnesses = NodeWitnesses(kubelet_word([static("web", containers=kubelet_c)]),
                                   runtime_word([static("web", containers=(runtime_c,)),
                                                 static("web", "0" * 32, containers=(ContainerRun("c", "running"),))]))
    pod = the_pod(analyze_node(snap), "/m/web.yaml")
    assert pod.witnessed_by == (WitnessSource.FILES, WitnessSource.KUBELET, WitnessSource.RUNTIME)
    assert pod.containers == (runtime_c, kubelet_c[1])


def test_pods_only_a_witness_shows_and_sandboxes_the_kubelet_does_not_list():
    snap = node({"/m/web.yaml": POD.format("web"), "/m/bad.yaml": POD.format("Bad")}, "--pod-manifest-path=/m")
    ghost, url = static("ghost", "a" * 32), static("from-url", "b" * 32, source="http")
    orphan = static("orphan", "c" * 32)
    snap.witnesses = NodeWitnesses(
        kubelet_word([static("web"), ghost, url, static("api-pod", "d" * 32, source="api")]),
        runtime_word([static("web"), static("ghost", "a" * 32), orphan]))
    view = analyze_node(snap)
    unfiled = {p.name: p for p in view.reconciled.unfiled}
    assert set(unfiled) == {"ghost-node-a", "from-url-node-a"}
    assert unfiled["ghost-node-a"].witnessed_by == (WitnessSource.KUBELET, WitnessSource.RUNTIME)
    assert "no file in /m defines it" in unfiled["ghost-node-a"].why
    assert "staticPodURL" in unfiled["from-url-node-a"].why
    assert [b.name for b in view.reconciled.unlisted_sandboxes] == ["orphan-node-a"]
    assert states(view) == {"/m/web.yaml": "running"}


def test_without_a_kubelet_word_the_runtime_shows_unfiled_pods():
    snap = node({"/m/web.yaml": POD.format("web")}, "--pod-manifest-path=/m")
    snap.witnesses = NodeWitnesses(KubeletWord(absent(WitnessSource.KUBELET, "no cert")),
                                   runtime_word([static("web"), static("ghost", "a" * 32)]))
    [ghost] = analyze_node(snap).reconciled.unfiled
    assert (ghost.name, ghost.witnessed_by) == ("ghost-node-a", (WitnessSource.RUNTIME,))


def test_a_path_from_the_processs_own_flag_needs_no_witness():
    """--pod-manifest-path on the running command line is what the kubelet reads, even with a
    restart pending for other reasons: running, not unknown."""
    snap = node({CONFIG: KUBELET_CONFIG.format(NEW), "/m/web.yaml": POD.format("web")},
                f"--config={CONFIG}", "--pod-manifest-path=/m", changed=True)
    view = analyze_node(snap)
    assert view.restart_pending and view.reconciled.running.path == "/m"
    assert view.reconciled.running.source == "command line"
    assert states(view) == {"/m/web.yaml": "running"}


def test_no_witness_and_no_restart_pending_is_running():
    view = analyze_node(node({CONFIG: KUBELET_CONFIG.format("/m"), "/m/web.yaml": POD.format("web")},
                             f"--config={CONFIG}"))
    pod = the_pod(view, "/m/web.yaml")
    assert (pod.state, pod.witnessed_by) == ("running", (WitnessSource.FILES,))
    assert "none contradicts the files" in pod.why
    assert [w.source for w in view.reconciled.witnesses] == list(WitnessSource)


def test_a_relative_configz_path_is_taken_against_the_kubelets_working_directory():
    snap = node({CONFIG: KUBELET_CONFIG.format(OLD), f"{OLD}/web.yaml": POD.format("web")}, f"--config={CONFIG}")
    relative = kubelet_word(None, {"staticPodPath": "etc/kubernetes/manifests/"})
    view = analyze_node(snap, hints=NodeHints(kubelet=relative))
    assert view.reconciled.running.path == OLD and not view.reconciled.differs and view.running_entries == []


def test_a_running_kubelet_with_no_folder_runs_none_of_the_files():
    snap = node({CONFIG: KUBELET_CONFIG.format("/m"), "/m/web.yaml": POD.format("web")}, f"--config={CONFIG}",
                changed=True)
    view = analyze_node(snap, hints=NodeHints(kubelet=kubelet_word(None, {})))
    assert view.reconciled.running.path == "" and states(view) == {"/m/web.yaml": "after-restart"}
    assert "the running kubelet reads no static pod folder" in the_pod(view, "/m/web.yaml").why


def test_witnesses_that_disagree_are_said_to_disagree():
    """/configz names a folder the kubelet's /pods does not match: the pod the files' folder
    defines is not 'defined by no file' (no PA108), and the disagreement is said."""
    snap = node({CONFIG: KUBELET_CONFIG.format(OLD), f"{OLD}/web.yaml": POD.format("web")}, f"--config={CONFIG}")
    word = kubelet_word([static("web")], {"staticPodPath": "/srv/manifests"})
    view = analyze_node(snap, hints=NodeHints(kubelet=word))
    [web] = view.reconciled.unfiled
    assert web.manifest_path == f"{OLD}/web.yaml"
    assert "its /configz and its /pods disagree" in web.why and "/srv/manifests" in web.why
    assert any(p.path == "/srv/manifests" and "does not exist" in p.detail for p in view.problems)
    load_all_rules()
    assert list(RULES["PA108"].check(NodeContext(view, "worker", node=NODE))) == []


def test_a_file_podaudit_rejects_but_the_kubelet_runs():
    snap = node({"/m/web.yaml": POD.format("Web")}, "--pod-manifest-path=/m")
    view = analyze_node(snap, hints=NodeHints(kubelet=kubelet_word([static("Web")])))
    [web] = view.reconciled.unfiled
    assert web.manifest_path == "/m/web.yaml" and "podaudit judged it rejected" in web.why


# --- after review: what a name match proves, ordinary pods, phases, time ---------------------


def test_a_pod_of_that_name_is_no_proof_of_the_folder_while_a_restart_is_pending():
    """/pods heard but not /configz (the read-only port has none): the kubelet lists
    static-web-node-a, but the old folder defines one too (makePodSourceConfig read the old
    staticPodPath at start), so new-manifests/static-web.yaml is unknown, not running, and
    find does not call the mirror pod this file's."""
    view = analyze_node(stale_node(), hints=NodeHints(kubelet=kubelet_word([static("static-web")])))
    web = the_pod(view, f"{NEW}/static-web.yaml")
    assert web.state == "unknown" and "/configz would say" in web.why
    runtime_only = stale_node()
    runtime_only.witnesses = NodeWitnesses(KubeletWord(absent(WitnessSource.KUBELET, "no curl")),
                                           runtime_word([static("static-web")]))
    assert the_pod(analyze_node(runtime_only), f"{NEW}/static-web.yaml").state == "unknown"


def test_an_ordinary_pod_of_the_same_name_is_not_the_file_running():
    """The kubelet's /pods also lists API pods (config.source api); one named like the static
    pod does not make the file run: the kubelet refused it (PA109)."""
    snap = node({CONFIG: KUBELET_CONFIG.format(OLD), f"{OLD}/web.yaml": POD.format("web")}, f"--config={CONFIG}",
                mtimes={f"{OLD}/web.yaml": 1.0})
    word = kubelet_word([static("web", uid="1234-api-uid", source="api")], {"staticPodPath": OLD})
    view = analyze_node(snap, hints=NodeHints(kubelet=word))
    assert the_pod(view, f"{OLD}/web.yaml").state == "rejected"
    load_all_rules()
    assert [f.id for f in RULES["PA109"].check(NodeContext(view, "worker", node=NODE))] == ["PA109"]


def test_a_pod_the_kubelet_refused_at_admission_is_rejected():
    """A static pod the kubelet lists as Failed (OutOfcpu, NodeAffinity: canAdmitPod) does not
    run; one that completed (Succeeded) ran."""
    snap = node({CONFIG: KUBELET_CONFIG.format(OLD), f"{OLD}/big.yaml": POD.format("big"),
                 f"{OLD}/job.yaml": POD.format("job")}, f"--config={CONFIG}")
    failed = WitnessedPod("default", f"big-{NODE}", HASH, "file", False, (), "Failed", "OutOfcpu")
    done = WitnessedPod("default", f"job-{NODE}", "f" * 32, "file", False, (), "Succeeded")
    view = analyze_node(snap, hints=NodeHints(kubelet=kubelet_word([failed, done], {"staticPodPath": OLD})))
    big = the_pod(view, f"{OLD}/big.yaml")
    assert big.state == "rejected" and "OutOfcpu" in big.why
    assert the_pod(view, f"{OLD}/job.yaml").state == "running"
    load_all_rules()
    ctx = NodeContext(view, "worker", api=api_with_mirrors(), node=NODE)
    assert {f.path for f in RULES["PA301"].check(ctx)} == {f"{OLD}/job.yaml"}  # not the refused one


def test_a_file_written_after_the_kubelet_was_heard_is_too_new_to_judge():
    """The API's word is heard before a long sweep reads the node: a file written a minute
    after that is not 'refused', the answer is simply older than the file."""
    heard = time.time() - 600
    word = KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.HEARD, "api node proxy"), (),
                       {"staticPodPath": OLD}, heard)
    snap = node({CONFIG: KUBELET_CONFIG.format(OLD), f"{OLD}/web.yaml": POD.format("web")}, f"--config={CONFIG}",
                mtimes={f"{OLD}/web.yaml": heard + 60})
    assert the_pod(analyze_node(snap, hints=NodeHints(kubelet=word)), f"{OLD}/web.yaml").state == "running"
    older = node({CONFIG: KUBELET_CONFIG.format(OLD), f"{OLD}/web.yaml": POD.format("web")}, f"--config={CONFIG}",
                 mtimes={f"{OLD}/web.yaml": heard - 600})
    assert the_pod(analyze_node(older, hints=NodeHints(kubelet=word)), f"{OLD}/web.yaml").state == "rejected"


def test_a_pending_restart_with_no_witness_still_gives_pa301_as_may_run():
    """nodes/proxy refused and no crictl: the file may run. A static pod hiding from kubectl
    (the planted-pod case) must not go unreported behind 'unknown'."""
    view = analyze_node(stale_node())
    load_all_rules()
    found = list(RULES["PA301"].check(NodeContext(view, "worker", api=api_with_mirrors(), node=NODE)))
    assert {f.path for f in found} == {f"{NEW}/static-metrics.yaml", f"{NEW}/static-web.yaml"}
    assert all("may run" in f.message for f in found)


def test_a_flag_from_an_args_file_is_not_the_running_folder():
    """microk8s' kubelite reads --pod-manifest-path from its args file, which may have changed
    since it started: only a flag of the process's own cmdline names the folder it watches,
    so /configz decides here (kubelite keeps reading its old folder until restarted)."""
    args = "/var/snap/microk8s/current/args/kubelet"
    kubelite = ProcessRecord(700, ("/snap/microk8s/6070/kubelite", "--kubelet-args-file=$SNAP_DATA/args/kubelet"),
                             start_time=STARTED)
    snap = mem_node({args: "--pod-manifest-path=${SNAP_DATA}/new\n",
                     "/var/snap/microk8s/current/new/b.yaml": POD.format("b"),
                     "/var/snap/microk8s/current/old/a.yaml": POD.format("a")},
                    hostname=NODE, processes=[kubelite], mtimes={args: STARTED + 100})
    word = kubelet_word([static("a")], {"staticPodPath": "/var/snap/microk8s/current/old"})
    view = analyze_node(snap, hints=NodeHints(kubelet=word))
    assert view.reconciled.running.source == "configz"
    assert states(view) == {"/var/snap/microk8s/current/new/b.yaml": "after-restart",
                            "/var/snap/microk8s/current/old/a.yaml": "running"}
    assert view.reconciled.unfiled == ()  # no false PA108 for a
