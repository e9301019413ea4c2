# systemd units: the unit file the model would pick, its drop-ins, the EnvironmentFile=s they
# name, and (with no kubelet running) flags written in them.

scan_unit() { # scan_unit PATH: EnvironmentFile= paths (and, with no kubelet running, flags)
    [ "$FDK" = raw ] || return 0
    read_text "$R$1" "$CAP" || return 0
    IFS=$NL
    for su_l in $RT; do
        IFS=$DEFAULT_IFS
        trim "$su_l"
        case $T in
        EnvironmentFile=*)
            trim "${T#EnvironmentFile=}"
            su_v=${T#-}
            case $su_v in *%* | *\** | *\?* | *\[*) ;; /*) ENV_FILES=$ENV_FILES$su_v$NL ;; esac
            ;;
        esac
        [ -n "$KCHOSEN" ] || scan_flags "$su_l"
    done
    IFS=$DEFAULT_IFS
}

scan_flags() { # kubelet flags written as --name=value anywhere in the line $1 (a guess)
    case $1 in *--config=*)
        sf_v=${1##*--config=}
        KCONFIG=${sf_v%%[[:space:]\"\'\\]*}
        ;;
    esac
    case $1 in *--config-dir=*)
        sf_v=${1##*--config-dir=}
        KCONFIGDIR=${sf_v%%[[:space:]\"\'\\]*}
        ;;
    esac
    case $1 in *--pod-manifest-path=*)
        sf_v=${1##*--pod-manifest-path=}
        KPMP=${sf_v%%[[:space:]\"\'\\]*}
        ;;
    esac
}

dropin_names() { # DN := names whose .d directories apply to unit $1 (systemd's dash rule)
    dn_n=$1
    while :; do
        DN="$DN $dn_n"
        dn_stem=${dn_n%.*}
        dn_type=${dn_n##*.}
        dn_prefix=${dn_stem%%@*}
        case $dn_stem in *@*) dn_inst=@${dn_stem#*@} ;; *) dn_inst= ;; esac
        case $dn_prefix in ?*-) dn_prefix=${dn_prefix%-} ;; esac
        case $dn_prefix in *-*) ;; *) return 0 ;; esac
        dn_prefix=${dn_prefix%-*}
        [ -n "$dn_prefix" ] || return 0
        dn_n=$dn_prefix-$dn_inst.$dn_type
    done
}

gunit() { # gunit NAME: the unit file the model would pick, and its drop-ins
    case $1 in *[!A-Za-z0-9:_.\\@-]* | '' | .* | @*) return 0 ;; esac
    once "U$1" || return 0
    gu_cands=$1
    case $1 in *@?*.*)
        gu_stem=${1%.*}
        gu_cands="$1 ${gu_stem%%@*}@.${1##*.}"
        ;;
    esac
    for gu_c in $gu_cands; do
        gu_found=
        for gu_d in $UNIT_DIRS; do
            gfile "$gu_d/$gu_c"
            case $FKIND in file | other | error) scan_unit "$gu_d/$gu_c"; gu_found=1; break ;; esac
        done
        [ -z "$gu_found" ] || break
    done
    DN=
    dropin_names "$1"
    case $1 in *@?*.*) dropin_names "${gu_stem%%@*}@.${1##*.}" ;; esac
    CHOSEN=$NL
    for gu_d in $UNIT_DIRS; do
        for gu_n in $DN; do
            gdir "$gu_d/$gu_n.d" "$gu_d/$gu_n.d" conf
        done
    done
    for gu_d in $UNIT_DIRS; do
        gdir "$gu_d/service.d" "$gu_d/service.d" conf
    done
}

gunits() { # the kubelet's units: its cgroup's, the usual ones, their drop-ins, and env files
    cgroup_unit "$KCGROUP"
    [ -z "$CU" ] || gunit "$CU"
    for u in $KUBELET_UNITS; do gunit "$u"; done
    for f in /etc/default/kubelet /etc/sysconfig/kubelet /var/lib/kubelet/kubeadm-flags.env \
        /etc/kubernetes/kubelet.env /etc/eks/kubelet/environment; do
        gfile "$f"
        [ -n "$KCHOSEN" ] || scan_unit "$f"
    done
    set +f
    for f in "$R"/etc/default/kubelet*; do
        set -f
        [ -e "$f" ] || [ -L "$f" ] || continue
        gfile "${f#"$R"}"
    done
    set -f
    IFS=$NL
    for f in $ENV_FILES; do
        IFS=$DEFAULT_IFS
        normpath "$f"
        gfile "$NP"
        [ -n "$KCHOSEN" ] || scan_unit "$NP"
    done
    IFS=$DEFAULT_IFS
}
