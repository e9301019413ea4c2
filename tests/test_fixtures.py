"""`podaudit node --root` on real-shaped node trees gives what the kubelet would do."""

from pathlib import Path

import pytest

from podaudit.collect.local import LocalNode
from podaudit.kubelet.resolve import NodeView, analyze_node

NODES = Path(__file__).parent / "fixtures" / "nodes"
CP = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def view_of(root: Path) -> NodeView:
    node = LocalNode(str(root))
    return analyze_node(node.snapshot, node)


def mirrors(view: NodeView) -> set[str]:
    return {f"{p.namespace}/{p.mirror_name}" for p in view.static_pods}


EXPECTED = {
    # fixture: (node name, static pod path, path source, argv source, loaded pods)
    "kubeadm-usrlib": ("cp-1", "/etc/kubernetes/manifests", "config", "process",
                       {f"kube-system/{n}-cp-1" for n in CP}),
    "kubeadm-etc": ("worker-1", "/etc/kubernetes/manifests", "config", "process",
                    {"kube-system/nginx-proxy-worker-1"}),
    "pre111-flags": ("old-master", "/etc/kubernetes/manifests", "flag", "process",
                     {"kube-system/etcd-old-master", "kube-system/kube-apiserver-old-master"}),
    "flag-overrides-config": ("flag-1", "/srv/static", "flag", "process", {"default/flagged-flag-1"}),
    "config-dir": ("ip-10-0-45-12.us-west-2.compute.internal", "/etc/kubernetes/static-b", "config-dir",
                   "process", {"default/web-ip-10-0-45-12.us-west-2.compute.internal"}),
    "relative-staticpodpath": ("rel-node", "/etc/kubelet/manifests", "config", "process",
                               {"default/rel-pod-rel-node"}),
    "kubelet-stopped": ("node-stopped", "/opt/static-pods", "flag", "systemd",
                        {"default/stopped-pod-node-stopped"}),
    "stale-config": ("stale-1", "/etc/kubernetes/new-manifests", "config", "process",
                     {"default/after-change-stale-1"}),
    "hostname-override": ("worker-node-7", "/etc/kubernetes/manifests", "config", "process",
                          {"default/probe-worker-node-7"}),
    "k3s": ("k3s-server-1", "/var/lib/rancher/k3s/agent/pod-manifests", "config-dir", "process",
            {"default/k3s-static-k3s-server-1"}),
    "rke2": ("rke2-server-1", "/var/lib/rancher/rke2/agent/pod-manifests", "config-dir", "process",
             {f"kube-system/{n}-rke2-server-1" for n in (*CP, "cloud-controller-manager")}),
}


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_resolution_matches_the_kubelet(fixture):
    node_name, path, source, argv_source, pods = EXPECTED[fixture]
    view = view_of(NODES / fixture)
    assert view.node_name.value == node_name
    assert view.static_pod_path.value == path
    assert view.static_pod_path.source == source
    assert view.invocation.argv_source == argv_source
    assert mirrors(view) == pods
    # Every chain ends at the setting that decided the path: a config line, or the argv word.
    last = view.static_pod_path.provenance[-1]
    if source in {"config", "config-dir"}:
        assert last.line is not None and not last.source.startswith("/proc/")
    else:
        assert any(s.source.startswith(("/proc/", "/etc/", "/usr/", "/lib/")) for s in view.static_pod_path.provenance)


def test_kubeadm_chain_names_the_dropin_line_and_config_line():
    view = view_of(NODES / "kubeadm-usrlib")
    steps = view.static_pod_path.provenance
    assert steps[0].source.startswith("/proc/") and steps[0].source.endswith("/cmdline")
    assert steps[1].source == "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    assert "KUBELET_CONFIG_ARGS" in steps[1].what and steps[1].line
    assert steps[-1].source == "/var/lib/kubelet/config.yaml" and steps[-1].line
    assert view.restart_pending == []


def test_etc_dropin_masks_the_packaged_one():
    view = view_of(NODES / "kubeadm-etc")
    assert view.invocation.unit is not None
    assert view.invocation.unit.dropins == ("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",)
    assert "--node-ip=10.20.0.21" in [a.value for a in view.invocation.args]
    assert view.restart_pending == []


def test_flag_beats_config_file_and_says_so():
    view = view_of(NODES / "flag-overrides-config")
    assert view.config_file == "/var/lib/kubelet/config.yaml"
    assert view.config["staticPodPath"] == "/etc/kubernetes/manifests"
    assert any("overrides" in s.what for s in view.static_pod_path.provenance)


def test_config_dir_last_dropin_wins():
    view = view_of(NODES / "config-dir")
    assert view.config_dir == "/etc/kubernetes/kubelet/config.d"
    assert view.static_pod_path.provenance[-1].source == "/etc/kubernetes/kubelet/config.d/50-override.conf"


def test_stopped_kubelet_is_rebuilt_from_systemd_with_env_file_flag():
    view = view_of(NODES / "kubelet-stopped")
    assert view.invocation.process is None
    flag_step = [s for s in view.static_pod_path.provenance if "--pod-manifest-path" in s.what]
    assert flag_step and flag_step[0].source == "/etc/default/kubelet"


def test_stale_config_reports_restart_pending():
    view = view_of(NODES / "stale-config")
    reasons = " ".join(p.text() for p in view.restart_pending)
    assert "/var/lib/kubelet/config.yaml changed after the kubelet started" in reasons
    assert "20-extra.conf changed after the kubelet started" in reasons
    assert "different arguments" not in reasons  # EnvironmentFile beats Environment=


def test_hostname_override_is_lowercased():
    view = view_of(NODES / "hostname-override")
    assert view.hostname == "Worker-UPPER.Example.COM"
    assert any("--hostname-override=Worker-Node-7" in s.what for s in view.node_name.provenance)


def test_messy_directory_fates():
    view = view_of(NODES / "messy-dir")
    fates = {e.path.rsplit("/", 1)[1]: e for e in view.entries}
    assert fates[".kube-scheduler.yaml.swp"].fate == "ignored"
    assert fates["old"].fate == "ignored"
    assert fates["kube-apiserver.yaml"].fate == "shadowed"
    assert fates["kube-apiserver.yaml.bak"].fate == "loaded"
    for name in ("README.txt", "Upper.yaml", "broken.yaml", "deployment.yaml"):
        assert fates[name].fate == "rejected", name
    assert fates["multi.yaml"].pod.name == "multi-first" and fates["multi.yaml"].warnings
    assert fates["json-pod.json"].pod.name == "json-pod"
    assert fates["$(touch pwned).yaml"].pod.name == "sneaky"
    [apiserver] = [p for p in view.static_pods if p.name == "kube-apiserver"]
    assert apiserver.manifest_path.endswith(".bak")
    assert apiserver.shadowed_paths == ("/etc/kubernetes/manifests/kube-apiserver.yaml",)
