# Network facts (kubelet/network.py): C records for the routes and addresses, I records for
# the interfaces.

gnetwork() { # the default route (as the local collector reads it), interfaces by ifindex, their addresses
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
