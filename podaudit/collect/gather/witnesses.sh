# Witnesses (issue 13): what the node's container runtime and its kubelet say runs, asked in
# the same exec as the files. Read-only: crictl pods, ps -a, inspect and logs; GET /pods and
# /configz (witness_kubelet.sh). Each command is looked up with `command -v` and bounded in
# time (timeout(1) for crictl and wget, curl -m: WSECS seconds), and starts only when those
# seconds fit in what is left of the piece's WBUDGET (wgo); each answer is capped (head -c,
# tail -c: one program, on the pipe) and kept in a shell variable (WANS: the shell drops its
# NUL bytes, as `tr -d '\0'` did); what is read reaches a command only as one quoted argument.
# Exit statuses, stderr, HTTP headers and a copy of admin.conf's client certificate go to one
# private mktemp -d directory (mode 0700), made once, only when a command is to run, removed
# before the piece returns, and on HUP, INT, TERM and PIPE (podaudit hung up: the next write
# gets SIGPIPE). Issue 17: each crictl call is timeout, crictl and head (no tr, cat, mktemp or
# rm a call), and timeout(1)'s syntax is learnt from the first call, not probed.
#
#   W none runtime|kubelet|https|readonly|configz STR(why)   not asked (no crictl, no
#                                                  certificate, the port not the kubelet's...)
#   W cri WHAT RC STR(arg) STR(stdout) STR(stderr) WHAT: pods ps inspect logs; arg: the
#                                                  endpoint as the kubelet names it, or the ID
#   W http WHAT RC CODE STR(url) STR(via) STR(body) STR(error)   WHAT: pods configz
#
# Which containers to inspect is chosen here, from crictl's JSON as it prints it: protojson
# (jsonpb before v1.31) with a two-space indent (protobufObjectToJSON, cmd/crictl/util.go),
# one key a line, so an item's own keys are the lines indented six spaces. The choice only
# names IDs to ask about; podaudit/kubelet/crictl.py parses every answer as JSON
# (to_inspect there is the same choice). Another layout: nothing inspected, nothing wrong.

WD=        # the private directory
WTO=       # how timeout(1) takes its limit: new (timeout N), old (busybox < 1.30: timeout -t N),
           # empty: not known yet (wlearn)
WANS=      # the last answer (wans), capped
W_PODS= W_PS= # crictl's answers to pods and ps -a
W_HEARD=   # the kubelet's /pods answered 200
W_NEXT=    # the secure port refused that certificate: try the next one
W_CODE=0   # the last HTTP status
WSTART=    # when the piece started (wclock: centiseconds), empty without a clock
WWHY=      # why a command was not run (wgo, whttp) or a port not asked (wowner)

wtmp() { # WD := a private directory (mktemp -d: mode 0700); false without mktemp
    [ -z "$WD" ] || return 0
    command -v mktemp >/dev/null 2>&1 || return 1
    WD=$(mktemp -d 2>/dev/null) || WD=
    case $WD in /?*) [ -d "$WD" ] || { WD=; return 1; } ;; *) WD=; return 1 ;; esac
    trap 'rm -rf "$WD"; exit 1' HUP INT TERM PIPE
}

wdone() {
    [ -z "$WD" ] || rm -rf "$WD"
    trap - HUP INT TERM PIPE
    WD=
}

wlearn() { # after a command run through wt while WTO was unknown: false when this node's
    # timeout(1) is busybox's before 1.30 (it took the seconds for the program: "can't execute
    # 'N'", status 127; stderr in file $1), then WTO=old and the command must run again; else WTO=new.
    # No probe of its own: `timeout N true` was two programs a node.
    [ -z "$WTO" ] || return 0
    WTO=new
    [ "$WRC" = 127 ] || return 0
    read_text "$1" 1024 || return 0
    case $RT in *"can't execute '$WSECS'"*) WTO=old; return 1 ;; esac
}

wclock() { # WNOW := a clock in centiseconds: /proc/uptime, read by the shell (no fork), else date(1)
    WNOW=
    if [ -r /proc/uptime ] && read -r wc_u wc_r </proc/uptime 2>/dev/null; then
        case $wc_u in
        [0-9]*.[0-9][0-9])
            wc_s=${wc_u%.*} wc_c=${wc_u#*.}
            case $wc_s in *[!0-9]* | 0?*) ;; *) WNOW=$((wc_s * 100 + ${wc_c#0})) ;; esac
            ;;
        esac
    fi
    [ -z "$WNOW" ] || return 0
    wc_u=$(date +%s 2>/dev/null) || return 1
    case $wc_u in '' | *[!0-9]* | 0?*) return 1 ;; esac
    WNOW=$((wc_u * 100))
}

wgo() { # true when a command of WSECS seconds, started now, ends within the piece's budget
    # (WBUDGET seconds from WSTART); else WWHY says so. Asked before every command.
    [ -n "$WSTART" ] || return 0 # no clock: each command is still bounded by its WSECS
    wclock || return 0
    [ $((WNOW - WSTART + WSECS * 100)) -gt $((WBUDGET * 100)) ] || return 0
    WWHY="no time left within the witnesses' $WBUDGET s (a command may take $WSECS s)"
    return 1
}

wt() { # run "$@" for WSECS seconds at most
    if [ "$WTO" = old ]; then timeout -t "$WSECS" "$@"; else timeout "$WSECS" "$@"; fi
}

wans() { # wans CMD HOW CAP ARGS...: WANS := the first (HOW=head) or last (tail) CAP bytes CMD
    # prints (a shell function, run with ARGS; its stderr, in "$WD/err", is the caller's
    # business), WRC := its exit status. The "." keeps trailing newlines from $(...).
    wa_c=$1 wa_how=$2 wa_cap=$3
    shift 3
    : >"$WD/rc"
    WANS=$( { "$wa_c" "$@"; echo "$?" >"$WD/rc"; } | "$wa_how" -c "$wa_cap"; printf .)
    WANS=${WANS%.}
    wrc
}

wrc() { # WRC := the exit status the last answer left in $WD/rc (255 when unknown)
    WRC=
    IFS= read -r WRC <"$WD/rc" 2>/dev/null
    case $WRC in '' | *[!0-9]*) WRC=255 ;; esac
}

# --- the runtime: crictl against the kubelet's own endpoint --------------------------------

wendpoint() { # WEP, WEPR := the kubelet's runtime endpoint (its flag, its config file, a usual
    # socket) as it names it, and as this script reaches it
    WEP=$KCRE
    if [ -z "$WEP" ] && [ -n "$KCONFIG" ]; then
        absolute "$KCONFIG" "$KCWD"
        if config_text "$R$NP"; then
            config_scalar containerRuntimeEndpoint
            WEP=$CS
        fi
    fi
    if [ -z "$WEP" ]; then
        case $KKIND in
        k3s | rke2) we_l='/run/k3s/containerd/containerd.sock /run/containerd/containerd.sock' ;;
        kubelite) we_l='/var/snap/microk8s/common/run/containerd.sock /run/containerd/containerd.sock' ;;
        *) we_l='/run/containerd/containerd.sock /run/k3s/containerd/containerd.sock' ;;
        esac
        for we_s in $we_l /var/snap/microk8s/common/run/containerd.sock /var/run/crio/crio.sock \
            /run/crio/crio.sock /var/run/cri-dockerd.sock; do
            if [ -S "$R$we_s" ]; then WEP=$we_s; break; fi
        done
    fi
    case $WEP in # the kubelet takes a bare path as unix:// (deprecated, still accepted)
    /*) WEP=unix://$WEP ;;
    esac
    WEPR=$WEP # the same socket reached from here: through the kubelet's root
    case $WEP in unix:///*) WEPR=unix://$R${WEP#unix://} ;; esac
}

wcri() { # wcri WHAT ARG CRICTL-ARGS...: crictl within the time limit, one W cri record;
    # false (WWHY) when its seconds do not fit in the budget: then nothing is run
    wc_what=$1 wc_arg=$2
    shift 2
    wgo || return 1
    while :; do
        if [ "$wc_what" = logs ]; then # the log's stderr stream is crictl's stderr: keep both, the end
            : >"$WD/err"
            wans wcrictl_logs tail "$WLOG" "$@"
        else
            wc_cap=$WCAP
            [ "$wc_what" != inspect ] || wc_cap=$WICAP
            wans wcrictl head "$wc_cap" "$@"
        fi
        wlearn "$WD/err" && break # (pods, the first call, learns it: never logs)
    done
    [ "$wc_what" != logs ] || : >"$WD/err"
    printf 'W cri %s %s\n%s\0%s\0' "$wc_what" "$WRC" "$wc_arg" "$WANS"
    read_text "$WD/err" 1024 || RT=
    printf '%s\0' "$RT"
    return 0
}

wcrictl() { wt "$W_CRICTL" "$@" 2>"$WD/err"; }
wcrictl_logs() { wt "$W_CRICTL" "$@" 2>&1; }

wstring() { # WV := the JSON string value of line $1 ('  "key": "value",'), if plain
    WV=${1#*\":}
    trim "$WV"
    WV=${T%,}
    case $WV in \"*\") WV=${WV#\"} WV=${WV%\"} ;; *) WV= ;; esac
}

wstatic() { # W_STATIC := IDs of the static pod sandboxes (config.source=file) in W_PODS
    W_STATIC=$NL
    ws_id= ws_sec= ws_file=
    ws_all=$W_PODS
    IFS=$NL
    for ws_l in $ws_all; do
        case $ws_l in
        '      "id":'*) wstring "$ws_l" && ws_id=$WV ;;
        '      "'*) ws_sec=${ws_l#      \"} ws_sec=${ws_sec%%\"*} ;;
        '        "kubernetes.io/config.source":'*)
            wstring "$ws_l"
            [ "$ws_sec" != annotations ] || [ "$WV" != file ] || ws_file=1
            ;;
        '    }' | '    },')
            case $ws_id in '' | *[!0-9a-f]*) ;; *) [ -z "$ws_file" ] || W_STATIC=$W_STATIC$ws_id$NL ;; esac
            ws_id= ws_sec= ws_file=
            ;;
        esac
    done
    IFS=$DEFAULT_IFS
}

wpick() { # W_PICK := the newest container of each static sandbox that is not running (W_PS)
    W_PICK= wp_n=0 wp_seen=$NL
    wp_id= wp_sb= wp_st= wp_name= wp_sec=
    wp_all=$W_PS
    IFS=$NL
    for wp_l in $wp_all; do
        case $wp_l in
        '      "id":'*) wstring "$wp_l" && wp_id=$WV ;;
        '      "podSandboxId":'*) wstring "$wp_l" && wp_sb=$WV ;;
        '      "state":'*) wstring "$wp_l" && wp_st=$WV ;;
        '      "'*) wp_sec=${wp_l#      \"} wp_sec=${wp_sec%%\"*} ;;
        '        "name":'*) [ "$wp_sec" != metadata ] || { wstring "$wp_l" && wp_name=$WV; } ;;
        '    }' | '    },')
            wchoose
            wp_id= wp_sb= wp_st= wp_name= wp_sec=
            ;;
        esac
    done
    IFS=$DEFAULT_IFS
}

wchoose() { # one container of ps -a (newest first, as crictl sorts): pick it if it qualifies
    case $wp_id in '' | *[!0-9a-f]*) return 0 ;; esac
    case $wp_sb in '' | *[!0-9a-f]*) return 0 ;; esac
    case $wp_name in '' | *[!a-z0-9-]*) return 0 ;; esac
    case $W_STATIC in *"$NL$wp_sb$NL"*) ;; *) return 0 ;; esac
    case $wp_seen in *"$NL$wp_sb/$wp_name$NL"*) return 0 ;; esac
    wp_seen=$wp_seen$wp_sb/$wp_name$NL
    [ "$wp_st" != CONTAINER_RUNNING ] || return 0
    [ "$wp_n" -lt "$WMAX" ] || return 0
    W_PICK="$W_PICK $wp_id"
    wp_n=$((wp_n + 1))
}

wruntime() { # the runtime witness: sandboxes, containers, and the failing static ones' ends
    W_CRICTL=
    if command -v crictl >/dev/null 2>&1; then
        W_CRICTL=crictl
    elif [ -x "$R/var/lib/rancher/rke2/bin/crictl" ]; then
        W_CRICTL=$R/var/lib/rancher/rke2/bin/crictl
    else
        printf 'W none runtime\n%s\0' "no crictl on the node (PATH, /var/lib/rancher/rke2/bin)"
        return 0
    fi
    wendpoint
    case $WEP in
    unix:///*) ;;
    '') printf 'W none runtime\n%s\0' "no runtime endpoint: the kubelet names none and no usual socket exists"; return 0 ;;
    *) printf 'W none runtime\n%s\0' "the runtime endpoint $WEP is not a unix socket; not asked"; return 0 ;;
    esac
    for wr_c in timeout mktemp head tail; do
        command -v "$wr_c" >/dev/null 2>&1 || {
            printf 'W none runtime\n%s\0' "no $wr_c command on the node: crictl not run"
            return 0
        }
    done
    if ! wgo; then # no private directory for a command that cannot run
        printf 'W none runtime\n%s\0' "$WWHY: crictl not run"
        return 0
    fi
    if ! wtmp; then
        printf 'W none runtime\n%s\0' "timeout or mktemp does not work on the node: crictl not run"
        return 0
    fi
    if ! wcri pods "$WEP" -r "$WEPR" pods -o json; then
        printf 'W none runtime\n%s\0' "$WWHY: crictl not run"
        return 0
    fi
    [ "$WRC" = 0 ] || return 0
    W_PODS=$WANS
    wcri ps "$WEP" -r "$WEPR" ps -a -o json || return 0
    [ "$WRC" = 0 ] || return 0
    W_PS=$WANS
    wstatic
    wpick
    # Out of time, the rest stays "not inspected" (or without its log): the node's --timeout must not pass.
    for wr_id in $W_PICK; do
        wcri inspect "$wr_id" -r "$WEPR" inspect -o json "$wr_id" || return 0
        case $WRC in 124 | 137 | 143) return 0 ;; esac
        wcri logs "$wr_id" -r "$WEPR" logs --tail "$WLINES" "$wr_id" || return 0
    done
}

gwitnesses() { # both witnesses, then nothing left behind
    WSTART=
    if wclock; then WSTART=$WNOW; fi
    wruntime
    wkubelet
    wdone
}
