#!/usr/bin/env bash
# A real single-host Ceph cluster (one mon, one OSD on a sparse bluestore file, no mgr) in a
# private directory on loopback, for the RBD tests and `./build.sh bench remote`.
#
#   tests/ceph/cluster.sh start DIR BASEPORT [IMAGE...]   # IMAGE: name:size, e.g. img:1G
#   tests/ceph/cluster.sh stop DIR
#
# start prints the ceph.conf path on its last line. BASEPORT..BASEPORT+49 are used (mon v2/v1,
# then the OSD's messengers); keep it outside the ephemeral range 32768-60999. Nothing is read
# from or written to /etc/ceph or /var/lib/ceph. stop waits until every daemon is gone, then
# removes DIR.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { sed -n '2,12p' "$0" >&2; exit 2; }

pids_of() {
    local f
    for f in "$dir"/run/*.pid; do [[ -e "$f" ]] && cat "$f"; done
}

gone() { # a pid that no longer exists, or whose threads are all zombies
    local pid=$1 t
    [[ -d /proc/$pid ]] || return 0
    for t in /proc/"$pid"/task/*/stat; do
        [[ -e "$t" ]] || continue
        [[ "$(awk '{print $3}' "$t" 2>/dev/null)" == Z ]] || return 1
    done
    return 0
}

stop() {
    [[ -d "$dir" ]] || return 0
    local pid pids
    pids=$(pids_of || true)
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
        local alive=0
        for pid in $pids; do gone "$pid" || alive=1; done
        ((alive == 0)) && break
        sleep 0.1
    done
    for pid in $pids; do gone "$pid" || kill -KILL "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
        local alive=0
        for pid in $pids; do gone "$pid" || alive=1; done
        ((alive == 0)) && break
        sleep 0.1
    done
    rm -rf "$dir"
}

start() {
    local base=${1:?BASEPORT}
    shift
    for tool in ceph-mon ceph-osd ceph ceph-authtool monmaptool rbd uuidgen; do
        command -v "$tool" >/dev/null || { echo "cluster.sh: $tool is not installed (apt-get install ceph-mon ceph-osd ceph-common)" >&2; exit 2; }
    done
    mkdir -p "$dir"/{run,log,crash,mon.a,osd.0}
    dir=$(cd "$dir" && pwd)
    local conf="$dir/ceph.conf" fsid
    fsid=$(uuidgen)
    cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$base,v1:127.0.0.1:$((base + 1))]
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms bind port min = $((base + 2))
ms bind port max = $((base + 49))
ms async op threads = 1
keyring = $dir/keyring
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
crash dir = $dir/crash
mon data = $dir/mon.\$id
osd data = $dir/osd.\$id
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
paxos propose interval = 0.1
bdev aio poll ms = 20
bluestore fsck on mkfs = false
bluestore block create = true
bluestore block size = 8G
bluestore cache autotune = false
bluestore cache size = 128M
osd max pg log entries = 500
osd op num shards = 2
osd op num threads per shard = 1
# A killed client's watch (and so its exclusive lock) expires after 5 s, not 30.
osd client watch timeout = 5
[mon]
admin socket = $dir/run/\$name.asok
[osd]
admin socket = $dir/run/\$name.asok
[client]
rbd cache = false
admin socket =
log file = /dev/null
CONF
    export MALLOC_ARENA_MAX=2
    local log="$dir/log/setup.log"
    {
        ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *'
        ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
        monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$base,v1:127.0.0.1:$((base + 1))]" "$dir/monmap"
        ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
        ceph-mon -c "$conf" -i a
        local uuid
        uuid=$(uuidgen)
        ceph -c "$conf" osd new "$uuid"
        ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid"
        ceph-osd -c "$conf" -i 0
        ceph -c "$conf" osd pool create rbd 8
        timeout 120 rbd -c "$conf" pool init rbd
        local spec
        for spec in "$@"; do
            rbd -c "$conf" create --size "${spec#*:}" "rbd/${spec%%:*}"
        done
    } >"$log" 2>&1 || { tail -n 30 "$log" >&2; echo "cluster.sh: start failed (log: $log)" >&2; stop; exit 1; }
    echo "$conf"
}

case "$cmd" in
    start) shift 2; start "$@" ;;
    stop) stop ;;
    *) echo "cluster.sh: unknown command $cmd (start|stop)" >&2; exit 2 ;;
esac
