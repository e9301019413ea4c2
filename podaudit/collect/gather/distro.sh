# Distributions that keep the kubelet's settings in files of their own (kubelet/distro.py).

gdistro() { # k3s, rke2 and MicroK8s files
    for d in k3s rke2; do
        gfile "/etc/rancher/$d/config.yaml"
        gdir "/etc/rancher/$d/config.yaml.d" "/etc/rancher/$d/config.yaml.d" yaml
        gdir "/var/lib/rancher/$d/agent/etc/kubelet.conf.d" "/var/lib/rancher/$d/agent/etc/kubelet.conf.d" walk 0
        gdir "/var/lib/rancher/$d/agent/pod-manifests" "/var/lib/rancher/$d/agent/pod-manifests" nodot
    done
    gfile /var/snap/microk8s/current/args/kubelet
}
