# Files: one F record per path (stat, link text, physical path, the bytes of a regular file).

surely_missing() { # true when lstat($1) must fail with ENOENT or ENOTDIR (checked without forking)
    sm_p=$1
    while :; do
        sm_b=${sm_p##*/}
        [ ${#sm_b} -le 80 ] || return 1 # maybe ENAMETOOLONG: let stat tell
        sm_p=${sm_p%/*}
        [ -n "$sm_p" ] || sm_p=/
        if [ -e "$sm_p" ]; then
            [ -d "$sm_p" ] || return 0 # ENOTDIR
            [ -x "$sm_p" ] && return 0 # searchable, and the name below it is absent
            return 1
        fi
        [ -L "$sm_p" ] && return 1 # a dangling or looping link on the way
        [ "$sm_p" != / ] || return 1
    done
}

realpath_of() { # RP := the physical path of existing $1 (for the live root only)
    rp_p=$1
    rp_n=0
    while [ $rp_n -le 40 ]; do
        rp_n=$((rp_n + 1))
        if [ -d "$rp_p" ]; then
            cd -P "$rp_p" 2>/dev/null || return 1
            RP=$PWD
            return 0
        fi
        rp_d=${rp_p%/*}
        cd -P "${rp_d:-/}" 2>/dev/null || return 1
        rp_x=${PWD%/}/${rp_p##*/}
        [ -L "$rp_x" ] || { RP=$rp_x; return 0; }
        rl "$rp_x" || return 1
        case $RL in /*) rp_p=$RL ;; *) rp_p=${PWD%/}/$RL ;; esac
    done
    return 1
}

stat_ok() { # the fields of stat -c '%f %u %g %Y %s %i %y' look right (arithmetic errors end sh)
    [ $# -ge 8 ] || return 1
    case $1 in '' | *[!0-9a-f]*) return 1 ;; esac
    case "$2 $3 $5 $6" in *[!0-9\ ]*) return 1 ;; esac
    case $4 in '' | *[!0-9-]*) return 1 ;; esac
}

errkind() { # FKIND for the strerror text $1
    case $1 in
    'No such file or directory' | 'Not a directory') FKIND=missing ;;
    'Permission denied' | 'Operation not permitted') FKIND=denied ;;
    *) FKIND=error ;;
    esac
}

ferr() { # ferr REPORT STAT-OUTPUT: an F record for a failed stat
    fe_e=${2##*: }
    fe_e=${fe_e%%"$NL"*}
    errkind "$fe_e"
    printf 'F err\n%s\0%s\0' "$1" "$fe_e"
}

# frec REPORT PATH [STAT-LINE]: one F record: PATH stat'ed after following links, lstat of its last
# component, its link text and physical path, and the bytes of a regular file.
frec() {
    fr_rep=$1
    fr_p=$2
    fr_f=$R$2
    FLINK=0
    FDK=none
    if [ -n "${3-}" ]; then
        fr_out=$3 # from gentries' stat of the whole directory
    elif ! [ -e "$fr_f" ] && ! [ -L "$fr_f" ] && surely_missing "$fr_f"; then
        FKIND=missing
        printf 'F err\n%s\0No such file or directory\0' "$fr_rep"
        return
    else
        fr_out=$(stat -c '%f %u %g %Y %s %i %y' "$fr_f" 2>&1) || { ferr "$fr_rep" "$fr_out"; return; }
    fi
    set -- $fr_out
    stat_ok "$@" || { ferr "$fr_rep" "unexpected stat output: $fr_out"; return; }
    fr_ino=$6
    if [ $((0x$1 & 61440)) -eq 40960 ]; then # the last component is a symbolic link
        fr_out=$(stat -L -c '%f %u %g %Y %s %i %y' "$fr_f" 2>&1) || { ferr "$fr_rep" "$fr_out"; return; }
        set -- $fr_out
        stat_ok "$@" || { ferr "$fr_rep" "unexpected stat output: $fr_out"; return; }
        FLINK=1
        rl "$fr_f" || RL=
        fr_link=$RL
    fi
    fr_mode=$1 fr_uid=$2 fr_gid=$3 fr_sec=$4 fr_size=$5
    case $8 in *.*) fr_ns=${8#*.} ;; *) fr_ns=0 ;; esac
    fr_t=0
    if [ -z "$R" ] && realpath_of "$fr_p"; then fr_t=1; fi
    case $((0x$fr_mode & 61440)) in
    32768)
        FKIND=file
        if [ "$fr_size" -ge "$CAP" ]; then
            FDK=big
        elif ! [ -r "$fr_f" ]; then
            FDK=deny FKIND=denied
        else
            # procfs and sysfs say 0 or 4096 and hold something else: read them to their end
            # (up to the cap) as hex; other files, exactly their size, raw.
            case $fr_size:$fr_p in 0:* | *:/proc/* | *:/sys/*) FDK=hex ;; *) FDK=raw ;; esac
        fi
        ;;
    16384) FKIND=dir ;;
    *) FKIND=other ;;
    esac
    printf 'F ok %s %s %s %s %s %s %s %s %s %s\n%s\0' "$fr_mode" "$fr_uid" "$fr_gid" "$fr_sec" "$fr_ns" \
        "$fr_size" "$fr_ino" "$FLINK" "$fr_t" "$FDK" "$fr_rep"
    [ "$FLINK" = 0 ] || printf '%s\0' "$fr_link"
    [ "$fr_t" = 0 ] || printf '%s\0' "$RP"
    case $FDK in
    raw)
        # Exactly fr_size bytes whatever happens to the file meanwhile: dd pads a short read
        # with NULs and reads no more than one block; if it cannot open the file, zeros and
        # a V record that voids them.
        if ! dd if="$fr_f" bs="$fr_size" count=1 conv=sync 2>/dev/null; then
            head -c "$fr_size" /dev/zero
            printf 'V\n%s\0' "$fr_rep"
        fi
        ;;
    hex)
        head -c "$CAP" "$fr_f" 2>/dev/null | od -An -v -tx1
        printf '\0'
        ;;
    esac
}

gfile() { # gfile PATH: one F record, once
    once "F$1" || return 0
    frec "$1" "$1"
}
