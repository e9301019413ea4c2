"""Each PA1xx, PA2xx and PA9xx rule fires on a node written for it and stays silent on a
clean kubeadm control plane."""

from pathlib import Path

import pytest

from podaudit.audit.context import ClusterContext, NodeContext
from podaudit.audit.registry import RULES, load_all_rules
from podaudit.collect.local import LocalNode
from podaudit.kubelet.resolve import analyze_node
from podaudit.model import FailureKind, NodeFailure, ProcessRecord
from tests.memnode import mem_node

NODES = Path(__file__).parent / "fixtures" / "nodes"
MY_RULES = [f"PA10{i}" for i in range(1, 7)] + [f"PA20{i}" for i in range(1, 10)] + ["PA901", "PA902", "PA903",
                                                                                    "PA904"]
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\nspec:\n  containers:\n  - name: c\n    image: i\n"


@pytest.fixture(scope="module", autouse=True)
def registry():
    load_all_rules()


def fixture_ctx(name, role="control-plane"):
    node = LocalNode(str(NODES / name))
    return NodeContext(analyze_node(node.snapshot, node), role)


def fired(ctx, rule_id):
    rule = RULES[rule_id]
    if rule.scope == "cluster":
        return list(rule.check(ClusterContext([ctx] if isinstance(ctx, NodeContext) else [], [])))
    return list(rule.check(ctx))


def test_a_clean_kubeadm_control_plane_fires_none_of_these():
    ctx = fixture_ctx("kubeadm-usrlib")
    assert [f for rule_id in MY_RULES for f in fired(ctx, rule_id)] == []


def test_messy_directory_rules():
    ctx = fixture_ctx("messy-dir")
    [dup] = fired(ctx, "PA201")
    assert dup.path.endswith("/kube-apiserver.yaml")
    assert dup.message.endswith("runs /etc/kubernetes/manifests/kube-apiserver.yaml.bak")
    assert [f.path.rsplit("/", 1)[1] for f in fired(ctx, "PA202")] == ["kube-apiserver.yaml.bak"]
    assert [f.path.rsplit("/", 1)[1] for f in fired(ctx, "PA203")] == ["broken.yaml"]
    assert sorted(f.path.rsplit("/", 1)[1] for f in fired(ctx, "PA204")) == ["README.txt", "deployment.yaml"]
    [invalid] = fired(ctx, "PA205")
    assert invalid.path.endswith("Upper.yaml") and "Web-Server-messy-cp" in invalid.message
    assert [f.path.rsplit("/", 1)[1] for f in fired(ctx, "PA206")] == ["multi.yaml"]
    assert sorted(f.path.rsplit("/", 1)[1] for f in fired(ctx, "PA207")) == [".kube-scheduler.yaml.swp", "old"]
    assert {f.severity for f in fired(ctx, "PA207")} == {"info"}


def test_kubelet_rules_on_their_fixtures():
    [stopped] = fired(fixture_ctx("kubelet-stopped"), "PA101")
    assert "no kubelet process runs" in stopped.message
    stale = fired(fixture_ctx("stale-config"), "PA102")
    assert {f.path for f in stale} == {"/var/lib/kubelet/config.yaml",
                                        "/etc/systemd/system/kubelet.service.d/20-extra.conf"}
    [flag] = fired(fixture_ctx("flag-overrides-config"), "PA103")
    assert "--pod-manifest-path=/srv/static" in flag.message
    assert "staticPodPath: /etc/kubernetes/manifests" in flag.message
    assert all(f.path for f in fired(fixture_ctx("rke2"), "PA209"))


def kubelet_node(files, *args):
    kubelet = ProcessRecord(10, ("/usr/bin/kubelet", *args))
    return mem_node(files, hostname="w-1", processes=[kubelet])


def test_missing_path_url_and_worker_rules():
    missing = NodeContext(analyze_node(kubelet_node({}, "--pod-manifest-path=/etc/kubernetes/manifests")), "worker")
    assert [f.id for f in fired(missing, "PA104")] == ["PA104"]
    assert "does not exist" in fired(missing, "PA104")[0].message
    [worker] = fired(missing, "PA106")
    assert "on a worker expected to run none" in worker.message
    url = NodeContext(analyze_node(kubelet_node({}, "--manifest-url=http://10.0.0.5/pods")), "worker")
    assert "http://10.0.0.5/pods" in fired(url, "PA105")[0].message
    assert fired(NodeContext(missing.view, "control-plane"), "PA106") == []


def test_api_references_and_uid():
    text = POD.format("agent") + "  serviceAccountName: agent\n"
    # Quoted: metadata.uid is a types.UID (a string); an unquoted 1234 fails the kubelet's decoding.
    text = text.replace("metadata:\n", "metadata:\n  uid: '1234'\n")
    ctx = NodeContext(analyze_node(kubelet_node({"/m/agent.yaml": text}, "--pod-manifest-path=/m")), "worker")
    assert "service account agent" in fired(ctx, "PA208")[0].message
    assert "uid 1234" in fired(ctx, "PA209")[0].message


def test_collection_rules():
    failures = [NodeFailure("a", FailureKind.UNREACHABLE, "a: refused"),
                NodeFailure("b", FailureKind.HOST_KEY_CHANGED, "b: key"),
                NodeFailure("c", FailureKind.SUDO, "c: sudo"), NodeFailure("d", FailureKind.TIMEOUT, "d: slow")]
    ctx = ClusterContext([], failures)
    assert [(f.id, f.node) for f in RULES["PA901"].check(ctx)] == [("PA901", "a"), ("PA901", "d")]
    assert [(f.id, f.node) for f in RULES["PA902"].check(ctx)] == [("PA902", "b")]
    assert [(f.id, f.node) for f in RULES["PA903"].check(ctx)] == [("PA903", "c")]
    bare = NodeContext(analyze_node(mem_node({}, hostname="bastion")), "worker")
    assert fired(bare, "PA904")[0].message == "bastion: no kubelet process and no kubelet unit found"


def test_fingerprints_are_stable_and_distinct():
    one, two = fixture_ctx("messy-dir"), fixture_ctx("messy-dir")
    first = [f.fingerprint for f in fired(one, "PA204")]
    assert first == [f.fingerprint for f in fired(two, "PA204")]
    assert len(set(first)) == len(first)


def test_every_rule_has_a_full_page():
    for rule in load_all_rules().values():
        assert rule.title and rule.what and rule.why and rule.fix and rule.example, rule.id
        assert rule.severity in {"info", "low", "medium", "high", "critical"}


@pytest.mark.parametrize("fixture, role", [("rke2", "control-plane"), ("k3s", "control-plane"),
                                           ("kubeadm-usrlib", "control-plane"), ("kubeadm-etc", "worker"),
                                           ("hostname-override", "worker")])
def test_roles_without_api_or_baseline(fixture, role):
    from podaudit.audit.engine import role_of

    ctx = fixture_ctx(fixture)
    assert role_of(ctx.node, ctx.view, None, None) == role


def test_a_control_plane_name_on_a_worker_is_not_exempt():
    """A privileged "kube-apiserver" planted on a worker is reported; on a control plane it is expected."""
    pod = POD.format("kube-apiserver").replace("metadata:\n", "metadata:\n  namespace: kube-system\n")
    pod += "  hostPID: true\n"
    node = kubelet_node({"/m/kube-apiserver.yaml": pod}, "--pod-manifest-path=/m")
    assert [f.id for f in RULES["PA405"].check(NodeContext(analyze_node(node), "worker"))] == ["PA405"]
    assert list(RULES["PA405"].check(NodeContext(analyze_node(node), "control-plane"))) == []


def test_a_writable_directory_behind_a_link_is_reported(tmp_path):
    """/etc/kubernetes -> /srv/k8s with /srv world-writable: anyone can swap the manifests."""
    import os

    (tmp_path / "proc/7").mkdir(parents=True)
    (tmp_path / "proc/7/cmdline").write_bytes(b"/usr/bin/kubelet\0--pod-manifest-path=/etc/kubernetes/manifests\0")
    (tmp_path / "srv/k8s/manifests").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    os.symlink("/srv/k8s", tmp_path / "etc/kubernetes")
    (tmp_path / "srv").chmod(0o777)
    node = LocalNode(str(tmp_path))
    ctx = NodeContext(analyze_node(node.snapshot, node), "worker")
    assert [f.path for f in RULES["PA403"].check(ctx)] == ["/srv"]
