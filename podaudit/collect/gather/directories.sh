# Directories: a D record (the listing) and an F record for each entry kept.

# gdir REPORT PATH FILTER DEPTH: PATH's F record, its listing (a D record), and an F record
# for each entry FILTER keeps: all, nodot, conf (*.conf, no dot-files, first of each name),
# yaml, walk (all, and recurse into real directories, as --config-dir is walked).
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
    printf 'D list\n%s\0' "$1"
    find -H "$R$2" -mindepth 1 -maxdepth 1 -print0 2>/dev/null
    gd_rc=$?
    printf '\0'
    [ "$gd_rc" = 0 ] || printf 'D fail\n%s\0' "$1"
    if [ "$3" = walk ]; then gwalk "$@"; else gentries "$@"; fi
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

gentries() { # the entries of a listed directory that its filter keeps, with one stat for all
    ge_rep=$1 ge_dir=$2 ge_filter=$3
    set +f
    set -- "$R$2"/* "$R$2"/.[!.]* "$R$2"/..?*
    set -f
    ge_n=$#
    while [ "$ge_n" -gt 0 ]; do
        ge_e=$1
        shift
        ge_n=$((ge_n - 1))
        [ -e "$ge_e" ] || [ -L "$ge_e" ] || continue
        keep "$ge_filter" "${ge_e##*/}" || continue
        join "$ge_rep" "${ge_e##*/}"
        once "F$J" || continue
        set -- "$@" "$ge_e"
    done
    GE_STATS=
    if [ $# -gt 1 ]; then
        # One line per path, in order, when all succeed (lstat: links are followed by frec).
        GE_STATS=$(stat -c '%f %u %g %Y %s %i %y' "$@" 2>/dev/null)$NL
        ge_rest=$GE_STATS ge_n=0
        while case $ge_rest in *"$NL"*) true ;; *) false ;; esac; do
            ge_rest=${ge_rest#*"$NL"}
            ge_n=$((ge_n + 1))
        done
        [ "$ge_n" -eq $# ] || GE_STATS=
    fi
    for ge_e; do
        ge_line=
        if [ -n "$GE_STATS" ]; then
            ge_line=${GE_STATS%%"$NL"*}
            GE_STATS=${GE_STATS#*"$NL"}
        fi
        join "$ge_rep" "${ge_e##*/}"
        ge_r=$J
        join "$ge_dir" "${ge_e##*/}"
        frec "$ge_r" "$J" "$ge_line"
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
