# The kubelet witness (issue 13): GET /pods and /configz from the kubelet on this node, where
# its own settings say it serves, and only from the kubelet itself. Helpers (wtmp, wgo, wt,
# wrc, WD, WSECS...) are witnesses.sh's.
#
# Where: the secure port is `port` (--port; 10250 by default), the read-only port
# `readOnlyPort` (--read-only-port): 0, closed, whenever the kubelet has a --config file (the
# v1beta1 default), 10255 only without one (applyLegacyDefaults,
# cmd/kubelet/app/options/options.go); the address is `address` (--address; 0.0.0.0 by
# default: then 127.0.0.1 is asked). Flags win over the file, as kubeletConfigFlagPrecedence
# (cmd/kubelet/app/server.go) makes them. Drop-ins of --config-dir are not read here.
#
# Whom: before a client certificate is sent or an answer read, every socket listening on the
# port (in /proc/KUBELET/net/tcp and tcp6: state 0A, TCP_LISTEN) must be one of the kubelet's
# own open files (socket:[INODE] in /proc/KUBELET/fd): another process on the port (a kubelet
# that died and a listener that took its port) is not asked, and gets no certificate.
#
#   W http WHAT RC CODE STR(url) STR(via) STR(body) STR(error)   WHAT: pods configz

WSPORT= WROPORT= WS_URL= WR_URL= # the kubelet's ports and where to ask them (wsettings)
WFDS=                            # ls -l of the kubelet's open files, read once (wowner)

wport() { # true when $1 is a port number (1-65535, no leading zero)
    case $1 in '' | *[!0-9]* | 0*) return 1 ;; esac
    [ ${#1} -le 5 ] && [ "$1" -le 65535 ]
}

wsettings() { # WSPORT, WROPORT (0: closed), WS_URL, WR_URL from the kubelet's flags over its
    # config file over the defaults; false (WWHY) when they name no port or address
    WSPORT=10250 WROPORT=10255 ws_addr=0.0.0.0
    if [ -n "$KCONFIG" ]; then
        WROPORT=0
        absolute "$KCONFIG" "$KCWD"
        if config_text "$R$NP"; then
            config_scalar port
            [ -z "$CS" ] || WSPORT=$CS
            config_scalar readOnlyPort
            [ -z "$CS" ] || WROPORT=$CS
            config_scalar address
            [ -z "$CS" ] || ws_addr=$CS
        fi
    fi
    [ -z "$KPORT" ] || WSPORT=$KPORT
    [ -z "$KROPORT" ] || WROPORT=$KROPORT
    [ -z "$KADDR" ] || ws_addr=$KADDR
    wport "$WSPORT" || { WWHY="the kubelet's port $WSPORT is not a port number"; return 1; }
    [ "$WROPORT" = 0 ] || wport "$WROPORT" || { WWHY="the kubelet's readOnlyPort $WROPORT is not a port number"; return 1; }
    case $ws_addr in
    0.0.0.0 | :: | '[::]') ws_host=127.0.0.1 ;; # every address: the loopback one too
    *:*) ws_host="[$ws_addr]" ;;
    *) ws_host=$ws_addr ;;
    esac
    case $ws_addr in
    *[!0-9A-Fa-f:.]* | .* | *.) WWHY="the kubelet's address $ws_addr is not an IP address"; return 1 ;;
    esac
    WS_URL=${KUBELET_HTTPS:-https://$ws_host:$WSPORT}
    WR_URL=${KUBELET_HTTP:-http://$ws_host:$WROPORT}
}

whex() { # WH := port $1 as /proc/net/tcp writes it: 4 uppercase hex digits
    WH= wh_n=$1
    for wh_i in 1 2 3 4; do
        wh_d=$((wh_n % 16))
        case $wh_d in 10) wh_d=A ;; 11) wh_d=B ;; 12) wh_d=C ;; 13) wh_d=D ;; 14) wh_d=E ;; 15) wh_d=F ;; esac
        WH=$wh_d$WH wh_n=$((wh_n / 16))
    done
}

wowner() { # true when each socket listening on port $1 is the kubelet's own; else WWHY says whose
    whex "$1"
    wo_ino=
    for wo_f in "/proc/$KCHOSEN/net/tcp" "/proc/$KCHOSEN/net/tcp6"; do
        [ -r "$wo_f" ] || continue
        # sl local rem st tx:rx tr:when retrnsmt uid timeout inode (tcp4_seq_show, net/ipv4/tcp_ipv4.c)
        while read -r wo_sl wo_loc wo_rem wo_st wo_q wo_tr wo_rt wo_uid wo_to wo_i wo_rest; do
            [ "$wo_st" = 0A ] || continue
            case $wo_loc in *:"$WH") ;; *) continue ;; esac
            case $wo_i in '' | *[!0-9]*) continue ;; esac
            wo_ino="$wo_ino $wo_i"
        done <"$wo_f"
    done
    if [ -z "$wo_ino" ]; then
        WWHY="nothing listening on port $1"
        return 1
    fi
    [ -n "$WFDS" ] || WFDS=$(ls -l "/proc/$KCHOSEN/fd/" 2>/dev/null)
    if [ -z "$WFDS" ]; then
        WWHY="cannot tell who listens on port $1: the kubelet's open files (/proc/$KCHOSEN/fd) are not readable"
        return 1
    fi
    for wo_i in $wo_ino; do
        case $WFDS in
        *" -> socket:[$wo_i]"*) ;;
        *)
            WWHY="port $1 is not the kubelet's (another process listens)"
            return 1
            ;;
        esac
    done
}

whttp() { # whttp WHAT URL VIA [CURL-OPTIONS...]: one GET, one W http record; W_CODE := its status;
    # false (WWHY) when it was not asked (no time left, no private directory)
    wh_what=$1 wh_url=$2 wh_via=$3
    shift 3
    wgo || return 1
    wtmp || { WWHY="mktemp does not work on the node"; return 1; }
    : >"$WD/rc"
    : >"$WD/h"
    : >"$WD/e"
    # No proxy: the kubelet is this node's. curl -q first: no .curlrc; -g: an IPv6 [address]
    # is no glob. wget: no user wgetrc.
    if command -v curl >/dev/null 2>&1; then
        wh_err=$WD/e
        wans wcurl head "$WCAP" "$@" "$wh_url"
    else # bounded by timeout(1): busybox 1.35's wget -T crashes; its errors are in its headers
        wh_err=$WD/h
        while :; do
            wans wwget head "$WCAP" "$wh_url"
            wlearn "$WD/h" && break
        done
    fi
    W_CODE=0
    read_text "$WD/h" 65536 || RT=
    IFS=$NL
    for wh_l in $RT; do
        IFS=$DEFAULT_IFS
        set -- $wh_l
        case ${1-}:${2-} in HTTP/*:[1-5][0-9][0-9] | HTTP/*:[1-5][0-9][0-9]?) W_CODE=${2%"${2#???}"}; break ;; esac
    done
    IFS=$DEFAULT_IFS
    printf 'W http %s %s %s\n%s\0%s\0%s\0' "$wh_what" "$WRC" "$W_CODE" "$wh_url" "$wh_via" "$WANS"
    read_text "$wh_err" 1024 || RT=
    printf '%s\0' "$RT"
    return 0
}

wcurl() { # curl "$@": headers to $WD/h, errors to $WD/e
    http_proxy= https_proxy= HTTP_PROXY= HTTPS_PROXY= ALL_PROXY= all_proxy= \
        curl -q -g -s -S -k -m "$WSECS" -D "$WD/h" "$@" 2>"$WD/e"
}

wwget() { # wget of URL $1 within WSECS seconds: headers and errors to $WD/h
    http_proxy= HTTP_PROXY= WGETRC=/dev/null HOME=/nonexistent wt wget -q -S -O - "$1" 2>"$WD/h"
}

wsecure() { # wsecure VIA CERT KEY: /pods (then /configz) on the secure port with that certificate
    W_NEXT=
    if ! whttp pods "$WS_URL/pods" "$1" --cert "$2" --key "$3"; then
        printf 'W none https\n%s\0' "$WWHY"
        return 0
    fi
    case $W_CODE in
    200)
        W_HEARD=1
        whttp configz "$WS_URL/configz" "$1" --cert "$2" --key "$3" || printf 'W none configz\n%s\0' "$WWHY"
        ;;
    401 | 403) W_NEXT=1 ;; # this identity is not trusted or not allowed: another may be
    esac
}

wadmin() { # $WD/a.crt, $WD/a.key := the client certificate embedded in admin.conf
    command -v base64 >/dev/null 2>&1 || return 1
    read_text "$R/etc/kubernetes/admin.conf" 1048576 || return 1
    wa_c= wa_k=
    IFS=$NL
    for wa_l in $RT; do
        IFS=$DEFAULT_IFS
        trim "$wa_l"
        case $T in
        client-certificate-data:*) [ -n "$wa_c" ] || { trim "${T#*:}"; wa_c=$T; } ;;
        client-key-data:*) [ -n "$wa_k" ] || { trim "${T#*:}"; wa_k=$T; } ;;
        esac
    done
    IFS=$DEFAULT_IFS
    case $wa_c in '' | *[!A-Za-z0-9+/=]*) return 1 ;; esac
    case $wa_k in '' | *[!A-Za-z0-9+/=]*) return 1 ;; esac
    wtmp || return 1
    printf '%s' "$wa_c" | base64 -d >"$WD/a.crt" 2>/dev/null &&
        printf '%s' "$wa_k" | base64 -d >"$WD/a.key" 2>/dev/null
}

wcerts() { # the secure port, if the kubelet's, with each client certificate the node has until
    # one is not refused
    wk_pki=$R/etc/kubernetes/pki/apiserver-kubelet-client
    wk_adm=$R/etc/kubernetes/admin.conf
    wk_own=$R/var/lib/kubelet/pki/kubelet-client-current.pem
    wk_any=
    if [ -r "$wk_pki.crt" ] && [ -r "$wk_pki.key" ]; then wk_any=1; fi
    if [ -r "$wk_adm" ] || [ -r "$wk_own" ]; then wk_any=1; fi
    if [ -n "$wk_any" ] && ! wowner "${WS_URL##*:}"; then
        printf 'W none https\n%s\0' "$WWHY"
        return 0
    fi
    wk_any= W_NEXT=1
    if [ -r "$wk_pki.crt" ] && [ -r "$wk_pki.key" ]; then
        wk_any=1
        wsecure apiserver-kubelet-client "$wk_pki.crt" "$wk_pki.key"
    fi
    if [ -n "$W_NEXT" ] && [ -r "$wk_adm" ]; then
        if ! wgo; then # no copy of admin's key for a request that cannot be made
            printf 'W none https\n%s\0' "$WWHY"
            return 0
        fi
        if wadmin; then
            wk_any=1
            wsecure admin.conf "$WD/a.crt" "$WD/a.key"
        fi
        [ -z "$WD" ] || rm -f "$WD/a.crt" "$WD/a.key" # the copy of admin's key lives no longer than its use
    fi
    if [ -n "$W_NEXT" ] && [ -r "$wk_own" ]; then
        wk_any=1
        wsecure kubelet-client-current.pem "$wk_own" "$wk_own"
    fi
    [ -n "$wk_any" ] || printf 'W none https\n%s\0' \
        "no client certificate on the node (apiserver-kubelet-client, admin.conf, kubelet-client-current.pem)"
}

wreadonly() { # /pods on the read-only port, when the kubelet opens one and holds it
    if [ "$WROPORT" = 0 ]; then
        printf 'W none readonly\n%s\0' "the read-only port is off (readOnlyPort 0, the default with a --config file)"
    elif ! wowner "${WR_URL##*:}"; then
        printf 'W none readonly\n%s\0' "$WWHY"
    elif ! whttp pods "$WR_URL/pods" read-only-port; then
        printf 'W none readonly\n%s\0' "$WWHY"
    fi
}

wkubelet() { # the kubelet witness: the secure port with a certificate the node has, then the read-only one
    if [ -z "$KCHOSEN" ]; then
        printf 'W none kubelet\n%s\0' "no kubelet process found: no port to ask"
        return 0
    fi
    # 127.0.0.1 from another network namespace (a container's) is not the kubelet's loopback.
    if [ -e "/proc/$KCHOSEN/ns/net" ] && [ -e /proc/self/ns/net ] && ! [ "/proc/$KCHOSEN/ns/net" -ef /proc/self/ns/net ]; then
        printf 'W none kubelet\n%s\0' "the kubelet runs in another network namespace: its ports cannot be asked from here"
        return 0
    fi
    if ! wsettings; then
        printf 'W none kubelet\n%s\0' "$WWHY: the kubelet not asked"
        return 0
    fi
    if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
        printf 'W none kubelet\n%s\0' "no curl or wget on the node"
        return 0
    fi
    for wk_c in mktemp head; do
        command -v "$wk_c" >/dev/null 2>&1 || {
            printf 'W none kubelet\n%s\0' "no $wk_c command on the node: the kubelet not asked"
            return 0
        }
    done
    W_HEARD= W_NEXT=
    if command -v curl >/dev/null 2>&1; then
        wcerts
    elif ! command -v timeout >/dev/null 2>&1; then
        printf 'W none kubelet\n%s\0' "no curl, and no timeout command to bound wget: the kubelet not asked"
        return 0
    else
        printf 'W none https\n%s\0' "no curl for the secure port (wget sends no client certificate)"
    fi
    [ -n "$W_HEARD" ] || wreadonly
}
