# podaudit watch: the node-side loop of `podaudit watch` over SSH (podaudit/watch/remote.py).
# Fed to `sh -s` (or `sudo -n sh -s`) like the gather script; nothing is written on the node.
# One line per thing seen; no name a node controls is ever printed (a path is its index in
# the list the client sent, which the client maps back to the exact path):
#   PODAUDIT-GATHER watch 1 MODE   first: MODE is inotify (inotifywait -m) or stat (a stat loop)
#   change I       watched path I (0-based; "-": one not known) or an entry of it changed
#   gone I         ... and its inotify watch is lost (deleted, moved): the client restarts this loop
#   kubelet P S    the kubelet process P ended (S "-") or is another process (S: its start time
#                  now); P 0: there was none, and one started (S "up")
#   tick           every few seconds, so the client notices a dead session
#   overflow       changes may have been missed (inotify queue overflow, inotifywait ended)
# It ends when its stdin closes (the SSH session ends), and takes what it started with it.
# Bursts are not coalesced here: the client folds every line into a set of watched indices,
# so its memory is bounded by the watch list however many files change at once.
set -u
interval=__INTERVAL__
ticks=__TICKS__
kpid=__PID__
set -- __PATHS__

# kstart: the start time of process $kpid (field 22 of /proc/PID/stat, proc(5)), or "-";
# with no kubelet (kpid 0): "up" once a process called kubelet or hyperkube runs (builtins only).
kstart() {
    kst=-
    if [ "$kpid" = 0 ]; then
        for c in /proc/[0-9]*/comm; do
            { read -r kname < "$c"; } 2>/dev/null || continue
            case $kname in kubelet | hyperkube) kst=up && return 0 ;; esac
        done
        return 0
    fi
    { read -r kline < "/proc/$kpid/stat"; } 2>/dev/null || return 0
    kline=${kline##*) }
    set -f
    # shellcheck disable=SC2086 - the fields are split on purpose
    set -- $kline
    set +f
    [ $# -ge 20 ] && kst=${20}
    return 0
}

# index: $i is the index of the watched path $1 (inotifywait adds "/" to directories).
index() {
    case $1 in
__CASES__
    *) i=- ;;
    esac
}

# snap: one stat call for the paths given and every entry of those that are directories
# (-L: a manifest that is a link changes when its target does); kept, never printed.
snap() {
    for p; do
        [ -d "$p" ] && set -- "$@" "$p"/* "$p"/.[!.]* "$p"/..?*
    done
    snapped=$(stat -L -c '%n %d %i %s %y %z %f %h %u %g' -- "$@" 2>/dev/null)
}

# stat_changes: print "change I" for each watched path whose snap differs from the last one.
stat_changes() {
    n=0
    for q; do
        snap "$q"
        eval "old=\${s_$n-}"
        if [ "$snapped" != "$old" ]; then
            index "$q"
            echo "change $i"
            eval "s_$n=\$snapped"
        fi
        n=$((n + 1))
    done
}

# poll: every --interval seconds: the kubelet, a tick now and then, and in stat mode the paths.
poll() {
    kpid_start=$kst
    round=0
    if [ "$mode" = stat ]; then
        snap "$@"
        all=$snapped
        n=0
        for q; do
            snap "$q"
            eval "s_$n=\$snapped"
            n=$((n + 1))
        done
    fi
    while sleep "$interval"; do
        kstart
        if [ "$kst" != "$kpid_start" ]; then
            echo "kubelet $kpid $kst"
            kpid_start=$kst
        fi
        round=$((round + 1))
        if [ "$round" -ge "$ticks" ]; then
            echo tick
            round=0
        fi
        [ "$mode" = stat ] || continue
        snap "$@"
        if [ "$snapped" != "$all" ]; then
            all=$snapped
            stat_changes "$@"
        fi
    done
}

# notify: inotifywait -m on the paths that exist (it refuses to start on a missing one; the
# client also sends the parent of each missing path, so its creation is seen).
notify() {
    for p; do
        shift
        [ -e "$p" ] && set -- "$@" "$p"
    done
    [ $# -gt 0 ] || return 0
    inotifywait -m -q -e modify,attrib,close_write,move,create,delete,delete_self,move_self,unmount \
        --format '%e %w' -- "$@" 2>/dev/null | while IFS= read -r line; do
        ev=${line%% *}
        index "${line#* }"
        case $ev in
        *Q_OVERFLOW*) echo overflow ;;
        *DELETE_SELF* | *MOVE_SELF* | *UNMOUNT*) echo "gone $i" ;;
        *) echo "change $i" ;;
        esac
    done
}

# main runs from the script's last line: sh has read the whole script by then, so what
# `cat` reads from stdin is only the end of the session.
main() {
    # The paths after the word "-" are in a directory that is on the list too: a file there is
    # seen through that directory's watch (its entries' events, inotify(7); its entries'
    # stat), so only those that are directories themselves are watched again.
    inner=
    for p; do
        shift
        if [ "$p" = - ]; then
            inner=1
            continue
        fi
        [ -n "$inner" ] && [ ! -d "$p" ] && continue
        set -- "$@" "$p"
    done
    mode=stat
    command -v inotifywait >/dev/null 2>&1 && mode=inotify
    kstart
    echo "PODAUDIT-GATHER watch 1 $mode"
    poll "$@" &
    if [ "$mode" = inotify ]; then
        { notify "$@"; echo overflow; } &
    fi
    # Until the client ends the session (stdin closes); then everything started here goes,
    # with this process group (sshd made the session its own: setsid).
    cat >/dev/null
    kill 0
}
main "$@"
