"""k3s, rke2 and MicroK8s: kubelet arguments that come from the distribution."""

from podaudit.kubelet.resolve import analyze_node
from podaudit.model import ProcessRecord
from tests.memnode import mem_node

HEAD = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\nspec:\n  containers:\n  - name: c\n    image: i\n"
K3S = ProcessRecord(812, ("/usr/local/bin/k3s", "server"))
UNIT = "[Service]\nExecStart=/usr/local/bin/k3s \\\n    server \\\n    {}\n"


def test_k3s_flags_hidden_from_proc_are_read_from_the_unit():
    node = mem_node({
        "/etc/systemd/system/k3s.service": UNIT.format("--kubelet-arg=pod-manifest-path=/srv/static"),
        "/srv/static/a.yaml": POD.format("a"),
    }, processes=[K3S])
    view = analyze_node(node)
    assert (view.static_pod_path.value, view.static_pod_path.source) == ("/srv/static", "flag")
    assert any("hides its arguments" in s.what for s in view.static_pod_path.provenance)
    assert [p.mirror_name for p in view.static_pods] == ["a-node-a"]


def test_k3s_data_dir_after_an_unknown_boolean_is_not_lost():
    node = mem_node({"/etc/systemd/system/k3s.service": UNIT.format("--cluster-init --data-dir /opt/k3s")},
                    processes=[K3S])
    view = analyze_node(node)
    assert view.static_pod_path.value == "/opt/k3s/agent/pod-manifests"
    # No kubelet.conf.d: a k3s from before drop-ins passes --pod-manifest-path itself
    # (k3s pkg/daemons/agent/agent_linux.go @82394d7d kubeletArgs L76-78).
    assert view.static_pod_path.source == "flag"


def test_k3s_config_dropins_append_kubelet_args_and_override_node_name():
    node = mem_node({
        "/etc/rancher/k3s/config.yaml": "node-name: first\nkubelet-arg: [max-pods=150]\n",
        "/etc/rancher/k3s/config.yaml.d/50-extra.yaml": "node-name: Second\nkubelet-arg+: [pod-manifest-path=/x]\n",
        "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf":
            HEAD + "staticPodPath: /var/lib/rancher/k3s/agent/pod-manifests\n",
    }, processes=[K3S])
    view = analyze_node(node)
    assert view.node_name.value == "second"
    assert "--max-pods=150" in [a.value for a in view.invocation.args]
    assert (view.static_pod_path.value, view.static_pod_path.source) == ("/x", "flag")
    assert view.static_pod_path.provenance[-2].source == "/etc/rancher/k3s/config.yaml.d/50-extra.yaml"


def test_masked_kubelet_unit_is_skipped_for_the_k3s_unit():
    node = mem_node({
        "/etc/systemd/system/kubelet.service": "",  # masked (empty)
        "/etc/systemd/system/k3s.service": UNIT.format("--node-name=moved"),
    })
    view = analyze_node(node)
    assert view.invocation.argv_source == "systemd" and view.invocation.kind == "k3s"
    assert view.node_name.value == "moved"


def test_kubelet_started_by_another_unit_is_not_compared_with_kubelet_service():
    kubelet = ProcessRecord(1300, ("/var/lib/rancher/rke2/data/v1/bin/kubelet", "--pod-manifest-path=/p"),
                            start_time=100.0, unit="rke2-server.service")
    node = mem_node({
        "/usr/lib/systemd/system/kubelet.service": "[Service]\nExecStart=/usr/bin/kubelet --v=2\n",
        "/usr/local/lib/systemd/system/rke2-server.service": "[Service]\nExecStart=/usr/local/bin/rke2 server\n",
    }, processes=[kubelet], mtimes={"/usr/lib/systemd/system/kubelet.service": 999.0})
    view = analyze_node(node)
    assert view.invocation.unit is None
    assert view.restart_pending == []


def test_microk8s_kubelite_reads_its_args_file():
    kubelite = ProcessRecord(700, ("/snap/microk8s/6070/kubelite", "--kubelet-args-file=$SNAP_DATA/args/kubelet"))
    node = mem_node({
        "/var/snap/microk8s/current/args/kubelet":
            "--kubeconfig=${SNAP_DATA}/credentials/kubelet.config\n--pod-manifest-path=${SNAP_DATA}/pods\n",
        "/var/snap/microk8s/current/pods/m.yaml": POD.format("m"),
    }, processes=[kubelite])
    view = analyze_node(node)
    assert view.static_pod_path.value == "/var/snap/microk8s/current/pods"
    assert view.static_pod_path.provenance[-2].line == 2
    assert [p.mirror_name for p in view.static_pods] == ["m-node-a"]
