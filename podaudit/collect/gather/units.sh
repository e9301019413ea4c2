# systemd units: the unit file the model would pick, its drop-ins, the EnvironmentFile=s they
# name, and (with no kubelet running) flags written in them.

scan_unit() { # scan_unit PATH: EnvironmentFile= paths (and, with no kubelet running, flags)
    [ -n "$FREAD" ] || return 0
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
            if udir_absent "$gu_d" "$gu_c"; then
                printf 'F no\n%s\0' "$gu_d/$gu_c"
                continue
            fi
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
            gdropins "$gu_d/$gu_n.d" "$gu_d" "$gu_n.d"
        done
    done
    for gu_d in $UNIT_DIRS; do
        gdropins "$gu_d/service.d" "$gu_d" service.d
    done
}

gdropins() { # gdropins PATH DIR NAME: drop-in directory PATH (NAME in unit directory DIR)
    if udir_absent "$2" "$3"; then
        once "N$1" || return 0
        printf 'F no\n%s\0D none\n%s\0' "$1" "$1"
    else
        gdir "$1" "$1" conf
    fi
}

# udir_absent DIR NAME: true when unit directory DIR is surely missing, so NAME in it is too (as
# its F record says without a stat). Asked once a directory: the units and their drop-ins are
# looked for in every unit directory, and most of them are absent on a node.
UD_NO=' ' UD_YES=' '
udir_absent() {
    case $UD_NO in *" $1 "*) [ ${#2} -le 80 ]; return ;; esac
    case $UD_YES in *" $1 "*) return 1 ;; esac
    if ! [ -e "$R$1" ] && ! [ -L "$R$1" ] && surely_missing "$R$1"; then
        UD_NO="$UD_NO$1 "
        [ ${#2} -le 80 ]
        return
    fi
    UD_YES="$UD_YES$1 "
    return 1
}

gunits() { # the kubelet's units, their drop-ins, and env files
    # A running kubelet's model reads only the unit that started it: its cgroup's, else the usual
    # one for its kind (invocation.py, _unit_of); every KUBELET_UNITS only with none running
    # (find_invocation). The five that do not apply, in eight unit folders each, were half of
    # what a kubeadm node sent back (mostly records of paths that do not exist).
    cgroup_unit "$KCGROUP"
    if [ -n "$CU" ]; then
        gunit "$CU" # one name, whatever it holds (gunit refuses it whole if odd)
    else
        case $KKIND in
        kubelet | hyperkube) gu_units=kubelet.service ;;
        k3s) gu_units='k3s.service k3s-agent.service' ;;
        rke2) gu_units='rke2-server.service rke2-agent.service' ;;
        kubelite) gu_units= ;; # no usual unit: snapd names it, and the cgroup says so
        *) gu_units=$KUBELET_UNITS ;;
        esac
        for u in $gu_units; do gunit "$u"; done
    fi
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
