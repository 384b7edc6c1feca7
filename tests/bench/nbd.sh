#!/usr/bin/env bash
# NBD benchmark of the shipped daemon, started as users start it: `pcache daemon`, `pcache cache-start`,
# `pcache backing-start`, then fio (ioengine=nbd, Unix socket, 4 KiB, numjobs 1) against its export URI.
#
#   memory rows: cache device a file in /dev/shm (emulated pmem), backing in /dev/shm, cache warm,
#                against nbdkit memory (the transport's ceiling): randwrite/randread at QD1 and QD32.
#   disk rows:   cache device a file under /var/tmp (non-DAX: batched persistence) and the backing on
#                /var/tmp, against nbdkit file on a copy of the backing on the same disk: randwrite QD1,
#                QD32, QD32 with a FLUSH every 32 writes (--fsync=32), randread QD32.
#   The memory rows use a cache that absorbs a whole run below the write-back watermark (write-back
#   catches up between runs, before each one starts), and end with a "cache full" row: random writes
#   into a cache only twice the device, so write-back runs throughout and bounds the rate (no target:
#   the reference has no write-back). The disk cache is twice the device (see there).
#
# Every row runs twice (daemon, reference, daemon, reference) and both figures are printed, so the noise
# shows; the ratio is daemon ÷ reference per run. For the daemon it also prints the managed bytes
# allocated and garbage collections per million requests (the daemon reports both in `pcache version`;
# what a connection and the asking cost is measured with a short run of the same job and subtracted)
# and the server CPU time per request.
# Targets are printed beside the ratios, never asserted.
#
# usage: tests/bench/nbd.sh [--quick] [--runtime SECONDS] [--size SIZE] [--only memory|disk]
set -euo pipefail

runtime=6
size=512M
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) runtime=3; size=256M ;;
        --runtime) runtime="$2"; shift ;;
        --size) size="$2"; shift ;;
        --only) only="$2"; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "nbd.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
case "$only" in ""|memory|disk) ;; *) echo "nbd.sh: --only takes memory or disk" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/../.." && pwd)
pcache="${PCACHE_BIN:-$repo/out/PCache/bin/pcache}"
[ -x "$pcache" ] || { echo "nbd.sh: the native daemon $pcache is missing (run ./build.sh build)" >&2; exit 2; }
for tool in fio nbdkit nbdcopy nbdinfo /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "nbd.sh: $tool is not installed" >&2; exit 2; }
done

shm=$(mktemp -d /dev/shm/pcache-nbd-bench.XXXXXX)
disk=$(mktemp -d /var/tmp/pcache-nbd-bench.XXXXXX)
pids=()
ctl="$shm/control.sock"
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$shm" "$disk"
}
trap cleanup EXIT

pc() { "$pcache" "$@" --socket "$ctl"; }

wait_uri() { # uri
    for _ in $(seq 1 200); do
        nbdinfo --size "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "nbd.sh: nothing serves $1" >&2
    exit 1
}

start_nbdkit() { # socket, nbdkit args...; sets nbdkit_pid
    local sock="$1"; shift
    TMPDIR="$shm" nbdkit --foreground -U "$sock" "$@" >"$shm/nbdkit.log" 2>&1 &
    nbdkit_pid=$!
    pids+=("$nbdkit_pid")
    wait_uri "nbd+unix:///?socket=$sock"
}

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The daemon's managed allocation and GC counters, as "bytes gcs".
gc_counters() {
    pc version | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["daemon"]; print(d["allocated_bytes"], d["gc_collections"])'
}

short_ios=256
results="$shm/results.tsv"
: > "$results"

# One fio job; appends a result line: section, row, server, run, IOPS, mean µs, p99 µs, CPU µs/op, alloc B/Mreq, GCs/Mreq.
run_fio() { # section, row label, server, run, uri, pid, rw, qd, extra fio args...
    local section="$1" row="$2" server="$3" run="$4" uri="$5" pid="$6" rw="$7" qd="$8"
    shift 8
    local out="$shm/fio.json" ticks0 gc0="" ping=""
    if [ "$server" = pcache ]; then
        # A connection allocates (handshake, buffers, threads) and so does asking for the counters: a
        # short run of the same job measures both, and the table shows what the long run allocated beyond it.
        local a b
        a=$(gc_counters)
        fio --name=short --ioengine=nbd --uri="$uri" --rw="$rw" --bs=4k --size="$bytes" --iodepth="$qd" \
            --numjobs=1 --number_ios="$short_ios" --norandommap "$@" >/dev/null 2>&1 || true
        b=$(gc_counters)
        ping=$(( ${b% *} - ${a% *} ))
        gc0=$(gc_counters)
    fi
    ticks0=$(cpu_ticks "$pid")
    fio --name=bench --ioengine=nbd --uri="$uri" --rw="$rw" --bs=4k --size="$bytes" \
        --iodepth="$qd" --numjobs=1 --time_based --runtime="$runtime" --ramp_time=1 \
        --group_reporting --output-format=json --output="$out" "$@" >/dev/null 2>"$shm/fio.err" \
        || { echo "fio failed for $server $row:" >&2; cat "$shm/fio.err" >&2; }
    local ticks=$(( $(cpu_ticks "$pid") - ticks0 )) gc1=""
    [ "$server" = pcache ] && gc1=$(gc_counters)
    /usr/bin/python3 - "$out" "$section" "$row" "$server" "$run" "$rw" "$ticks" "$(getconf CLK_TCK)" "$runtime" \
        "$gc0" "$gc1" "$ping" "$short_ios" >> "$results" <<'PY'
import json, sys
path, section, row, server, run, rw, ticks, hz, runtime, gc0, gc1, ping, short = sys.argv[1:]
short = int(short)
try:
    job = json.load(open(path))["jobs"][0]
    side = job["write" if rw.endswith("write") else "read"]
    clat = side["clat_ns"]
    p99 = clat.get("percentile", {}).get("99.000000", 0)
    # fio's counts leave out the 1 s ramp-up; the server's CPU time and allocations include it.
    ops = side["total_ios"] * (int(runtime) + 1) / int(runtime)
    if rw.endswith("write"):
        ops += job.get("sync", {}).get("total_ios", 0)
    cpu = f"{int(ticks) / int(hz) * 1e6 / ops:.1f}" if ops else "-"
    alloc = gcs = "-"
    if gc0 and gc1 and ops:
        b0, g0 = map(int, gc0.split()); b1, g1 = map(int, gc1.split())
        alloc = f"{max(0, b1 - b0 - int(ping)) * 1e6 / ops:.0f}"
        gcs = f"{(g1 - g0) * 1e6 / ops:.1f}"
    print(f"{section}\t{row}\t{server}\t{run}\t{side['iops']:.0f}\t{clat['mean']/1000:.1f}\t{p99/1000:.1f}\t{cpu}\t{alloc}\t{gcs}")
except Exception as e:
    print(f"{section}\t{row}\t{server}\t{run}\t0\t0\t0\t-\t-\t-")
PY
}

# Waits (up to a minute) until write-back has copied every dirty byte to the backing: what the write
# rows leave behind is written back once the export is idle, and that must not run during the next
# measurement, whichever server it measures.
settle() {
    for _ in $(seq 1 600); do
        local dirty
        dirty=$(pc stat | /usr/bin/python3 -c 'import json,sys; print(sum(b.get("dirty_bytes", 0) for b in json.load(sys.stdin)["backings"]))')
        [ "$dirty" = 0 ] && return 0
        sleep 0.1
    done
    echo "nbd.sh: write-back did not finish within a minute ($dirty dirty bytes left); measuring anyway" >&2
}

# Cycles a cache's log once through all of its space, then lets write-back catch up. On real pmem (and
# on most machines) a page of the mapping costs nothing the first time it is written; in this
# benchmark's VMs (shadow page tables) the first user-mode touch of each 4 KiB page costs 10-20 µs,
# more than the write itself, and a log-structured cache meets fresh pages until it has gone round
# once. A cache in service has gone round long ago, so the rows measure one that has.
precycle() { # export uri, source file, passes
    for _ in $(seq 1 "$3"); do nbdcopy "$2" "$1"; done
    settle
}

# Both runs of one row, interleaved so a change in the machine's load hits both servers alike.
row() { # section, label, pcache uri, reference name, reference uri, reference pid, rw, qd, extra...
    local section="$1" label="$2" puri="$3" ref="$4" ruri="$5" rpid="$6"
    shift 6
    for run in 1 2; do
        settle
        run_fio "$section" "$label" pcache "$run" "$puri" "$daemon_pid" "$@"
        settle
        run_fio "$section" "$label" "$ref" "$run" "$ruri" "$rpid" "$@"
    done
}

# The daemon, as a user starts it (the sockets live in the scratch directory instead of /run/pcache).
"$pcache" daemon --socket "$ctl" --nbd-socket "$shm/nbd.sock" > "$shm/daemon.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")
for _ in $(seq 1 200); do pc version >/dev/null 2>&1 && break; sleep 0.1; done
pc version >/dev/null || { cat "$shm/daemon.log" >&2; exit 1; }

export_uri() { # backing path
    pc backing-list | /usr/bin/python3 -c 'import json,sys
for b in json.load(sys.stdin):
    if b["backing_path"] == sys.argv[1]: print(b["logic_dev"])' "$1"
}

size_bytes=$(/usr/bin/python3 -c 'import sys; s=sys.argv[1]; m={"K":1<<10,"M":1<<20,"G":1<<30}; print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))' "$size")
bytes=$size_bytes
# The rows measure what a write-back cache is for: a burst the cache absorbs. Twelve times the device
# holds a whole run's writes (superseded ones included: the log keeps them until written back) below
# the write-back watermark, so write-back waits while the export is busy and catches up between rows
# (settle). The "cache full" rows measure the other regime: a cache twice the device, overrun within
# the first seconds of a run, where every write waits for write-back to free room.
cache_bytes=$(( 12 * bytes ))
full_bytes=$(( 2 * bytes ))
pmem_bytes=$(( cache_bytes + full_bytes + (256 << 20) ))

if [ "$only" != disk ]; then
    echo "memory rows: preparing $size of random data in /dev/shm" >&2
    head -c "$bytes" /dev/urandom > "$shm/backing.img"
    cp "$shm/backing.img" "$shm/full.img"
    pc cache-start --path "$shm/pmem" --size "$pmem_bytes" --format --force >/dev/null
    pc backing-start --path "$shm/backing.img" --cache-size "$cache_bytes" --cache-id 0 >/dev/null
    pc backing-start --path "$shm/full.img" --cache-size "$full_bytes" --cache-id 0 >/dev/null
    puri=$(export_uri "$shm/backing.img")
    pfull=$(export_uri "$shm/full.img")
    wait_uri "$puri"
    echo "memory rows: the cache goes round its space once" >&2
    precycle "$puri" "$shm/backing.img" $(( cache_bytes / bytes + 1 ))
    precycle "$pfull" "$shm/full.img" $(( full_bytes / bytes + 1 ))
    nbdcopy "$puri" null:   # warm: every block is in the cache
    nbdcopy "$pfull" null:
    start_nbdkit "$shm/memory.sock" memory "$bytes"
    mem_pid=$nbdkit_pid
    muri="nbd+unix:///?socket=$shm/memory.sock"
    nbdcopy "$shm/backing.img" "$muri"   # the same data, so reads move real bytes
    row memory "randwrite QD1" "$puri" "nbdkit memory" "$muri" "$mem_pid" randwrite 1
    row memory "randwrite QD32" "$puri" "nbdkit memory" "$muri" "$mem_pid" randwrite 32
    row memory "randread QD1" "$puri" "nbdkit memory" "$muri" "$mem_pid" randread 1
    row memory "randread QD32" "$puri" "nbdkit memory" "$muri" "$mem_pid" randread 32
    row memory "randwrite QD32, cache full" "$pfull" "nbdkit memory" "$muri" "$mem_pid" randwrite 32
    kill "$mem_pid"
fi

if [ "$only" != memory ]; then
    echo "disk rows: preparing $size of random data twice in $disk" >&2
    head -c "$bytes" /dev/urandom > "$disk/backing.img"
    cp "$disk/backing.img" "$disk/reference.img"
    sync
    # On disk the cache is twice the device: a larger cache file outgrows what the page cache keeps of
    # it here, and its mapping then waits for reads from the disk. A run (at disk rates) stays below
    # the write-back watermark all the same, and the log is not cycled first: a file mapping's pages
    # are write-protected again at every sync, so they fault anew whatever went before.
    pc cache-start --path "$disk/cache" --size "$(( full_bytes + (256 << 20) ))" --format --force >/dev/null
    cid=$(pc cache-list | /usr/bin/python3 -c 'import json,sys
for c in json.load(sys.stdin):
    if c["path"] == sys.argv[1]: print(c["cache_id"])' "$disk/cache")
    pc backing-start --path "$disk/backing.img" --cache-size "$full_bytes" --cache-id "$cid" >/dev/null
    duri=$(export_uri "$disk/backing.img")
    wait_uri "$duri"
    nbdcopy "$duri" null:
    start_nbdkit "$shm/file.sock" file "$disk/reference.img"
    file_pid=$nbdkit_pid
    furi="nbd+unix:///?socket=$shm/file.sock"
    nbdcopy "$furi" null:
    row disk "randwrite QD1" "$duri" "nbdkit file" "$furi" "$file_pid" randwrite 1
    row disk "randwrite QD32" "$duri" "nbdkit file" "$furi" "$file_pid" randwrite 32
    row disk "randwrite QD32 fsync=32" "$duri" "nbdkit file" "$furi" "$file_pid" randwrite 32 --fsync=32
    row disk "randread QD32" "$duri" "nbdkit file" "$furi" "$file_pid" randread 32
    kill "$file_pid"
fi

/usr/bin/python3 - "$results" "$runtime" "$size" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
targets = {("memory", "randwrite QD1"): 0.9, ("memory", "randwrite QD32"): 1.1,
           ("memory", "randread QD1"): 1.0, ("memory", "randread QD32"): 1.3}
by = {}
order = []
for section, row, server, run, iops, mean, p99, cpu, alloc, gcs in rows:
    key = (section, row)
    if key not in by:
        by[key] = {}
        order.append(key)
    by[key][(server == "pcache", int(run))] = (server, float(iops), float(mean), float(p99), cpu, alloc, gcs)
print(f"fio ioengine=nbd, Unix socket, bs=4k, numjobs=1, {sys.argv[2]} s per run, {sys.argv[3]} device; runs 1 and 2 of each row")
for section, title in (("memory", "cache in /dev/shm (emulated pmem), warm, vs nbdkit memory"),
                       ("disk", "cache file and backing on /var/tmp (non-DAX), vs nbdkit file on the same disk")):
    keys = [k for k in order if k[0] == section]
    if not keys:
        continue
    print()
    print(f"{section}: {title}")
    head = ["workload", "pcache IOPS", "reference IOPS", "ratio", "target", "pcache mean µs", "ref mean µs",
            "pcache p99 µs", "pcache CPU µs/op", "ref CPU µs/op", "alloc B/Mreq", "GCs/Mreq"]
    table = [head]
    for key in keys:
        r = by[key]
        def both(i, mine=True, fmt="{:.0f}"):
            vals = []
            for run in (1, 2):
                v = r.get((mine, run))
                vals.append("-" if v is None else (fmt.format(v[i]) if isinstance(v[i], float) else v[i]))
            return " / ".join(vals)
        ratios = []
        for run in (1, 2):
            p, q = r.get((True, run)), r.get((False, run))
            ratios.append(f"{p[1] / q[1]:.2f}×" if p and q and q[1] else "-")
        target = targets.get(key, 1.0)
        goal = "(none)" if "cache full" in key[1] else f"≥ {target:.1f}×"
        table.append([key[1], both(1), both(1, False), " / ".join(ratios), goal,
                      both(2, fmt="{:.1f}"), both(2, False, "{:.1f}"), both(3, fmt="{:.1f}"),
                      both(4), both(4, False), both(5), both(6)])
    w = [max(len(t[c]) for t in table) for c in range(len(head))]
    for i, t in enumerate(table):
        print("| " + " | ".join(c.ljust(w[j]) for j, c in enumerate(t)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (x + 2) for x in w) + "|")
PY
