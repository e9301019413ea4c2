# podaudit gather script: prints, as one framed byte stream on stdout, what the kubelet
# model may need from this node. POSIX sh (dash, busybox ash, bash), fed on stdin to
# `sh -s` or `sudo -n sh -s`; podaudit.collect.remote parses the stream.
#
# Everything below is a function until the last line, so nothing runs before the whole
# script has been read, and no command can read the rest of the script from stdin.
#
# Stream: the line "PODAUDIT-GATHER 1", then records, then the line "END". A record is one
# ASCII header line (a type letter and space-separated ASCII tokens), then a fixed number
# of NUL-terminated strings (names, paths and link texts never hold a NUL), then, for a
# file's content, exactly the number of raw bytes its header gives.
#
# Parameters (filled in by podaudit.collect.remote.gather_script):
CAP=__CAP__
MODE=__MODE__
KPID=__KPID__
UNIT_DIRS='__UNIT_DIRS__'
KUBELET_UNITS='__KUBELET_UNITS__'
requested() {
__WANTS__
:
}

NL='
'
DEFAULT_IFS=" 	$NL"
R=            # prefix to read the kubelet's files through: empty, or /proc/<pid>/root
SEEN=$NL      # keys of what was gathered already, one a line
CHOSEN=$NL    # drop-in names already taken for the unit being gathered
ENV_FILES=$NL # EnvironmentFile= paths named by the units read so far
KCONFIG= KCONFIGDIR= KPMP= KPMP_SET= KCWD=/ KKIND= KCHOSEN= KWORDS= KCGROUP=
FKIND= FLINK=0 FDK=

once() { # once KEY: true only the first time KEY is seen
    case $SEEN in *"$NL$1$NL"*) return 1 ;; esac
    SEEN=$SEEN$1$NL
}

join() { # J := $1/$2
    case $1 in */) J=$1$2 ;; *) J=$1/$2 ;; esac
}

dec() { # DEC := the string an octal-escaped printf format stands for (sentinel keeps trailing newlines)
    DEC=$(printf "$1X")
    DEC=${DEC%X}
}

normpath() { # NP := $1 without empty, "." and ".." components (absolute)
    NP=
    IFS=/
    set -- $1
    IFS=$DEFAULT_IFS
    for np_c; do
        case $np_c in '' | .) ;; ..) NP=${NP%/*} ;; *) NP=$NP/$np_c ;; esac
    done
    [ -n "$NP" ] || NP=/
}

absolute() { # NP := $1 made absolute against directory $2, normalised
    case $1 in /*) normpath "$1" ;; *) normpath "$2/$1" ;; esac
}

trim() { # T := $1 without leading and trailing blanks
    T=${1#"${1%%[![:space:]]*}"}
    T=${T%"${T##*[![:space:]]}"}
}

rl() { # RL := the text of link $1; false when it is not a readable link
    RL=$(readlink "$1" 2>/dev/null && printf .)
    [ -n "$RL" ] || return 1
    RL=${RL%.}
    RL=${RL%"$NL"}
}

read_text() { # RT := the text of file $1 (read by the shell: no NUL bytes), about $2 bytes at most
    RT=
    rt_l=
    [ -r "$1" ] || return 1
    while IFS= read -r rt_l; do
        RT=$RT$rt_l$NL
        rt_l=
        [ ${#RT} -le "$2" ] || return 0
    done 2>/dev/null <"$1"
    RT=$RT$rt_l
}

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

emit_proc() { # one P record: pid, cmdline (hex), exe, cwd, stat, cgroup
    ep_flags=
    ep_hex=$(od -An -v -tx1 2>/dev/null </proc/$1/cmdline)
    if rl "/proc/$1/exe"; then ep_exe=$RL ep_flags=${ep_flags}e; else ep_exe=; fi
    if rl "/proc/$1/cwd"; then ep_cwd=$RL ep_flags=${ep_flags}c; else ep_cwd=; fi
    if read_text "/proc/$1/stat" 65536; then ep_stat=$RT ep_flags=${ep_flags}s; else ep_stat=; fi
    if read_text "/proc/$1/cgroup" 65536; then ep_cg=$RT ep_flags=${ep_flags}g; else ep_cg=; fi
    printf 'P %s %s\n%s\0%s\0%s\0%s\0%s\0' "$1" "${ep_flags:--}" "$ep_hex" "$ep_exe" "$ep_cwd" "$ep_stat" "$ep_cg"
    EP_CWD=$ep_cwd EP_CG=$ep_cg
}

find_kubelet() { # KCHOSEN etc.: the kubelet process, as kubelet/process.py choose_kubelet; $1=emit P
    set +f
    fk_g=$(grep -l -a -E 'kubelet|k3s|rke2|kubelite|hyperkube' /proc/[0-9]*/cmdline 2>/dev/null)
    fk_x=$(ls -l /proc/[0-9]*/exe 2>/dev/null)
    set -f
    fk_pids=$NL
    fk_exe=$NL
    IFS=$NL
    for fk_l in $fk_g; do
        fk_p=${fk_l#/proc/}
        fk_p=${fk_p%/cmdline}
        fk_pids=$fk_pids$fk_p$NL
    done
    for fk_l in $fk_x; do
        case $fk_l in *" -> "*/kubelet)
            fk_p=${fk_l%%/exe -> *}
            fk_p=${fk_p##*/proc/}
            fk_exe=$fk_exe$fk_p$NL
            case $fk_pids in *"$NL$fk_p$NL"*) ;; *) fk_pids=$fk_pids$fk_p$NL ;; esac
            ;;
        esac
    done
    IFS=$DEFAULT_IFS
    fk_best=9
    for fk_p in $fk_pids; do
        case $fk_p in *[!0-9]*) continue ;; esac
        fk_a=$(tr '\0' '\n' 2>/dev/null </proc/$fk_p/cmdline)
        [ -n "$fk_a" ] || continue
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

kubelet_flags() { # KCONFIG, KCONFIGDIR, KPMP from the chosen kubelet's argv (pflag's rules, roughly)
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
        --config) kf_next=config ;;
        --config[-_]dir) kf_next=configdir ;;
        --pod[-_]manifest[-_]path) kf_next=pmp KPMP_SET=1 ;;
        --*=* | -?=*) ;;
        --*) case ${kf_rest%%"$NL"*} in -*) ;; *) kf_next=skip ;; esac ;;
        esac
    done
}

static_pod_path_of() { # SPP := staticPodPath written in config file $1 (a simple YAML or JSON line)
    SPP=
    [ "$FDK" = raw ] || return 0
    read_text "$R$1" "$CAP" || return 0
    IFS=$NL
    for sp_l in $RT; do
        IFS=$DEFAULT_IFS
        case $sp_l in
        staticPodPath:*)
            trim "${sp_l#staticPodPath:}"
            case $T in
            \"*) sp_v=${T#\"} sp_v=${sp_v%%\"*} ;;
            \'*) sp_v=${T#\'} sp_v=${sp_v%%\'*} ;;
            *) sp_v=${T%%[[:space:]]#*} ;;
            esac
            ;;
        *'"staticPodPath"'*)
            trim "${sp_l#*\"staticPodPath\"}"
            trim "${T#:}"
            case $T in \"*) sp_v=${T#\"} sp_v=${sp_v%%\"*} ;; *) continue ;; esac
            ;;
        *) continue ;;
        esac
        SPP=$sp_v
    done
    IFS=$DEFAULT_IFS
    if [ -n "$SPP" ]; then
        absolute "$SPP" "${1%/*}"
        SPP=$NP
    fi
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

discover() {
    find_kubelet emit
    choose_root "$KCHOSEN"
    if [ -n "$KCHOSEN" ]; then
        KTICK=$(getconf CLK_TCK 2>/dev/null)
        printf 'K %s\n' "${KTICK:--}"
    fi
    if read_text /proc/stat 1048576; then
        case $RT in *"${NL}btime "*) bt=${RT#*"${NL}btime "} bt=${bt%%"$NL"*} ;; *) bt=- ;; esac
    else bt=-; fi
    printf 'B %s\n' "${bt:--}"
    if [ -z "$R" ] && read_text /proc/sys/kernel/hostname 5000; then printf 'H proc\n%s\0' "$RT"; fi
    if read_text "$R/etc/hostname" 5000; then printf 'H etc\n%s\0' "$RT"; fi

    # systemd units: the cgroup's unit, the usual ones, their drop-ins, and env files.
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

    # k3s, rke2 and MicroK8s files.
    for d in k3s rke2; do
        gfile "/etc/rancher/$d/config.yaml"
        gdir "/etc/rancher/$d/config.yaml.d" "/etc/rancher/$d/config.yaml.d" yaml
        gdir "/var/lib/rancher/$d/agent/etc/kubelet.conf.d" "/var/lib/rancher/$d/agent/etc/kubelet.conf.d" walk 0
        gdir "/var/lib/rancher/$d/agent/pod-manifests" "/var/lib/rancher/$d/agent/pod-manifests" nodot
    done
    gfile /var/snap/microk8s/current/args/kubelet

    # The kubelet's own flags: --config, --config-dir, --pod-manifest-path.
    case $KKIND in kubelet | hyperkube) kubelet_flags ;; esac
    if [ -z "$KCHOSEN" ]; then
        # No kubelet running: flags written in the units (scanned above), else kubeadm's.
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
    fi
    if [ -n "$KPMP" ]; then
        absolute "$KPMP" "$KCWD"
        gdir "$NP" "$NP" nodot
    fi

    # Network: the default route (as the local collector reads it), interfaces by ifindex,
    # and their addresses.
    c_route=
    if read_text /proc/net/route 1048576; then
        printf 'C net-route 0\n%s\0' "$RT"
        c_route=$RT
    fi
    set +f
    for n in /sys/class/net/*; do
        set -f
        read_text "$n/ifindex" 64 || continue
        RT=${RT%"$NL"}
        case $RT in '' | *[!0-9]*) continue ;; esac
        printf 'I %s\n%s\0' "$RT" "${n##*/}"
    done
    set -f
    if command -v ip >/dev/null 2>&1; then
        c_out=$(ip -o addr show 2>/dev/null)
        printf 'C ip-addr %s\n%s\0' "$?" "$c_out"
        if [ -z "$c_route" ]; then # no /proc/net/route to read: ask ip
            c_out=$(ip route show default 2>/dev/null)
            printf 'C ip-route %s\n%s\0' "$?" "$c_out"
        fi
    fi
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
    printf 'PODAUDIT-GATHER 1\nM %s %s\n' "$MODE" "$CAP"
    command -v stat >/dev/null 2>&1 || printf 'E\nno stat command on the node\0'
    if [ "$MODE" = paths ]; then
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
    printf 'END\n'
}

main </dev/null
