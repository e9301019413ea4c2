# Directories: an F record for the directory and for each entry kept, and its listing: the
# listings of a pass wait in a queue (dqueue) and are made by one find(1) for them all
# (flush_dirs: an L record), not one find per directory.

DQN=0 # queued listings: DR_i (report), DA_i (the directory as find is given it, with $R)

# gdir REPORT PATH FILTER DEPTH: PATH's F record, its listing, and an F record for each entry
# FILTER keeps: all, nodot, conf (*.conf, no dot-files, first of each name), yaml, walk (all,
# and recurse into real directories, as --config-dir is walked).
gdir() {
    once "D$1" || return 0
    if [ "$3" = conf ] && [ -d "$R$2" ]; then
        : # the model only lists drop-in directories: their own stat is not needed
    else
        frec "$1" "$2"
        case $FKIND in dir) ;; *)
            printf 'D none\n%s\0' "$1"
            return 0
            ;;
        esac
        [ "$3" != nodot ] || gparents "$1"
    fi
    if ! [ -r "$R$2" ]; then
        printf 'D deny\n%s\0' "$1"
        return 0
    fi
    DQN=$((DQN + 1))
    eval "DR_$DQN=\$1 DA_$DQN=\$R\$2"
    [ "$DQN" -lt 200 ] || flush_dirs
    if [ "$3" = walk ]; then gwalk "$@"; else gentries "$@"; fi
}

# flush_dirs: "L COUNT", then (report, directory) for each queued listing, then the entries
# find -print0 gives for them all ("directory/name": remote.py tells each directory's by what
# precedes the last slash, and drops a name seen twice), then an empty string; if find failed, a D fail record for
# each of them (their listings are void).
flush_dirs() {
    [ "$DQN" -gt 0 ] || return 0
    printf 'L %s\n' "$DQN"
    set --
    fd_i=1
    while [ "$fd_i" -le "$DQN" ]; do
        eval "fd_r=\$DR_$fd_i fd_a=\$DA_$fd_i"
        printf '%s\0%s\0' "$fd_r" "$fd_a"
        set -- "$@" "$fd_a"
        fd_i=$((fd_i + 1))
    done
    fd_rc=0
    [ $# -eq 0 ] || find -H "$@" -mindepth 1 -maxdepth 1 -print0 2>/dev/null || fd_rc=$?
    printf '\0'
    fd_i=1
    while [ "$fd_i" -le "$DQN" ]; do
        [ "$fd_rc" = 0 ] || eval "printf 'D fail\\n%s\\0' \"\$DR_$fd_i\""
        fd_i=$((fd_i + 1))
    done
    DQN=0
}

gparents() { # the parents of a static pod directory, up to /: a writable one lets anyone swap it
    gp_p=$1
    while :; do
        gp_p=${gp_p%/*}
        gfile "${gp_p:-/}"
        [ -n "$gp_p" ] || return 0
    done
}

keep() { # keep FILTER NAME: whether gdir gathers entry NAME
    case $1 in
    nodot) case $2 in .*) return 1 ;; esac ;;
    conf)
        case $2 in .*) return 1 ;; *.conf) ;; *) return 1 ;; esac
        case $CHOSEN in *"$NL$2$NL"*) return 1 ;; esac
        ;;
    yaml) case $2 in *.yaml | *.yml) ;; *) return 1 ;; esac ;;
    esac
}

gentries() { # the entries of a listed directory that its filter keeps
    ge_rep=$1 ge_dir=$2 ge_filter=$3
    set +f
    set -- "$R$2"/* "$R$2"/.[!.]* "$R$2"/..?*
    set -f
    for ge_e; do
        [ -e "$ge_e" ] || [ -L "$ge_e" ] || continue
        keep "$ge_filter" "${ge_e##*/}" || continue
        join "$ge_rep" "${ge_e##*/}"
        ge_r=$J
        # Not once "F$ge_r": a directory names each entry once, and a file recorded twice (also
        # asked for by name) is recorded the same; once's look-ups grow with the keys, and a
        # directory of 10,000 manifests made them quadratic.
        join "$ge_dir" "${ge_e##*/}"
        frec "$ge_r" "$J"
        if [ "$ge_filter" = conf ]; then
            case $FKIND in missing | dir) ;; *) CHOSEN=$CHOSEN${ge_e##*/}$NL ;; esac
            scan_unit "$J"
        fi
    done
}

gwalk() { # the entries of a --config-dir, recursively (positional parameters survive recursion)
    set +f
    for gd_e in "$R$2"/* "$R$2"/.[!.]* "$R$2"/..?*; do
        set -f
        [ -e "$gd_e" ] || [ -L "$gd_e" ] || continue
        join "$1" "${gd_e##*/}"
        gd_r=$J
        join "$2" "${gd_e##*/}"
        once "F$gd_r" || continue
        frec "$gd_r" "$J"
        if [ "$FKIND" = dir ] && [ "$FLINK" = 0 ] && [ "$4" -lt 16 ]; then
            gdir "$gd_r" "$J" walk $(($4 + 1))
        fi
    done
    set -f
}
