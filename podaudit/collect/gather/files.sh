# Files: one F record per path (stat, link text, physical path, the bytes of a regular file).
#
# What the other pieces decide from a file (is it a directory, a readable regular file?) is
# told at once by the shell's own tests (frec: FKIND, FLINK, FREAD). The record itself waits
# in a queue: flush_files stats every queued path with one stat(1) and sends the bytes of
# their regular files as one cat(1) stream (an X record), so a node runs two programs per
# chunk of paths, not two per file. Only what the tests cannot tell (a path that does not
# resolve: missing, a loop, no permission) is stat'ed alone, at once (fone), for its error.

QN=0          # queued paths: QR_i (report), QP_i (path on the node, without $R), QL_i (1: a link)
QA=           # "$R$QP_1" "$R$QP_2"...: the words that make them a command line (eval), built as
LA=           # they come (set -- "$@" x, once a path, is quadratic); LA: the links' alone
QB=0          # bytes of the queued paths: a command line stays far below ARG_MAX
FSTAT='%f %u %g %Y %s %i %y %z'  # %z: ctime, which fcat checks again after its cat

RP_DIR=       # the directory realpath_of is in (cd -P) for the last file's path
SM_OK=$NL     # directories below which a short name absent is surely missing (surely_missing)

surely_missing() { # true when lstat($1) must fail with ENOENT or ENOTDIR (checked without forking);
    # the answer for one directory holds for every name in it: the unit and drop-in
    # candidates ask the same few directories hundreds of times
    sm_b=${1##*/}
    [ ${#sm_b} -le 80 ] || return 1
    sm_d=${1%/*}
    case $SM_OK in *"$NL$sm_d$NL"*) return 0 ;; esac
    sm_walk "$1" || return 1
    SM_OK=$SM_OK$sm_d$NL
}

sm_walk() {
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

realpath_of() { # RP := the physical path of existing $1 (for the live root only); $2: the text
    # of link $1, when the caller read it already (one readlink fewer)
    rp_p=$1
    rp_n=0
    rp_known=${2-}
    while [ $rp_n -le 40 ]; do
        rp_n=$((rp_n + 1))
        if [ -d "$rp_p" ]; then
            RP_DIR=
            cd -P "$rp_p" 2>/dev/null || return 1
            RP=$PWD
            return 0
        fi
        rp_d=${rp_p%/*}
        [ -n "$rp_d" ] || rp_d=/ # a file in / (RP_DIR is empty when no directory is known)
        if [ "$rp_n" != 1 ] || [ "$rp_d" != "$RP_DIR" ]; then # not the directory of the last file
            RP_DIR=
            cd -P "$rp_d" 2>/dev/null || return 1
            [ "$rp_n" != 1 ] || RP_DIR=$rp_d
        fi
        rp_x=${PWD%/}/${rp_p##*/}
        [ -L "$rp_x" ] || { RP=$rp_x; return 0; }
        if [ "$rp_n" = 1 ] && [ -n "$rp_known" ]; then RL=$rp_known; else rl "$rp_x" || return 1; fi
        case $RL in /*) rp_p=$RL ;; *) rp_p=${PWD%/}/$RL ;; esac
    done
    return 1
}

stat_ok() { # the fields of stat -c "$FSTAT" look right (arithmetic errors end sh)
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

# frec REPORT PATH: FKIND, FLINK and FREAD of PATH (seen through $R) from the shell's tests,
# and its F record queued for flush_files; a path that does not resolve is recorded at once.
frec() {
    fr_f=$R$2
    FLINK=0
    FREAD=
    if ! [ -e "$fr_f" ]; then
        fone "$1" "$2"
        return 0
    fi
    [ ! -L "$fr_f" ] || FLINK=1
    if [ -d "$fr_f" ]; then
        FKIND=dir
    elif ! [ -f "$fr_f" ]; then
        FKIND=other
    elif [ -r "$fr_f" ]; then
        FKIND=file FREAD=1
    else
        FKIND=denied
    fi
    QN=$((QN + 1))
    eval "QR_$QN=\$1 QP_$QN=\$2 QL_$QN=\$FLINK"
    QA="$QA \"\$R\$QP_$QN\""
    [ "$FLINK" = 0 ] || LA="$LA \"\$R\$QP_$QN\""
    QB=$((QB + ${#fr_f} + 1))
    # 500 paths or 64 KiB of them a command line: far below ARG_MAX (128 KiB at least).
    [ "$QN" -ge 500 ] || [ "$QB" -ge 65536 ] || return 0
    fr_k=$FKIND fr_l=$FLINK fr_rd=$FREAD
    flush_files
    FKIND=$fr_k FLINK=$fr_l FREAD=$fr_rd
}

fone() { # fone REPORT PATH: stat PATH alone and write its F record now (its bytes by dd)
    fo_r=$1 fo_p=$2 fo_f=$R$2
    FLINK=0
    FREAD=
    if ! [ -e "$fo_f" ] && ! [ -L "$fo_f" ] && surely_missing "$fo_f"; then
        FKIND=missing
        printf 'F no\n%s\0' "$fo_r"
        return 0
    fi
    fo_out=$(stat -c "$FSTAT" "$fo_f" 2>&1) || { ferr "$fo_r" "$fo_out"; return 0; }
    set -- $fo_out
    stat_ok "$@" || { ferr "$fo_r" "unexpected stat output: $fo_out"; return 0; }
    fo_ino=$6
    fo_link=
    if [ $((0x$1 & 61440)) -eq 40960 ]; then # the last component is a symbolic link
        fo_out=$(stat -L -c "$FSTAT" "$fo_f" 2>&1) || { ferr "$fo_r" "$fo_out"; return 0; }
        set -- $fo_out
        stat_ok "$@" || { ferr "$fo_r" "unexpected stat output: $fo_out"; return 0; }
        FLINK=1
        rl "$fo_f" || RL=
        fo_link=$RL
    fi
    fwrite "$fo_r" "$fo_p" "$fo_ino" "$fo_link" raw "0x$1" "$2" "$3" "$4" "$5" "$8"
}

# fwrite REPORT PATH INODE LINK-TEXT HOW MODE UID GID MTIME SIZE MTIME-TEXT: the F record of a
# stat'ed file (FLINK says whether LINK-TEXT is one); HOW: raw (the bytes now, by dd) or cat
# (the bytes in flush_files's stream: CN, CT, CP_i).
fwrite() {
    case ${11} in *.*) fw_ns=${11#*.} ;; *) fw_ns=0 ;; esac
    fw_t=0
    fw_k=
    [ "$FLINK" = 0 ] || fw_k=$4
    # The physical path only when it is not the path itself (remote.py takes that for "none").
    if [ -z "$R" ] && realpath_of "$2" "$fw_k" && [ "$RP" != "$2" ]; then fw_t=1; fi
    fw_f=$R$2
    FDK=none
    case $(($6 & 61440)) in
    32768)
        FKIND=file
        if [ "${10}" -ge "$CAP" ]; then
            FDK=big
        elif ! [ -r "$fw_f" ]; then
            FDK=deny FKIND=denied
        else
            # procfs and sysfs say 0 or 4096 and hold something else: read them to their end
            # (up to the cap) as hex; other files, exactly their size.
            case ${10}:$2 in 0:* | *:/proc/* | *:/sys/*) FDK=hex ;; *) FDK=$5 FREAD=1 ;; esac
        fi
        ;;
    16384) FKIND=dir ;;
    *) FKIND=other ;;
    esac
    printf 'F ok %x %s %s %s %s %s %s %s %s %s\n%s\0' "$6" "$7" "$8" "$9" "$fw_ns" \
        "${10}" "$3" "$FLINK" "$fw_t" "$FDK" "$1"
    [ "$FLINK" = 0 ] || printf '%s\0' "$4"
    [ "$fw_t" = 0 ] || printf '%s\0' "$RP"
    case $FDK in
    raw)
        # Exactly the size whatever happens to the file meanwhile: dd pads a short read with
        # NULs and reads no more than one block; if it cannot open the file, zeros and a V
        # record that voids them.
        if ! dd if="$fw_f" bs="${10}" count=1 conv=sync 2>/dev/null; then
            head -c "${10}" /dev/zero
            printf 'V\n%s\0' "$1"
        fi
        ;;
    cat)
        CN=$((CN + 1))
        CT=$((CT + ${10}))
        eval "CP_$CN=\$fw_f CK_$CN=\$CTIME"
        CA="$CA \"\$CP_$CN\""
        ;;
    hex)
        head -c "$CAP" "$fw_f" 2>/dev/null | od -An -v -tx1
        printf '\0'
        ;;
    esac
}

# flush_files: the F records of the queued paths. One stat -L for them all (the link ones
# also get one stat of the link itself, for its inode, and their link text); when its lines
# are not one per path (one failed: the file went away meanwhile), each is stat'ed alone.
# The bytes of the regular files follow as one stream: "X NONCE COUNT TOTAL", cat of the
# COUNT files, then the line "X NONCE". NONCE is a fresh random UUID read from the kernel,
# so no file's bytes can forge the end line: when a file changed size between stat and cat,
# the end line is not where TOTAL says, and remote.py voids those COUNT files.
flush_files() {
    [ "$QN" -gt 0 ] || return 0
    ff_n=$QN ff_links=$LA
    eval "set -- $QA"
    QN=0 QB=0 QA= LA=
    ff_all=$(stat -L -c "$FSTAT" "$@" 2>/dev/null)
    IFS=$NL
    set -- $ff_all
    IFS=$DEFAULT_IFS
    if [ $# -ne "$ff_n" ]; then
        ff_i=1
        while [ "$ff_i" -le "$ff_n" ]; do
            eval "fone \"\$QR_$ff_i\" \"\$QP_$ff_i\""
            ff_i=$((ff_i + 1))
        done
        return 0
    fi
    flinks "$ff_n" "$ff_links"
    NONCE=
    if [ -r /proc/sys/kernel/random/uuid ]; then
        IFS= read -r NONCE </proc/sys/kernel/random/uuid 2>/dev/null || NONCE=
        case $NONCE in *[!0-9a-f-]*) NONCE= ;; esac
        [ ${#NONCE} -eq 36 ] || NONCE=
    fi
    ff_how=cat
    [ -n "$NONCE" ] || ff_how=raw
    CN=0 CT=0 CA=
    ff_i=1
    IFS=$NL
    for ff_l in $ff_all; do
        IFS=$DEFAULT_IFS
        eval "ff_r=\$QR_$ff_i ff_p=\$QP_$ff_i FLINK=\$QL_$ff_i ff_ino=\${QI_$ff_i-} ff_link=\${QT_$ff_i-}"
        ff_i=$((ff_i + 1))
        set -- $ff_l
        if ! stat_ok "$@"; then
            ferr "$ff_r" "unexpected stat output: $ff_l"
            continue
        fi
        [ "$FLINK" = 1 ] || ff_ino=$6
        CTIME="$6 $5 ${10-} ${11-}" # what fcat checks after its cat: inode, size, ctime
        fwrite "$ff_r" "$ff_p" "$ff_ino" "$ff_link" "$ff_how" "0x$1" "$2" "$3" "$4" "$5" "${8-}"
    done
    IFS=$DEFAULT_IFS
    fcat
}

flinks() { # QI_i, QT_i := inode and text of the queued links among the first $1 paths ($2: LA)
    fl_max=$1
    [ -n "$2" ] || return 0
    eval "set -- $2"
    fl_n=$#
    fl_all=$(stat -c '%i' "$@" 2>/dev/null)
    IFS=$NL
    set -- $fl_all
    IFS=$DEFAULT_IFS
    [ $# -eq "$fl_n" ] || set -- # one failed: each alone
    fl_i=1
    while [ "$fl_i" -le "$fl_max" ]; do
        eval "fl_q=\$QL_$fl_i fl_p=\$R\$QP_$fl_i"
        if [ "$fl_q" = 1 ]; then
            if [ $# -gt 0 ]; then fl_ino=$1; shift; else fl_ino=$(stat -c '%i' "$fl_p" 2>/dev/null); fi
            case $fl_ino in '' | *[!0-9]*) fl_ino=0 ;; esac
            rl "$fl_p" || RL=
            eval "QI_$fl_i=\$fl_ino QT_$fl_i=\$RL"
        fi
        fl_i=$((fl_i + 1))
    done
}

fcat() { # the bytes of the CN files queued by fwrite, as one X record
    # The closing line says whether every file is still the one stat -L saw: the same inode,
    # size and ctime after the cat. Sizes that change and change back (one file grown, a later
    # one shrunk, or one file read twice) keep the total but move one file's bytes into
    # another's record; any write, truncation or rename sets the inode's ctime, which no user
    # can set back, so such a cat is void. head bounds it: a file swapped for /dev/zero ends.
    [ "$CN" -gt 0 ] || return 0
    eval "set -- $CA"
    printf 'X %s %s %s\n' "$NONCE" "$CN" "$CT"
    cat -- "$@" 2>/dev/null | head -c "$CT"
    fc_now=$(stat -L -c '%i %s %z' -- "$@" 2>/dev/null)
    fc_said=same fc_i=1
    IFS=$NL
    for fc_l in $fc_now; do
        IFS=$DEFAULT_IFS
        eval "fc_was=\$CK_$fc_i"
        set -- $fc_l
        [ "$fc_was" = "$1 $2 ${3-} ${4-}" ] || fc_said=changed
        fc_i=$((fc_i + 1))
    done
    IFS=$DEFAULT_IFS
    [ "$fc_i" = $((CN + 1)) ] || fc_said=changed
    printf 'X %s %s\n' "$NONCE" "$fc_said"
    CN=0 CT=0 CA=
}

gfile() { # gfile PATH: one F record, once
    once "F$1" || return 0
    frec "$1" "$1"
}
