#!/usr/bin/env bash
# NBD transport benchmark: fio (ioengine=nbd, Unix socket, 4 KiB, numjobs 1) randwrite/randread at
# iodepth 1 and 32 against a PCache export and three nbdkit references over the same backing file:
#   nbdkit memory (the transport ceiling), nbdkit file + cache filter (writeback), nbdkit file.
# Prints a table (IOPS, mean and p99 completion latency, ratio to nbdkit memory, and the server's CPU time
# per request where its process is known: on a shared machine that one is steadier than IOPS). Asserts nothing.
#
# usage: tests/bench/nbd.sh [--quick] [--runtime SECONDS] [--size SIZE]
#                           [--pcache-uri URI --backing FILE]
# Without --pcache-uri the script serves the backing file through the cache engine with
# tests/PCache.NbdHost (the daemon's stand-in): pmem is a file in /dev/shm, large enough to hold the
# whole device, and the cache is warmed with one full read before fio runs.
set -euo pipefail

runtime=10
size=1G
pcache_uri=""
backing=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) runtime=3 ;;
        --runtime) runtime="$2"; shift ;;
        --size) size="$2"; shift ;;
        --pcache-uri) pcache_uri="$2"; shift ;;
        --backing) backing="$2"; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "nbd.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$pcache_uri" ] && [ -z "$backing" ]; then
    echo "nbd.sh: --pcache-uri needs --backing FILE (the nbdkit rows serve that file)" >&2
    exit 2
fi
for tool in fio nbdkit nbdcopy dotnet /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "nbd.sh: $tool is not installed" >&2; exit 2; }
done

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /dev/shm/pcache-nbd-bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$backing" ]; then
    backing="$work/backing.img"
    echo "preparing $size of random data in $backing" >&2
    head -c "$size" /dev/urandom > "$backing"
fi
bytes=$(stat -c %s "$backing")

# Waits for a Unix socket to accept connections.
wait_socket() {
    for _ in $(seq 1 100); do
        [ -S "$1" ] && nbdinfo --size "nbd+unix:///${2:-}?socket=$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "nbd.sh: server on $1 did not come up" >&2
    exit 1
}

start_nbdkit() { # socket, nbdkit args...
    local sock="$1"; shift
    TMPDIR="$work" nbdkit --foreground -U "$sock" "$@" &
    pids+=($!)
    server_pid=$!
    wait_socket "$sock"
}

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { [ -n "${1:-}" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

stop_last() {
    local pid="${pids[-1]}"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'pids[-1]'
}

results="$work/results.tsv"
: > "$results"
server_pid=""
run_fio() { # label, uri
    local label="$1" uri="$2"
    for rw in randwrite randread; do
        for qd in 1 32; do
            local out="$work/fio.json"
            local before
            before=$(cpu_ticks "$server_pid")
            fio --name=bench --ioengine=nbd --uri="$uri" --rw="$rw" --bs=4k --size="$bytes" \
                --iodepth="$qd" --numjobs=1 --time_based --runtime="$runtime" --ramp_time=1 \
                --group_reporting --output-format=json --output="$out" >/dev/null 2>"$work/fio.err" \
                || { echo "fio failed for $label $rw qd$qd:" >&2; cat "$work/fio.err" >&2; }
            local ticks=-1
            [ -n "$server_pid" ] && ticks=$(( $(cpu_ticks "$server_pid") - before ))
            /usr/bin/python3 - "$out" "$label" "$rw" "$qd" "$ticks" "$(getconf CLK_TCK)" "$runtime" >> "$results" <<'PY'
import json, sys
path, label, rw, qd, ticks, hz, runtime = sys.argv[1:]
try:
    job = json.load(open(path))["jobs"][0]
    side = job["write" if rw.endswith("write") else "read"]
    clat = side["clat_ns"]
    p99 = clat.get("percentile", {}).get("99.000000", 0)
    ops = side["total_ios"] * (int(runtime) + 1) / int(runtime)   # the CPU time includes the 1 s ramp-up; fio's counts do not
    cpu = f"{int(ticks) / int(hz) * 1e6 / ops:.1f}" if int(ticks) >= 0 and ops else "-"
    print(f"{label}\t{rw}\t{qd}\t{side['iops']:.0f}\t{clat['mean']/1000:.1f}\t{p99/1000:.1f}\t{cpu}")
except Exception as e:
    print(f"{label}\t{rw}\t{qd}\t0\t0\t0\t-")
PY
        done
    done
}

# 1. PCache export
if [ -z "$pcache_uri" ]; then
    host_dir="$repo/tests/PCache.NbdHost"
    dotnet build -c Release "$host_dir" -o "$work/host" >/dev/null
    sock="$work/pcache.sock"
    cache_bytes=$(( 2 * bytes ))
    dotnet "$work/host/PCache.NbdHost.dll" --socket "$sock" --export "pcache0=$backing" \
        --pmem "$work/pmem:$(( cache_bytes + (64 << 20) ))" --cache-size "$cache_bytes" > "$work/host.log" &
    pids+=($!)
    server_pid=$!
    wait_socket "$sock" pcache0
    pcache_uri="nbd+unix:///pcache0?socket=$sock"
    nbdcopy "$pcache_uri" null:   # warm: every block becomes a clean key in pmem
    run_fio "pcache (engine, pmem in /dev/shm, warm)" "$pcache_uri"
    stop_last
else
    server_pid=""
    run_fio "pcache ($pcache_uri)" "$pcache_uri"
fi

# 2. nbdkit memory, pre-loaded with the same data so reads move real bytes
sock="$work/memory.sock"
start_nbdkit "$sock" memory "$bytes"
nbdcopy "$backing" "nbd+unix:///?socket=$sock"
run_fio "nbdkit memory" "nbd+unix:///?socket=$sock"
stop_last

# 3. nbdkit file with the writeback cache filter
sock="$work/cache.sock"
start_nbdkit "$sock" --filter=cache file "$backing" cache=writeback
run_fio "nbdkit file + cache filter" "nbd+unix:///?socket=$sock"
stop_last

# 4. nbdkit file
sock="$work/file.sock"
start_nbdkit "$sock" file "$backing"
run_fio "nbdkit file" "nbd+unix:///?socket=$sock"
stop_last

/usr/bin/python3 - "$results" "$runtime" <<'PY'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
ceiling = {(r[1], r[2]): float(r[3]) for r in rows if r[0] == "nbdkit memory"}
print(f"fio ioengine=nbd, Unix socket, bs=4k, numjobs=1, {sys.argv[2]} s per run")
header = f"| {'server':<40} | {'workload':<14} | {'IOPS':>9} | {'mean µs':>8} | {'p99 µs':>8} | {'vs memory':>9} | {'server CPU µs/op':>16} |"
print(header)
print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
for label, rw, qd, iops, mean, p99, cpu in rows:
    base = ceiling.get((rw, qd), 0)
    ratio = f"{float(iops) / base:.2f}x" if base else "-"
    print(f"| {label:<40} | {rw + ' qd' + qd:<14} | {float(iops):>9.0f} | {float(mean):>8.1f} | {float(p99):>8.1f} | {ratio:>9} | {cpu:>16} |")
PY
