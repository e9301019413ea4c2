# podaudit gather script: prints, as one framed byte stream on stdout, what the kubelet
# model may need from this node. POSIX sh (dash, busybox ash, bash), fed on stdin to
# `sh -s` or `sudo -n sh -s`; podaudit.collect.remote parses the stream.
#
# The script is sent whole, in one exec: podaudit.collect.remote.gather_script joins the
# pieces of podaudit/collect/gather/ (this prelude first, main.sh last; remote.PIECES) and
# fills in the parameters below. Everything is a function until main.sh's last line, so
# nothing runs before the whole script has been read, and no command can read the rest of
# the script from stdin.
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
# The witnesses (witnesses.sh, witness_kubelet.sh): bytes kept of an answer, of one crictl
# inspect and of a log's end, seconds per command, seconds for them all, containers inspected
# at most, log lines asked for; where to ask the kubelet (empty: where its own settings say;
# tests name their own ports).
WCAP=__WCAP__
WICAP=__WICAP__
WLOG=__WLOG__
WSECS=__WSECS__
WBUDGET=__WBUDGET__
WMAX=__WMAX__
WLINES=__WLINES__
KUBELET_HTTPS='__KUBELET_HTTPS__'
KUBELET_HTTP='__KUBELET_HTTP__'
requested() {
__WANTS__
:
}

NL='
'
DEFAULT_IFS=" 	$NL"
R=            # prefix to read the kubelet's files through: empty, or /proc/<pid>/root
CHOSEN=$NL    # drop-in names already taken for the unit being gathered
ENV_FILES=$NL # EnvironmentFile= paths named by the units read so far
KCONFIG= KCONFIGDIR= KPMP= KPMP_SET= KCWD=/ KKIND= KCHOSEN= KWORDS= KCGROUP= KCRE=
KPORT= KROPORT= KADDR= # the kubelet's --port, --read-only-port, --address
FKIND= FLINK=0 FDK= FREAD=

once() { # once KEY: true only the first time KEY is seen (keys kept apart by their length:
    # one list of them all made each look-up scan hundreds of keys, most of the script's time)
    eval "on_s=\${SEEN_${#1}-\$NL}"
    case $on_s in *"$NL$1$NL"*) return 1 ;; esac
    eval "SEEN_${#1}=\$on_s\$1\$NL"
}

# Helpers every piece uses; each leaves its answer in the variable it names (J, DEC, NP, T,
# RL, RT): sh functions return only a status.

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
