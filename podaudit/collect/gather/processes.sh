# Processes: a P record for each kubelet-like process, the one kubelet/process.py would
# choose, and the root to read its files through (the R record).

kubelet_kind() { # KK, KR := kind and rank of argv $1 (words, one a line)
    KK= KR=9
    kk_w0=${1%%"$NL"*}
    kk_r=${1#*"$NL"}
    kk_w1=${kk_r%%"$NL"*}
    if [ -z "$kk_r" ]; then
        case $kk_w0 in *[[:space:]]*) # one word with spaces: a rewritten process title
            set -- $kk_w0
            kk_w0=${1-}
            kk_w1=${2-}
            ;;
        esac
    fi
    case ${kk_w0##*/} in
    kubelet) KK=kubelet KR=0 ;;
    hyperkube) [ "$kk_w1" != kubelet ] || { KK=hyperkube KR=0; } ;;
    kubelite) KK=kubelite KR=1 ;;
    k3s) case $kk_w1 in server | agent) KK=k3s KR=2 ;; esac ;;
    rke2) case $kk_w1 in server | agent) KK=rke2 KR=3 ;; esac ;;
    esac
}

listed() { # RL := the text of link /proc/$1/$2 (exe, cwd) as find_kubelet's ls -ln printed it
    # (one readlink fewer a kubelet), when it surely is: the only line naming /proc/$1/$2
    # (another process's path may hold that text, or a newline and a forged line), and the same file
    case $FK_X in *"/proc/$1/$2"*"/proc/$1/$2"*) return 1 ;; *" /proc/$1/$2 -> "*) ;; *) return 1 ;; esac
    RL=${FK_X#*" /proc/$1/$2 -> "}
    RL=${RL%%"$NL"*}
    [ -n "$RL" ] && [ "/proc/$1/$2" -ef "$RL" ]
}

emit_proc() { # one P record: pid, cmdline (FK_T's lines: flag t; else od's hex), exe, cwd, stat, cgroup
    ep_flags=
    if [ -n "$FK_T" ]; then
        ep_cmd=$FK_T ep_flags=t
    else
        ep_cmd=$(od -An -v -tx1 2>/dev/null </proc/$1/cmdline)
    fi
    if listed "$1" exe || rl "/proc/$1/exe"; then ep_exe=$RL ep_flags=${ep_flags}e; else ep_exe=; fi
    if listed "$1" cwd || rl "/proc/$1/cwd"; then ep_cwd=$RL ep_flags=${ep_flags}c; else ep_cwd=; fi
    if read_text "/proc/$1/stat" 65536; then ep_stat=$RT ep_flags=${ep_flags}s; else ep_stat=; fi
    if read_text "/proc/$1/cgroup" 65536; then ep_cg=$RT ep_flags=${ep_flags}g; else ep_cg=; fi
    printf 'P %s %s\n%s\0%s\0%s\0%s\0%s\0' "$1" "${ep_flags:--}" "$ep_cmd" "$ep_exe" "$ep_cwd" "$ep_stat" "$ep_cg"
    EP_CWD=$ep_cwd EP_CG=$ep_cg
}

find_kubelet() { # KCHOSEN etc.: the kubelet process, as kubelet/process.py choose_kubelet; $1=emit P
    set +f
    fk_g=$(grep -l -a -E 'kubelet|k3s|rke2|kubelite|hyperkube' /proc/[0-9]*/cmdline 2>/dev/null)
    fk_pids=$NL
    fk_cwd=
    IFS=$NL
    for fk_l in $fk_g; do
        fk_p=${fk_l#/proc/}
        fk_p=${fk_p%/cmdline}
        case $fk_p in '' | *[!0-9]*) continue ;; esac
        fk_pids=$fk_pids$fk_p$NL
        fk_cwd="$fk_cwd /proc/$fk_p/cwd"
    done
    IFS=$DEFAULT_IFS
    # Every exe, and the cwd of each process grep found, in one ls (listed reads them); -n: no
    # user names to look up; literal: the names as they are.
    fk_x=$(QUOTING_STYLE=literal ls -ln /proc/[0-9]*/exe $fk_cwd 2>/dev/null)
    FK_X=$NL$fk_x$NL
    set -f
    fk_exe=$NL
    IFS=$NL
    for fk_l in $fk_x; do
        case $fk_l in *"/exe -> "*/kubelet) # (not a cwd line: a kubelet's may be /var/lib/kubelet)
            fk_p=${fk_l%%/exe -> *}
            fk_p=${fk_p##*/proc/}
            case $fk_p in '' | *[!0-9]*) continue ;; esac
            fk_exe=$fk_exe$fk_p$NL
            case $fk_pids in *"$NL$fk_p$NL"*) ;; *) fk_pids=$fk_pids$fk_p$NL ;; esac
            ;;
        esac
    done
    IFS=$DEFAULT_IFS
    fk_best=9
    for fk_p in $fk_pids; do
        case $fk_p in *[!0-9]*) continue ;; esac
        # One tr: NUL (between arguments) to newline, and a newline (in an argument) to \001.
        # Without a control character, its lines are the arguments exactly (the P record
        # carries them: no od); with one (\001 may be a newline), the words as before and od's hex.
        fk_a=$(tr '\0\n' '\n\001' 2>/dev/null </proc/$fk_p/cmdline)
        [ -n "$fk_a" ] || continue
        FK_T=$fk_a
        case $fk_a in *[![:print:][:space:]]*) FK_T= fk_a=$(tr '\0' '\n' 2>/dev/null </proc/$fk_p/cmdline) ;; esac
        fk_a=$fk_a$NL
        case $fk_exe in *"$NL$fk_p$NL"*) fk_isexe=1 ;; *) fk_isexe=0 ;; esac
        kubelet_kind "$fk_a"
        [ "$fk_isexe" = 0 ] || { KK=kubelet KR=0; }
        [ -n "$KK" ] || continue
        EP_CWD= EP_CG=
        [ "$1" != emit ] || emit_proc "$fk_p"
        if [ "$KR" -lt "$fk_best" ] || { [ "$KR" -eq "$fk_best" ] && [ "$fk_p" -lt "$KCHOSEN" ]; }; then
            fk_best=$KR KCHOSEN=$fk_p KKIND=$KK KWORDS=$fk_a KCWD=${EP_CWD:-/} KCGROUP=$EP_CG
        fi
    done
}

choose_root() { # R: read through /proc/<pid>/root when the kubelet sees another root
    R=
    [ -n "$1" ] || return 0
    cr_p=/proc/$1
    if ! [ -e "$cr_p/ns/mnt" ] || ! [ -e "$cr_p/root" ] ||
        { [ "$cr_p/ns/mnt" -ef /proc/self/ns/mnt ] && [ "$cr_p/root" -ef / ]; }; then
        printf 'R %s host\n\0' "$1"
    elif [ -r "$cr_p/root/" ] && [ -x "$cr_p/root/" ]; then
        R=$cr_p/root
        printf 'R %s proc\n\0' "$1"
    else
        printf 'R %s fail\nPermission denied\0' "$1"
    fi
}

cgroup_unit() { # CU := the innermost *.service of cgroup text $1 (v2 or name=systemd)
    CU=
    IFS=$NL
    for cu_l in $1; do
        IFS=/
        cu_r=${cu_l#*:}
        case $cu_r in '':* | name=systemd:*) ;; *) continue ;; esac
        for cu_c in ${cu_r#*:}; do
            case $cu_c in *.service) CU=$cu_c ;; esac
        done
        break
    done
    IFS=$DEFAULT_IFS
}
