#!/bin/sh
# Give a private mount namespace its own /tmp (or other top-level directory), keeping chosen
# directories of the real one.
#
#     private_tmp.sh [--top DIR] SOURCE [KEEP...] [-- COMMAND [ARG...]]
#
# SOURCE replaces DIR (default /tmp): "tmpfs" for a fresh tmpfs (mode 1777), or a directory
# to bind there. Each KEEP directory under DIR stays visible at its own path (its parents
# become plain directories of SOURCE, so their mtimes change only with what runs inside);
# KEEP paths outside DIR are visible anyway and skipped. Then COMMAND runs, if given, in the
# directory this script started in (or / when that is no longer visible).
#
# Run it only in a mount namespace of its own (unshare --mount --propagation private):
# scripts/lab runs it in each node's init, the tests before a live /proc or collector run.
# The real DIR is held as the working directory while SOURCE covers it, bound to a
# temporary name inside the new DIR, and unmounted when every KEEP is in place.
set -eu
umask 022
top=/tmp
if [ "$1" = --top ]; then
    top=$2
    shift 2
fi
source=$1
shift
start=$PWD
cd "$top"
if [ "$source" = tmpfs ]; then
    mount -t tmpfs -o mode=1777 podaudit-private-tmp "$top"
else
    mount --bind "$source" "$top"
fi
hold=$top/.podaudit-real-top.$$
mkdir "$hold"
# --no-canonicalize: "." must stay the held directory, not the path that now names SOURCE.
mount --no-canonicalize --bind . "$hold"
cd /
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case $1 in
    "$top"/?*)
        mkdir -p "$1"
        mount --bind "$hold/${1#"$top"/}" "$1"
        ;;
    esac
    shift
done
umount "$hold"
rmdir "$hold"
if [ $# -gt 0 ]; then
    shift
    cd "$start" 2>/dev/null || cd /
    exec "$@"
fi
