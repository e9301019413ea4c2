# Distributions that keep the kubelet's settings in files of their own (kubelet/distro.py).

gdistro() { # k3s, rke2 and MicroK8s files: the running kind's (invocation._finish reads them
    # only for k3s, rke2 and kubelite), or all three's when no kubelet runs (its unit says which)
    case $KKIND in
    kubelet | hyperkube) return 0 ;;
    k3s | rke2) gd_kinds=$KKIND ;;
    kubelite) gd_kinds= ;;
    *) gd_kinds='k3s rke2' ;;
    esac
    for d in $gd_kinds; do
        gfile "/etc/rancher/$d/config.yaml"
        gdir "/etc/rancher/$d/config.yaml.d" "/etc/rancher/$d/config.yaml.d" yaml
        gdir "/var/lib/rancher/$d/agent/etc/kubelet.conf.d" "/var/lib/rancher/$d/agent/etc/kubelet.conf.d" walk 0
        gdir "/var/lib/rancher/$d/agent/pod-manifests" "/var/lib/rancher/$d/agent/pod-manifests" nodot
    done
    case $KKIND in '' | kubelite)
        gfile /var/snap/microk8s/current/args/kubelet
        # whether the kubelite wrapper edits that file (launch_microk8s._sanitise reads it)
        gfile /var/snap/microk8s/current/var/lock/no-arg-sanitisation
        ;;
    esac
}
