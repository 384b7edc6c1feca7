#!/usr/bin/env bash
# Remote-backing benchmark: what a PCache cache in front of a remote volume is worth.
# fio, 4 KiB randwrite and randread at iodepth 1 and 16, one job, in one run:
#   - PCache's export (fio ioengine=nbd) over a Ceph RBD image, against fio's rbd engine directly
#     on a second image of the same single-host cluster (started here by tests/ceph/cluster.sh);
#   - PCache's export over an nbdkit memory disk behind the delay filter, against that nbdkit directly.
# Both images (and the region fio uses) are filled first, so direct reads are real reads.
# Prints one table with ratios; targets (while the cache has room): QD1 randwrite latency >= 10x
# lower through PCache than direct RBD, QD16 randwrite IOPS >= 5x higher. Asserts nothing.
#
# usage: tests/bench/remote.sh [--runtime SECONDS] [--size REGION] [--delay MS]
set -euo pipefail

runtime=10
region=256m
delay_ms=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runtime) runtime="$2"; shift ;;
        --size) region="$2"; shift ;;
        --delay) delay_ms="$2"; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "remote.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
repo=$(cd "$(dirname "$0")/../.." && pwd)
pcache=${PCACHE_BIN:-$repo/out/PCache/bin/pcache}
for tool in fio nbdkit rbd ceph-mon ceph-osd python3 "$pcache"; do
    command -v "$tool" >/dev/null || [ -x "$tool" ] || { echo "remote.sh: $tool is not installed" >&2; exit 2; }
done
fio --enghelp 2>/dev/null | grep -qw rbd || { echo "remote.sh: this fio has no rbd engine" >&2; exit 2; }

work=$(mktemp -d /tmp/pcache-remote-bench.XXXXXX)
shm=/dev/shm/$(basename "$work").pmem
ceph_dir=$work/ceph
daemon_pid=""
kit_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    [ -n "$kit_pid" ] && kill "$kit_pid" 2>/dev/null && wait "$kit_pid" 2>/dev/null || true
    bash "$repo/tests/ceph/cluster.sh" stop "$ceph_dir" || true
    rm -rf "$work" "$shm"
}
trap cleanup EXIT

echo "starting a single-host Ceph cluster..." >&2
conf=$(bash "$repo/tests/ceph/cluster.sh" start "$ceph_dir" $((21000 + (RANDOM % 180) * 50)) pc:2G direct:2G | tail -n 1)
export CEPH_CONF=$conf

echo "filling the first $region of both images..." >&2
for img in pc direct; do
    fio --name=fill --ioengine=rbd --clientname=admin --pool=rbd --rbdname=$img --rw=write --bs=4m --iodepth=4 \
        --size="$region" --output=/dev/null
done

# The cache: emulated pmem in /dev/shm, large enough that the runs never fill it.
export PCACHE_SOCKET=$work/pcache.sock
"$pcache" daemon --socket "$PCACHE_SOCKET" --nbd-socket "$work/nbd.sock" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$PCACHE_SOCKET" ] && break; sleep 0.1; done
"$pcache" cache-start --path "$shm" --size 6G --format --force >/dev/null
"$pcache" backing-start --path "rbd:rbd/pc:conf=$conf" --cache-size 2900M >/dev/null

nbdkit -f -U "$work/kit.sock" --filter=delay memory 1G rdelay=${delay_ms}ms wdelay=${delay_ms}ms &
kit_pid=$!
for _ in $(seq 1 100); do [ -S "$work/kit.sock" ] && break; sleep 0.1; done
"$pcache" backing-start --path "nbd+unix:///?socket=$work/kit.sock" --cache-size 2900M >/dev/null

results=$work/results.tsv
: >"$results"
run() { # label target rw depth fio-args...
    local label=$1 target=$2 rw=$3 depth=$4
    shift 4
    local json=$work/fio.json
    fio --name=b --rw="$rw" --bs=4k --iodepth="$depth" --numjobs=1 --size="$region" --time_based \
        --runtime="$runtime" --randseed=42 --output-format=json --output="$json" "$@" >/dev/null
    python3 - "$json" "$label" "$target" "$rw" "$depth" >>"$results" <<'PY'
import json, sys
path, label, target, rw, depth = sys.argv[1:]
job = json.load(open(path))["jobs"][0]
side = job["write" if "write" in rw else "read"]
print(f"{label}\t{target}\t{rw}\t{depth}\t{side['iops']:.0f}\t{side['clat_ns']['mean'] / 1000:.1f}")
PY
    echo "  $label $target $rw QD$depth done" >&2
}

for rw in randwrite randread; do
    for depth in 1 16; do
        run rbd direct $rw $depth --ioengine=rbd --clientname=admin --pool=rbd --rbdname=direct
        run rbd pcache $rw $depth --ioengine=nbd --uri="nbd+unix:///pcache0?socket=$work/nbd.sock"
        run nbdkit-delay direct $rw $depth --ioengine=nbd --uri="nbd+unix:///?socket=$work/kit.sock"
        run nbdkit-delay pcache $rw $depth --ioengine=nbd --uri="nbd+unix:///pcache1?socket=$work/nbd.sock"
    done
done

python3 - "$results" "$runtime" "$region" "$delay_ms" <<'PY'
import sys
path, runtime, region, delay = sys.argv[1:]
rows = {}
for line in open(path):
    label, target, rw, depth, iops, lat = line.split("\t")
    rows[(label, rw, int(depth), target)] = (float(iops), float(lat))
print(f"\nfio 4 KiB, one job, {runtime} s per run, region {region}; nbdkit memory with delay filter {delay} ms per request\n")
print("| backing | workload | direct IOPS | direct mean lat (us) | PCache IOPS | PCache mean lat (us) | IOPS ratio | latency ratio |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for label, name in (("rbd", "Ceph RBD (fio rbd engine)"), ("nbdkit-delay", "nbdkit + delay (fio nbd engine)")):
    for rw in ("randwrite", "randread"):
        for depth in (1, 16):
            d = rows.get((label, rw, depth, "direct")); p = rows.get((label, rw, depth, "pcache"))
            if not d or not p: continue
            print(f"| {name} | {rw} QD{depth} | {d[0]:,.0f} | {d[1]:,.1f} | {p[0]:,.0f} | {p[1]:,.1f} | {p[0] / d[0]:.1f}x | {d[1] / p[1]:.1f}x |")
r1 = (rows.get(("rbd", "randwrite", 1, "direct")), rows.get(("rbd", "randwrite", 1, "pcache")))
r16 = (rows.get(("rbd", "randwrite", 16, "direct")), rows.get(("rbd", "randwrite", 16, "pcache")))
if all(r1) and all(r16):
    lat = r1[0][1] / r1[1][1]; iops = r16[1][0] / r16[0][0]
    print(f"\ntargets over RBD: QD1 randwrite latency {lat:.1f}x lower (target >= 10x: {'met' if lat >= 10 else 'NOT met'}), "
          f"QD16 randwrite IOPS {iops:.1f}x higher (target >= 5x: {'met' if iops >= 5 else 'NOT met'})")
PY
"$pcache" stat | python3 -c '
import json, sys
for b in json.load(sys.stdin)["backings"]:
    print("cache after the runs: backing %d (%s): %d/%d segments used, %d MiB dirty"
          % (b["backing_id"], b["backing_path"], b["cache_used_segs"], b["cache_segs"], b["dirty_bytes"] >> 20))
'
