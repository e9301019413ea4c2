"""Whatever a node holds, the kubelet model answers and never raises."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podaudit.kubelet.resolve import analyze_node
from podaudit.model import ProcessRecord
from tests.memnode import mem_node

PATHS = [
    "/var/lib/kubelet/config.yaml", "/etc/kubernetes/manifests/a.yaml", "/etc/kubernetes/manifests/b",
    "/usr/lib/systemd/system/kubelet.service", "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/etc/default/kubelet", "/var/lib/kubelet/kubeadm-flags.env", "/etc/rancher/k3s/config.yaml",
    "/etc/kubernetes/kubelet.conf.d/10.conf", "/var/snap/microk8s/current/args/kubelet",
]
WORDS = st.sampled_from([
    "--config=/var/lib/kubelet/config.yaml", "--config", "/var/lib/kubelet/config.yaml",
    "--config-dir=/etc/kubernetes/kubelet.conf.d", "--pod-manifest-path=/etc/kubernetes/manifests",
    "--pod-manifest-path=", "--hostname-override= ", "--hostname-override=X", "--manifest-url=http://x",
    "--kubelet-arg", "--data-dir", "-d", "server", "--", "-v", "=", "",
]) | st.text(max_size=30)
PROGRAMS = st.sampled_from(["/usr/bin/kubelet", "/usr/local/bin/k3s", "rke2", "kubelite", "hyperkube"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.dictionaries(st.sampled_from(PATHS), st.binary(max_size=300) | st.text(max_size=300), max_size=6),
    program=PROGRAMS,
    words=st.lists(WORDS, max_size=8),
    running=st.booleans(),
    hostname=st.text(max_size=20),
)
def test_analyze_node_never_raises(files, program, words, running, hostname):
    processes = [ProcessRecord(1, (program, *words), start_time=0.0)] if running else []
    view = analyze_node(mem_node(files, hostname=hostname, processes=processes))
    assert view.static_pod_path.source in {"flag", "config", "config-dir", "distro-default", "url", "none"}
    assert all(entry.fate in {"loaded", "shadowed", "ignored", "rejected", "unknown"} for entry in view.entries)
