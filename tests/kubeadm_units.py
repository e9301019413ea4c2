"""A kubeadm node's kubelet files (the packages' unit and drop-in, kubeadm-flags.env, config.yaml,
one manifest), for tests that build a kubeadm node as a tree on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

KUBELET_SERVICE = """[Unit]
Description=kubelet: The Kubernetes Node Agent

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
"""
# kubernetes/release 10-kubeadm.conf (deb flavour), as shipped since kubeadm 1.11.
KUBEADM_DROPIN = """# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort.
# KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""  # noqa: E501
FLAGS_ENV = 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"\n'
CONFIG = ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
          "staticPodPath: /etc/kubernetes/manifests\ncgroupDriver: systemd\n")
ETCD = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\n"
        "spec:\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.5.15-0\n")
DEFAULT_FILES = {
    "usr/lib/systemd/system/kubelet.service": KUBELET_SERVICE,
    "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": KUBEADM_DROPIN,
    "var/lib/kubelet/kubeadm-flags.env": FLAGS_ENV,
    "var/lib/kubelet/config.yaml": CONFIG,
    "etc/kubernetes/manifests/etcd.yaml": ETCD,
    "etc/hostname": "cp-1\n",
}


def build(root: Path, changes: dict[str, Any]) -> Path:
    """The kubeadm node under ``root``, with ``changes`` (a path relative to the root: its text,
    None to leave it out)."""
    for rel, text in {**DEFAULT_FILES, **changes}.items():
        if text is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
