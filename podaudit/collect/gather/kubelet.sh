# The kubelet's own settings: --config, --config-dir, --pod-manifest-path,
# --container-runtime-endpoint, --port, --read-only-port and --address from its argv, and the
# static pod path its config file names.

KC_PATH= KC_TEXT= KC_OK= # the kubelet's config file as config_text last read it

kubelet_flags() { # KCONFIG, KCONFIGDIR, KPMP, KCRE, KPORT, KROPORT, KADDR from the chosen kubelet's argv
    # (pflag's rules, roughly; "_" for "-" as the kubelet's WordSepNormalizeFunc allows)
    kf_rest=$KWORDS
    kf_skip=1
    [ "$KKIND" != hyperkube ] || kf_skip=2
    kf_next=
    while [ -n "$kf_rest" ]; do
        kf_w=${kf_rest%%"$NL"*}
        kf_rest=${kf_rest#*"$NL"}
        if [ "$kf_skip" -gt 0 ]; then
            kf_skip=$((kf_skip - 1))
            continue
        fi
        case $kf_next in
        config) KCONFIG=$kf_w ;;
        configdir) KCONFIGDIR=$kf_w ;;
        pmp) KPMP=$kf_w ;;
        cre) KCRE=$kf_w ;;
        port) KPORT=$kf_w ;;
        roport) KROPORT=$kf_w ;;
        address) KADDR=$kf_w ;;
        esac
        if [ -n "$kf_next" ]; then
            kf_next=
            continue
        fi
        case $kf_w in
        --) break ;;
        --config=*) KCONFIG=${kf_w#*=} ;;
        --config[-_]dir=*) KCONFIGDIR=${kf_w#*=} ;;
        --pod[-_]manifest[-_]path=*) KPMP=${kf_w#*=} KPMP_SET=1 ;;
        --container[-_]runtime[-_]endpoint=*) KCRE=${kf_w#*=} ;;
        --port=*) KPORT=${kf_w#*=} ;;
        --read[-_]only[-_]port=*) KROPORT=${kf_w#*=} ;;
        --address=*) KADDR=${kf_w#*=} ;;
        --config) kf_next=config ;;
        --config[-_]dir) kf_next=configdir ;;
        --pod[-_]manifest[-_]path) kf_next=pmp KPMP_SET=1 ;;
        --container[-_]runtime[-_]endpoint) kf_next=cre ;;
        --port) kf_next=port ;;
        --read[-_]only[-_]port) kf_next=roport ;;
        --address) kf_next=address ;;
        --*=* | -?=*) ;;
        --*) case ${kf_rest%%"$NL"*} in -*) ;; *) kf_next=skip ;; esac ;;
        esac
    done
}

static_pod_path_of() { # SPP := staticPodPath written in config file $1 (a simple YAML or JSON line)
    SPP=
    [ -n "$FREAD" ] || return 0
    config_text "$R$1" || return 0
    config_scalar staticPodPath
    SPP=$CS
    if [ -n "$SPP" ]; then
        absolute "$SPP" "${1%/*}"
        SPP=$NP
    fi
}

config_text() { # RT := the text of the kubelet's config file $1 (read_text, up to CAP bytes),
    # read once a pass: static_pod_path_of and the witnesses (wendpoint, wsettings) each ask
    # for it, and the shell reads a file a byte a syscall (about 1 ms for a kubeadm config)
    if [ "$1" != "$KC_PATH" ]; then
        KC_PATH=$1 KC_OK=1
        read_text "$1" "$CAP" || KC_OK=
        KC_TEXT=$RT
    fi
    RT=$KC_TEXT
    [ -n "$KC_OK" ]
}

config_scalar() { # CS := the last value of key $1 in config text $RT (a simple YAML or JSON line;
    # in JSON a string, or a number: "port": 10250)
    CS=
    IFS=$NL
    for sp_l in $RT; do
        IFS=$DEFAULT_IFS
        case $sp_l in
        "$1":*)
            trim "${sp_l#"$1":}"
            case $T in
            \"*) sp_v=${T#\"} sp_v=${sp_v%%\"*} ;;
            \'*) sp_v=${T#\'} sp_v=${sp_v%%\'*} ;;
            *) sp_v=${T%%[[:space:]]#*} ;;
            esac
            ;;
        *"\"$1\""*)
            trim "${sp_l#*\"$1\"}"
            trim "${T#:}"
            case $T in
            \"*) sp_v=${T#\"} sp_v=${sp_v%%\"*} ;;
            [0-9]*) sp_v=${T%%[!0-9]*} ;;
            *) continue ;;
            esac
            ;;
        *) continue ;;
        esac
        CS=$sp_v
    done
    IFS=$DEFAULT_IFS
}

gconfig() { # the --config file, and the static pod path it names
    gfile "$1"
    case $FKIND in
    dir) gdir "$1" "$1" nodot ;; # before v1.4, --config named the manifest directory
    file)
        static_pod_path_of "$1"
        [ -z "$SPP" ] || [ -n "$KPMP_SET" ] || gdir "$SPP" "$SPP" nodot
        ;;
    esac
}

gkubelet() { # the files the kubelet's flags name: --config, --config-dir, --pod-manifest-path
    case $KKIND in kubelet | hyperkube) kubelet_flags ;; esac
    if [ -z "$KCHOSEN" ]; then
        # No kubelet running: flags written in the units (scanned by gunits), else kubeadm's.
        [ -n "$KCONFIG" ] || KCONFIG=/var/lib/kubelet/config.yaml
        [ -n "$KPMP" ] || gdir /etc/kubernetes/manifests /etc/kubernetes/manifests nodot
        [ -z "$KPMP" ] || KPMP_SET=1
    fi
    if [ -n "$KCONFIG" ]; then
        absolute "$KCONFIG" "$KCWD"
        gconfig "$NP"
    fi
    if [ -n "$KCONFIGDIR" ]; then
        absolute "$KCONFIGDIR" "$KCWD"
        gdir "$NP" "$NP" walk 0
        # rke2 runs the kubelet as a child whose --config-dir is <data-dir>/agent/etc/kubelet.conf.d,
        # where rke2's own drop-in sets staticPodPath to <data-dir>/agent/pod-manifests (the pair
        # distro.k3s_launch knows); this script reads no staticPodPath from drop-ins, so without
        # this every rke2 node would cost one more pass.
        case $NP in */agent/etc/kubelet.conf.d)
            gk_pm=${NP%/etc/kubelet.conf.d}/pod-manifests
            gdir "$gk_pm" "$gk_pm" nodot
            ;;
        esac
    fi
    if [ -n "$KPMP" ]; then
        absolute "$KPMP" "$KCWD"
        gdir "$NP" "$NP" nodot
    fi
}
