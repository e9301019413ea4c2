# The three modes: discover (the first pass: find the kubelet, gather what it probably needs,
# and ask the witnesses), paths (exactly the files and directories a later pass asks for)
# and witnesses (only the witnesses: the local collector's), then the one line that runs
# anything.

discover() {
    find_kubelet emit
    choose_root "$KCHOSEN"
    # No getconf CLK_TCK (a program per node): USER_HZ, what the kernel reports process times
    # in, is 100 on every architecture a kubelet is built for (include/asm-generic/param.h;
    # only alpha's is 1024), and "K -" tells remote.py to take 100.
    [ -z "$KCHOSEN" ] || printf 'K -\n'
    bt=-
    if [ -r /proc/stat ]; then # read up to the btime line only (the shell reads a byte at a time)
        while IFS= read -r rt_l; do
            case $rt_l in "btime "*) bt=${rt_l#btime } && break ;; esac
        done 2>/dev/null </proc/stat
    fi
    printf 'B %s\n' "${bt:--}"
    if [ -z "$R" ] && read_text /proc/sys/kernel/hostname 5000; then printf 'H proc\n%s\0' "$RT"; fi
    if read_text "$R/etc/hostname" 5000; then printf 'H etc\n%s\0' "$RT"; fi
    gunits
    gdistro
    gkubelet
    gnetwork
    gwitnesses
}

witnesses() { # the witnesses alone, for the kubelet the first pass would choose
    find_kubelet
    choose_root "$KCHOSEN"
    case $KKIND in kubelet | hyperkube) kubelet_flags ;; esac
    [ -n "$KCHOSEN" ] || [ -n "$KCONFIG" ] || KCONFIG=/var/lib/kubelet/config.yaml
    gwitnesses
}

want_file() { # want_file REPORT PATH (both octal-escaped)
    dec "$1"
    wf_r=$DEC
    dec "$2"
    once "F$wf_r" || return 0
    frec "$wf_r" "$DEC"
}

want_dir() { # want_dir REPORT PATH: F, listing, and every entry
    dec "$1"
    wd_r=$DEC
    dec "$2"
    gdir "$wd_r" "$DEC" all 0
    gparents "$wd_r"
}

main() {
    set -f
    IFS=$DEFAULT_IFS
    unset CDPATH
    LC_ALL=C
    export LC_ALL
    PATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin
    printf '__MARKER__\nM %s %s\n' "$MODE" "$CAP"
    command -v stat >/dev/null 2>&1 || printf 'E\nno stat command on the node\0'
    if [ "$MODE" = witnesses ]; then
        witnesses
    elif [ "$MODE" = paths ]; then
        if [ -n "$KPID" ]; then
            KCHOSEN=$KPID
        else
            find_kubelet
        fi
        choose_root "$KCHOSEN"
        requested
    else
        discover
    fi
    flush_dirs
    flush_files
    printf 'END\n'
}

main </dev/null
