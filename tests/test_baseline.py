"""Baselines (load, record, suppress, accept today's findings) and the cluster rules PA501-PA503."""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podaudit.audit import rules_baseline
from podaudit.audit.baseline import (
    Baseline,
    ExpectedPod,
    RoleExpectation,
    load_baseline,
    manifest_sha256,
    parse_baseline,
)
from podaudit.audit.baseline_accept import Acceptance, accepting_baseline
from podaudit.audit.baseline_record import build_baseline
from podaudit.audit.context import ClusterContext, NodeContext, Role
from podaudit.audit.engine import AuditResult, audit
from podaudit.audit.registry import finding, load_all_rules
from podaudit.audit.rules_baseline import drift, group_identical, missing_expected, not_in_baseline
from podaudit.audit.suppressions import Suppression
from podaudit.collect.local import LocalNode
from podaudit.collect.source import NodeResult, SweepResult
from podaudit.errors import InputError
from podaudit.kubelet.resolve import NodeView, analyze_node
from podaudit.model import FailureKind, Interface, NodeFailure, ProcessRecord
from podaudit.run.audit import write_baseline
from tests.memnode import mem_node

MANIFESTS = "/etc/kubernetes/manifests"
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def pod_yaml(name: str, image: str = "registry.k8s.io/pause:3.9", extra: str = "") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: kube-system\n"
            f"spec:\n  containers:\n  - name: c\n    image: {image}\n{extra}")


def view(hostname: str, pods: dict[str, str], path: str = MANIFESTS, address: str | None = None) -> NodeView:
    kubelet = ProcessRecord(100, ("/usr/bin/kubelet", f"--pod-manifest-path={path}"))
    node = mem_node({f"{path}/{name}.yaml": text for name, text in pods.items()}, hostname=hostname,
                    processes=[kubelet])
    if address is not None:
        node.interfaces = [Interface("eth0", (f"{address}/24",))]
        node.default_route = "eth0"
    return analyze_node(node)


def ctx(hostname: str, role: Role, pods: dict[str, str], **kw: str) -> NodeContext:
    return NodeContext(view(hostname, pods, **kw), role)


def kubeadm_cp(hostname: str, **changed: str) -> NodeContext:
    pods = {name: pod_yaml(name) for name in CONTROL_PLANE}
    pods.update(changed)
    return ctx(hostname, "control-plane", pods)


def run(rule, nodes: list[NodeContext], baseline: Baseline | None = None):  # type: ignore[no-untyped-def]
    return list(rule(ClusterContext(nodes, [], baseline)))


def error_of(tmp_path, text: str) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "baseline.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_baseline(str(path))
    return str(info.value).replace(str(path), "FILE")


HEAD = "apiVersion: podaudit/v1\nkind: Baseline\n"


# --- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kubeadm", "rke2", "k3s"])
def test_builtin_baselines_load(name: str) -> None:
    baseline = load_baseline(f"builtin:{name}")
    assert baseline.source == f"builtin:{name}"
    assert set(baseline.roles) == {"control-plane", "worker"}
    assert all(p.sha256 is None and p.reason for r in baseline.roles.values() for p in r.static_pods)


def test_builtin_contents() -> None:
    def keys(name: str, role: str) -> set[str]:
        expectation = load_baseline(f"builtin:{name}").expect(role)
        assert expectation is not None
        return {p.key for p in expectation.static_pods}

    kubeadm = {f"kube-system/{n}" for n in CONTROL_PLANE}
    assert keys("kubeadm", "control-plane") == kubeadm and keys("kubeadm", "worker") == set()
    assert keys("rke2", "control-plane") == kubeadm | {"kube-system/cloud-controller-manager",
                                                      "kube-system/kube-proxy"}
    assert keys("rke2", "worker") == {"kube-system/kube-proxy"}
    assert keys("k3s", "control-plane") == keys("k3s", "worker") == set()


def test_unknown_builtin_names_the_choices() -> None:
    with pytest.raises(InputError, match="builtin:kubeadm, builtin:rke2, builtin:k3s"):
        load_baseline("builtin:openshift")


def test_missing_file() -> None:
    with pytest.raises(InputError, match=r"--baseline /nonexistent/b\.yaml: No such file"):
        load_baseline("/nonexistent/b.yaml")


@pytest.mark.parametrize(("text", "expected"), [
    ("", "FILE:1: empty"),
    (HEAD + "roles:\n  worker:\n    static_pods: [\n", "FILE:5: not valid YAML"),
    (HEAD + "roles:\n  worker:\n    static_pods: []\n  - x\n", "FILE:6: not valid YAML"),
    (HEAD + "roles: {}\nroles: {}\n", "FILE:4: 'roles' appears twice in the baseline"),
    (HEAD + "roles:\n  worker:\n    static_pod: []\n", "FILE:5: unknown key 'static_pod' in role worker"),
    (HEAD + "roles:\n  workers:\n    static_pods: []\n", "FILE:4: unknown key 'workers' in roles"),
    (HEAD + "color: blue\n", "FILE:3: unknown key 'color' in the baseline"),
    ("apiVersion: podaudit/v2\nkind: Baseline\n", "FILE:1: apiVersion is 'podaudit/v2'"),
    ("kind: Baseline\n", "FILE:1: the baseline needs 'apiVersion'"),
    (HEAD + "roles:\n  worker:\n    nodes: [w1]\n", "FILE:5: role worker needs 'static_pods'"),
    (HEAD + "roles:\n  worker:\n    static_pods: []\n  worker:\n    static_pods: []\n",
     "FILE:6: 'worker' appears twice in roles"),
    (HEAD + "roles:\n  worker:\n    static_pods:\n      - {namespace: a, name: b}\n",
     "FILE:6: static pod a/b of worker needs a reason"),
    (HEAD + "roles:\n  worker:\n    static_pods:\n      - {namespace: a, name: b, reason: x, sha256: abc}\n",
     "FILE:6: static pod a/b of worker: sha256 'abc' is not 64 hexadecimal digits"),
    (HEAD + "roles:\n  worker:\n    pattern: '('\n    static_pods: []\n",
     "FILE:5: worker pattern '(' is not a regular expression"),
    (HEAD + "roles:\n  worker:\n    nodes: [n1]\n    static_pods: []\n"
            "  control-plane:\n    nodes: [N1]\n    static_pods: []\n",
     "FILE:8: node N1 is listed under both worker and control-plane"),
    (HEAD + "suppress:\n  - {id: PA401, node: '*'}\n", "FILE:4: the suppression of PA401 needs a reason"),
    (HEAD + "suppress:\n  - id: PA401\n    reason: ''\n", "FILE:5: the suppression of PA401 has an empty reason"),
    (HEAD + "suppress:\n  - id: PA401\n    reason: '   '\n", "FILE:5: the suppression of PA401 has an empty reason"),
    (HEAD + "suppress:\n  - {id: PA401, reason: r, expires: 2027-02-30}\n",
     "FILE:4: the suppression of PA401: expires '2027-02-30' is not a date"),
    (HEAD + "suppress:\n  - {id: PA401, reason: r, expires: next year}\n",
     "FILE:4: the suppression of PA401: expires 'next year' is not a date"),
    (HEAD + "suppress:\n  - {id: 401, reason: r}\n", "FILE:4: suppression id '401' is not a rule ID"),
    (HEAD + "suppress:\n  - {id: PA401, reason: r, till: 2027-01-01}\n",
     "FILE:4: unknown key 'till' in a suppression"),
    (HEAD + "suppress: {id: PA401}\n", "FILE:3: suppress must be a list"),
])
def test_load_errors_name_file_and_line(tmp_path, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert error_of(tmp_path, text).startswith(expected)


def test_full_format_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    digest = "AB" * 32
    path = tmp_path / "b.yaml"
    path.write_text(HEAD + f"""\
roles:
  control-plane:
    nodes: [cp-1]
    pattern: "^cp-"
    static_pods:
      - {{namespace: kube-system, name: etcd, sha256: {digest}, reason: "kubeadm control plane"}}
  worker:
    static_pods: []
suppress:
  - {{id: PA401, node: "*", path: /etc/kubernetes/manifests/kube-apiserver.yaml, reason: "OpenShift ships 644",
     expires: 2027-06-30}}
  - {{id: PA101, reason: any node any path}}
""")
    baseline = load_baseline(str(path))
    assert baseline.roles["control-plane"] == RoleExpectation(
        "control-plane", (ExpectedPod("kube-system", "etcd", "ab" * 32, "kubeadm control plane"),), ("cp-1",), "^cp-")
    assert baseline.suppressions == [
        Suppression("PA401", "*", "/etc/kubernetes/manifests/kube-apiserver.yaml", "OpenShift ships 644",
                    date(2027, 6, 30)),
        Suppression("PA101", "*", None, "any node any path", None),
    ]
    assert baseline.source == str(path)


def test_role_for_lists_first_then_patterns() -> None:
    baseline = parse_baseline(HEAD + """\
roles:
  control-plane: {pattern: "^(cp|master)-", static_pods: []}
  worker: {nodes: [cp-odd], pattern: "^w", static_pods: []}
""", "b.yaml")
    assert baseline.role_for("cp-1") == "control-plane"
    assert baseline.role_for("CP-ODD") == "worker"  # listed beats the control-plane pattern
    assert baseline.role_for("w7") == "worker"
    assert baseline.role_for("db-1") is None
    assert baseline.expect("worker") is not None and parse_baseline(HEAD, "x").expect("worker") is None


# --- recording -------------------------------------------------------------------------------


def test_write_then_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    shared = pod_yaml("kube-proxy")
    nodes = [
        kubeadm_cp("cp-1"),
        kubeadm_cp("cp-2", **{"kube-apiserver": pod_yaml("kube-apiserver", extra="  hostNetwork: true\n")}),
        ctx("w-1", "worker", {"kube-proxy": shared, "extra": pod_yaml("extra")}),
        ctx("w-2", "worker", {"kube-proxy": shared}),
    ]
    text = build_baseline(nodes, reason='known good: "release 7"')
    path = tmp_path / "b.yaml"
    path.write_text(text)
    baseline = load_baseline(str(path))
    sha = hashlib.sha256(pod_yaml("etcd").encode()).hexdigest()
    cp = baseline.expect("control-plane")
    assert cp is not None and cp.nodes == ("cp-1", "cp-2") and cp.pattern is None
    pinned = {p.name: p.sha256 for p in cp.static_pods}
    assert pinned["etcd"] == sha
    assert pinned["kube-apiserver"] is None  # differs between cp-1 and cp-2: not pinned
    assert {p.reason for p in cp.static_pods} == {'known good: "release 7"'}
    worker = baseline.expect("worker")
    assert worker is not None
    assert [p.key for p in worker.static_pods] == ["kube-system/kube-proxy"]  # extra is on w-1 only
    assert "kube-system/extra on w-1" in text
    assert baseline.suppressions == []
    # Recording again from the same run gives the same text; the baseline accepts the run.
    assert build_baseline(nodes, reason='known good: "release 7"') == text
    assert run(not_in_baseline, nodes[:2] + nodes[3:], baseline) == []
    assert run(missing_expected, nodes, baseline) == []


def test_role_without_nodes_is_left_out_and_empty_reason_refused() -> None:
    text = build_baseline([ctx("w-1", "worker", {})])
    baseline = parse_baseline(text, "b")
    assert set(baseline.roles) == {"worker"} and baseline.roles["worker"].static_pods == ()
    assert parse_baseline(build_baseline([]), "b").roles == {}
    with pytest.raises(InputError):
        build_baseline([], reason=" ")


# --- PA501 / PA502 ---------------------------------------------------------------------------


def test_pa501_flags_only_unexpected_pods() -> None:
    baseline = load_baseline("builtin:kubeadm")
    cp = kubeadm_cp("cp-1", backdoor=pod_yaml("backdoor"))
    worker = ctx("w-1", "worker", {"kube-proxy": pod_yaml("kube-proxy")})
    found = run(not_in_baseline, [cp, worker], baseline)
    assert [(f.node, f.path) for f in found] == [
        ("cp-1", f"{MANIFESTS}/backdoor.yaml"), ("w-1", f"{MANIFESTS}/kube-proxy.yaml")]
    assert all(f.id == "PA501" and f.severity == "high" and "MS-TA9017" in f.message for f in found)
    assert "not in the baseline for worker nodes (builtin:kubeadm)" in found[1].message
    # Stable: the key is namespace/name.
    assert found[0].fingerprint == finding("PA501", "cp-1", f"{MANIFESTS}/backdoor.yaml", "x",
                                           "kube-system/backdoor").fingerprint
    assert run(not_in_baseline, [cp, worker], None) == []


def test_pa501_pinned_hash_mismatch() -> None:
    good = pod_yaml("etcd")
    baseline = Baseline({"control-plane": RoleExpectation(
        "control-plane", (ExpectedPod("kube-system", "etcd", hashlib.sha256(good.encode()).hexdigest(), "r"),),
        (), None)})
    assert run(not_in_baseline, [ctx("cp-1", "control-plane", {"etcd": good})], baseline) == []
    altered = ctx("cp-1", "control-plane", {"etcd": pod_yaml("etcd", image="evil/etcd:1")})
    [found] = run(not_in_baseline, [altered], baseline)
    assert found.id == "PA501" and found.path == f"{MANIFESTS}/etcd.yaml"
    assert "differs from the baseline's" in found.message
    assert manifest_sha256(altered.view, altered.view.static_pods[0])[:12] in found.message  # type: ignore[index]


def test_pa502_missing_expected_pod() -> None:
    baseline = load_baseline("builtin:kubeadm")
    pods = {name: pod_yaml(name) for name in CONTROL_PLANE if name != "etcd"}
    found = run(missing_expected, [ctx("cp-1", "control-plane", pods), ctx("w-1", "worker", {})], baseline)
    assert [(f.id, f.severity, f.node, f.path) for f in found] == [("PA502", "medium", "cp-1", MANIFESTS)]
    assert "kube-system/etcd" in found[0].message
    assert run(missing_expected, [kubeadm_cp("cp-1")], baseline) == []
    assert run(missing_expected, [ctx("cp-1", "control-plane", pods)], None) == []


def test_pa502_not_reported_when_the_node_was_read_incompletely() -> None:
    cp = ctx("cp-1", "control-plane", {})
    cp.view.incomplete.append(f"{MANIFESTS}: permission denied")
    assert run(missing_expected, [cp], load_baseline("builtin:kubeadm")) == []


# --- PA503 drift -----------------------------------------------------------------------------


def workers(*changes: dict[str, str], path: str = MANIFESTS) -> list[NodeContext]:
    base = {"kube-proxy": pod_yaml("kube-proxy")}
    nodes = [ctx("w-1", "worker", base), ctx("w-2", "worker", base)]
    return [*nodes, ctx("w-3", "worker", {**base, **(changes[0] if changes else {})}, path=path)]


def test_pa503_silent_when_identical() -> None:
    assert run(drift, workers()) == []
    assert run(drift, [kubeadm_cp("cp-1"), ctx("w-1", "worker", {})]) == []  # one node per role


def test_pa503_other_static_pod_path() -> None:
    [found] = run(drift, workers(path="/srv/pods"))
    assert (found.id, found.node, found.path) == ("PA503", "w-3", "/srv/pods")
    assert "static pod path /srv/pods (2 of 3 worker nodes: /etc/kubernetes/manifests)" in found.message


def test_pa503_extra_pod() -> None:
    [found] = run(drift, workers({"debug": pod_yaml("debug")}))
    assert found.node == "w-3"
    assert "runs kube-system/debug, which 2 of 3 worker nodes do not (w-1, w-2)" in found.message


def test_pa503_missing_pod() -> None:
    nodes = workers()
    nodes[2] = ctx("w-3", "worker", {})
    [found] = run(drift, nodes)
    assert found.node == "w-3" and "lacks kube-system/kube-proxy, which 2 of 3 worker nodes run" in found.message


def test_pa503_changed_content() -> None:
    [found] = run(drift, workers({"kube-proxy": pod_yaml("kube-proxy", image="evil/proxy:1")}))
    assert found.node == "w-3"
    assert "kube-system/kube-proxy manifest content differs from the one 2 of 3 worker nodes share" in found.message
    assert f"w-1:{MANIFESTS}/kube-proxy.yaml" in found.message


def test_pa503_one_finding_names_every_difference() -> None:
    nodes = workers({"kube-proxy": pod_yaml("kube-proxy", image="x"), "debug": pod_yaml("debug")}, path="/srv")
    [found] = run(drift, nodes)
    assert "static pod path /srv" in found.message and "runs kube-system/debug" in found.message
    assert "kube-proxy manifest content differs" in found.message


def test_pa503_two_nodes_without_majority() -> None:
    nodes = [ctx("w-1", "worker", {}), ctx("w-2", "worker", {}, path="/srv/pods")]
    found = run(drift, nodes)
    assert [f.node for f in found] == ["w-1", "w-2"]
    assert all("disagree with no majority" in f.message for f in found)


def test_pa503_ignores_the_nodes_own_name_and_address() -> None:
    def apiserver(node: str, ip: str) -> str:
        return pod_yaml("kube-apiserver", extra=f"    command: [kube-apiserver, --advertise-address={ip}]\n"
                                                f"  nodeName: {node}\n")

    nodes = [ctx(f"cp-{i}", "control-plane", {"kube-apiserver": apiserver(f"cp-{i}", f"10.0.0.{i}")},
                 address=f"10.0.0.{i}") for i in (1, 2, 3)]
    assert run(drift, nodes) == []
    nodes[2] = ctx("cp-3", "control-plane", {"kube-apiserver": apiserver("cp-3", "10.0.0.99")}, address="10.0.0.3")
    [found] = run(drift, nodes)
    assert found.node == "cp-3" and "kube-apiserver manifest content differs" in found.message


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=60).map(lambda b: bytes(b"ab1.-:_ xN"[c % 10] for c in b)),
       word=st.sampled_from([b"ab1", b"a", b"1.1", b"N:1", b"b1-a"]),
       edge=st.sampled_from(["name", "ipv4", "ipv6"]))
def test_identity_replacement_is_the_lookaround_substitution(data: bytes, word: bytes, edge: str) -> None:
    """_replace_word does what re.sub of (?<!edge)word(?!edge) did (rules_baseline before it
    compiled one pattern per node), on strings dense in edge bytes and repeats."""
    edges = {"name": (rules_baseline._NAME_EDGE, rb"[\w.-]"), "ipv4": (rules_baseline._IPV4_EDGE, rb"[\w.]"),
             "ipv6": (rules_baseline._IPV6_EDGE, rb"[\w.:]")}
    allowed, klass = edges[edge]
    pattern = re.compile(rb"(?<!" + klass + rb")" + re.escape(word) + rb"(?!" + klass + rb")")
    assert rules_baseline._replace_word(data, word, allowed, b"<x>") == pattern.sub(b"<x>", data)


def test_pa503_sets_aside_only_the_whole_name_and_address() -> None:
    """Each node's own name and address are set aside, but not inside a longer word: on node1,
    node10, node1.example.com and 10.0.0.12 stay as they are, so node1 agrees with the others."""
    def worker(node: str, ip: str, peer: str) -> NodeContext:
        return ctx(node, "worker", {"agent": pod_yaml("agent", extra=f"    args: [--node={node}, --ip={ip}, "
                                                                     f"--peer={peer}]\n")}, address=ip)

    for peer in ("node10", "node1.example.com", "10.0.0.12", "x-node1", "node1_b"):
        assert run(drift, [worker(f"node{i}", f"10.0.0.{i}", peer) for i in (1, 2, 3)]) == [], peer
    nodes = [worker(f"node{i}", f"10.0.0.{i}", "node10") for i in (1, 2, 3)]
    nodes[0] = worker("node1", "10.0.0.1", "node11")
    [found] = run(drift, nodes)
    assert found.node == "node1" and "agent manifest content differs" in found.message


def test_pa503_node_specific_content_without_majority_is_silent() -> None:
    # Every etcd.yaml names its own peers: all differ, so none is the odd one out.
    nodes = [ctx(f"cp-{i}", "control-plane", {"etcd": pod_yaml("etcd", image=f"etcd:{i}")}) for i in (1, 2, 3)]
    assert run(drift, nodes) == []


def test_pa503_skips_incomplete_nodes() -> None:
    nodes = workers()
    nodes[2] = ctx("w-3", "worker", {})
    nodes[2].view.incomplete.append("denied")
    assert run(drift, nodes) == []


# --- suppressions ----------------------------------------------------------------------------


def suppressing(*suppressions: Suppression) -> Baseline:
    return Baseline({}, list(suppressions), "b.yaml")


def test_suppression_matches_by_glob() -> None:
    run(not_in_baseline, [])  # registers nothing new; rules are registered on import
    a = finding("PA501", "w-1", f"{MANIFESTS}/x.yaml", "m", "k")
    b = finding("PA501", "cp-1", f"{MANIFESTS}/x.yaml", "m", "k")
    c = finding("PA502", "w-1", MANIFESTS, "m", "k")
    d = finding("PA503", "w-2", None, "m")
    s1 = Suppression("PA501", "w-*", "/etc/kubernetes/*", "workers may run anything here", None)
    s2 = Suppression("PA503", "*", None, "drift accepted", None)
    kept, suppressed, notes = suppressing(s1, s2).apply_suppressions([a, b, c, d], date(2026, 1, 1))
    assert kept == [b, c]
    assert suppressed == [(a, s1), (d, s2)]
    assert notes == []
    path_glob = Suppression("PA503", "*", "/srv/*", "r", None)
    assert not path_glob.matches(d)  # a path glob never matches a finding without a path
    assert Suppression("PA503", "*", "*", "r", None).matches(d)


def test_expired_suppression_is_not_applied_and_noted() -> None:
    found = finding("PA501", "w-1", f"{MANIFESTS}/x.yaml", "m", "k")
    last_day = Suppression("PA501", "*", None, "until the migration", date(2026, 6, 30))
    kept, suppressed, notes = suppressing(last_day).apply_suppressions([found], date(2026, 6, 30))
    assert kept == [] and suppressed == [(found, last_day)] and notes == []
    kept, suppressed, notes = suppressing(last_day).apply_suppressions([found], date(2026, 7, 1))
    assert kept == [found] and suppressed == []
    assert len(notes) == 1 and "PA501" in notes[0] and "expired on 2026-06-30" in notes[0]
    assert "until the migration" in notes[0]


def test_unused_suppression_is_noted() -> None:
    stale = Suppression("PA502", "gone-*", None, "old node", None)
    kept, suppressed, notes = suppressing(stale).apply_suppressions([], date(2026, 1, 1))
    assert (kept, suppressed) == ([], [])
    assert notes == ["b.yaml: the suppression of PA502 on node gone-* (old node) matched no finding; "
                     "remove it if the problem is gone"]


# --- grouping --------------------------------------------------------------------------------


def test_group_identical_in_first_seen_order() -> None:
    proxy = {"kube-proxy": pod_yaml("kube-proxy")}
    nodes = [
        ctx("w-1", "worker", proxy),
        kubeadm_cp("cp-1"),
        ctx("w-2", "worker", proxy),
        ctx("w-3", "worker", {"kube-proxy": pod_yaml("kube-proxy", image="other")}),
        kubeadm_cp("cp-2"),
        ctx("w-4", "worker", proxy, path="/srv"),
    ]
    groups = group_identical(nodes)
    assert [names for names, _ in groups] == [["w-1", "w-2"], ["cp-1", "cp-2"], ["w-3"], ["w-4"]]
    assert [first.node for _, first in groups] == ["w-1", "cp-1", "w-3", "w-4"]


def test_group_identical_separates_pending_restarts() -> None:
    a, b = ctx("w-1", "worker", {}), ctx("w-2", "worker", {})
    b.view.restart_pending.append("/var/lib/kubelet/config.yaml changed after the kubelet started")
    assert [names for names, _ in group_identical([a, b])] == [["w-1"], ["w-2"]]


def test_rules_are_cluster_scoped() -> None:
    from podaudit.audit.registry import RULES

    assert {(RULES[i].scope, RULES[i].severity) for i in ("PA501", "PA502", "PA503")} == {
        ("cluster", "high"), ("cluster", "medium")}


# --- --write-baseline --accept-findings ------------------------------------------------------

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(("reason", "until", "expected"), [
    (None, None, Acceptance("accepted with --accept-findings on 2026-12-07", date(2027, 3, 7))),
    ("  OPS-12: hardening in Q1 ", "30d", Acceptance("OPS-12: hardening in Q1", date(2027, 1, 6))),
    (None, "2027-03-01", Acceptance("accepted with --accept-findings on 2026-12-07", date(2027, 3, 1))),
    (None, "1D", Acceptance("accepted with --accept-findings on 2026-12-07", date(2026, 12, 8))),
    (None, "365d", Acceptance("accepted with --accept-findings on 2026-12-07", date(2027, 12, 7))),
])
def test_acceptance_parse(reason: str | None, until: str | None, expected: Acceptance) -> None:
    assert Acceptance.parse(reason, until, TODAY) == expected


@pytest.mark.parametrize(("reason", "until", "message"), [
    (None, "2026-12-07", "--expires 2026-12-07: the last day must be after today (2026-12-07)"),
    (None, "2020-01-01", "must be after today"),
    (None, "0d", "must be after today"),
    (None, "366d", "--expires 366d: more than a year away; accept findings for at most 365d (until 2027-12-07)"),
    (None, "2099-01-01", "more than a year away"),
    (None, "999999d", "more than a year away"),
    (None, "2027-02-30", "--expires 2027-02-30: give the last day (YYYY-MM-DD, like 2027-03-01) or a number"),
    (None, "next week", "give the last day"),
    (None, "90", "give the last day"),
    (None, "\x1b[31m", "--expires \\x1b[31m: give the last day"),
    ("  ", None, "--reason is empty"),
    ("line one\nline two", None, "--reason must be one line of printable text"),
    ("x" * 501, None, "--reason is 501 characters long; keep it under 500"),
])
def test_acceptance_refuses_in_one_line(reason: str | None, until: str | None, message: str) -> None:
    with pytest.raises(InputError) as info:
        Acceptance.parse(reason, until, TODAY)
    assert message in str(info.value) and "\n" not in str(info.value)


NODES = Path(__file__).parent / "fixtures" / "nodes"


def read_tree(name: str, root: Path | None = None) -> NodeResult:
    node = LocalNode(str(root or NODES / name), label=name)
    return NodeResult.read(name, analyze_node(node.snapshot, node), 0.1)


@pytest.fixture
def trees(tmp_path: Path) -> Path:
    """Copies of real node trees that a test may change after the baseline was recorded."""
    for name in ("kubeadm-usrlib", "messy-dir", "kubeadm-etc", "pre111-flags"):
        shutil.copytree(NODES / name, tmp_path / name, symlinks=True)
    return tmp_path


def sweep_of(trees: Path) -> SweepResult:
    unreachable = NodeFailure("worker-9", FailureKind.UNREACHABLE, "worker-9: ssh: connect to 10.0.0.9: refused")
    names = ("kubeadm-usrlib", "messy-dir", "kubeadm-etc", "pre111-flags")
    return SweepResult([*(read_tree(n, trees / n) for n in names), NodeResult.failed(unreachable, 1.0)])


def accepted_run(trees: Path, tmp_path: Path, acceptance: Acceptance) -> tuple[AuditResult, Path]:
    first = audit(sweep_of(trees), today=TODAY)
    path = tmp_path / "accepted.yaml"
    write_baseline(str(path), first, acceptance)
    return first, path


def test_accept_findings_round_trip_on_real_trees(trees: Path, tmp_path: Path) -> None:
    acceptance = Acceptance.parse(None, "90d", TODAY)
    first, path = accepted_run(trees, tmp_path, acceptance)
    assert {f.id for f in first.findings} >= {"PA201", "PA202", "PA404", "PA405", "PA406", "PA901"}
    baseline = load_baseline(str(path))
    again = audit(sweep_of(trees), baseline, today=date(2027, 3, 7))  # the last day still applies
    assert again.findings == [] and again.notes == []
    assert again.failing("info") == [] and again.not_audited == []
    # Everything the first run showed is accepted now, but what the recorded roles answer:
    # worker-1, the only worker, runs nginx-proxy, which the baseline now expects of workers.
    answered = {(f.id, f.node) for f in first.findings} - {(f.id, f.node) for f, _ in again.suppressed}
    assert answered == {("PA106", "worker-1"), ("PA405", "worker-1")}
    assert {(s.reason, s.expires) for _, s in again.suppressed} == {(acceptance.reason, acceptance.expires)}
    # The recorded roles make the pods seen on some control-plane nodes only PA501: accepted too.
    assert "PA501" in {f.id for f, _ in again.suppressed} and "PA501" not in {f.id for f in first.findings}
    text = path.read_text()
    assert "# NOT AUDITED (PA901): until 2027-03-07 this hides that worker-9 could not be audited" in text
    assert "# messy-cp: kube-apiserver.yaml.bak is read by the kubelet as kube-system/kube-apiserver" in text
    # Past the last day every accepted finding is reported again, and the notes say why.
    late = audit(sweep_of(trees), baseline, today=date(2027, 3, 8))
    assert {f.fingerprint for f, _ in again.suppressed} == {f.fingerprint for f in late.findings}
    assert late.suppressed == [] and any("expired on 2027-03-07" in note for note in late.notes)


def test_accept_findings_still_reports_new_findings(trees: Path, tmp_path: Path) -> None:
    _, path = accepted_run(trees, tmp_path, Acceptance.parse("known debt", "30d", TODAY))
    manifests = trees / "kubeadm-usrlib/etc/kubernetes/manifests"
    (manifests / "etcd.yaml.orig").write_bytes((manifests / "etcd.yaml").read_bytes())  # a new twin
    config = trees / "kubeadm-usrlib/var/lib/kubelet/config.yaml"
    config.write_text(config.read_text() + "readOnlyPort: 10255\n")  # a new PA406 on an accepted path
    again = audit(sweep_of(trees), load_baseline(str(path)), today=TODAY)
    shown = {(f.id, f.node, f.path) for f in again.findings}
    assert ("PA202", "cp-1", f"{MANIFESTS}/etcd.yaml.orig") in shown
    assert ("PA406", "cp-1", "/var/lib/kubelet/config.yaml") in shown
    assert all(f.node == "cp-1" for f in again.findings)  # nothing else came back


def test_accept_findings_keeps_the_suppressions_the_run_used(trees: Path, tmp_path: Path) -> None:
    env_files = Suppression("PA404", "*", "*.env", "kubeadm writes it 0644 | OPS-7", date(2027, 1, 31))
    used = Baseline({}, [env_files], "old.yaml")
    first = audit(sweep_of(trees), used, today=TODAY)
    assert first.suppressed
    path = tmp_path / "accepted.yaml"
    write_baseline(str(path), first, Acceptance.parse(None, None, TODAY))
    baseline = load_baseline(str(path))
    assert env_files in baseline.suppressions  # as written, with its own reason and last day
    again = audit(sweep_of(trees), baseline, today=TODAY)
    assert again.findings == [] and again.notes == []
    assert {s for f, s in again.suppressed if f.path and f.path.endswith(".env")} == {env_files}


def test_accepted_entries_match_hostile_names_exactly() -> None:
    load_all_rules()  # PA903's module: this test may be the first of its process
    node, path = "we*ird[1] ", " /etc/k8s/ma?nifests/a b\U0001f600\udcff.yaml\n"
    odd = finding("PA903", node, path, f"{node}: cannot read {path}: \x1b[31mdenied", key=path)
    text = accepting_baseline(AuditResult(findings=[odd]), Acceptance.parse(None, None, TODAY))
    # Written as UTF-8; data as YAML escapes, comments with every unprintable character a "?".
    assert "\x1b" not in text and "\udcff" not in text and text.encode("utf-8")
    assert '"[ ]/etc/k8s/ma[?]nifests/a b\\U0001f600\\udcff.yaml[\\x0a]"' in text
    (suppression,) = parse_baseline(text, "b").suppressions
    assert suppression.matches(odd)
    for other_node, other_path in ((node, path.replace("?", "X")), ("weXird1 ", path), (node.strip(), path)):
        assert not suppression.matches(finding("PA903", other_node, other_path, "m", key=path))
    # Same rule, node and path, another subject: a new finding.
    assert not suppression.matches(finding("PA903", node, path, "m", key="other"))


def test_without_acceptance_nothing_is_suppressed(trees: Path, tmp_path: Path) -> None:
    first = audit(sweep_of(trees), today=TODAY)
    path = tmp_path / "plain.yaml"
    write_baseline(str(path), first)
    assert load_baseline(str(path)).suppressions == [] and "suppress: []" in path.read_text()
    with pytest.raises(InputError, match=r"--write-baseline /nonexistent/dir/b\.yaml: No such file"):
        write_baseline("/nonexistent/dir/b.yaml", first, Acceptance.parse(None, None, TODAY))


@pytest.mark.parametrize(("entry", "expected"), [
    ("fingerprints: []", "FILE:5: the suppression of PA404: fingerprints is empty; remove the key"),
    ("fingerprints: [abc]", "FILE:5: the suppression of PA404: fingerprint 'abc' is not 32 hexadecimal digits"),
    ("fingerprints: x", "FILE:5: the suppression of PA404: fingerprints must be a list"),
])
def test_fingerprint_errors(tmp_path, entry: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    text = HEAD + f"suppress:\n  - id: PA404\n    {entry}\n    reason: r\n"
    assert error_of(tmp_path, text).startswith(expected)
