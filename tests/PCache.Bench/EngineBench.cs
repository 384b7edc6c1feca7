using System.Diagnostics;
using PCache.Engine.Cache;
using PCache.Engine.Pmem;
using PCache.TestSupport;

namespace PCache.Bench;

/// <summary>
/// The engine's hot paths beside their physical floor, measured in the same run on the same
/// mapping: a 4 KiB write against a raw copy + persist into pmem, a read hit against a raw copy
/// out of it. pmem is a file in /dev/shm (emulated pmem: cache-bypassing stores and a fence).
/// </summary>
internal static class EngineBench
{
    private const int Block = 4096;
    private const long PmemBytes = 3L << 30;
    private const long BackingBytes = 1L << 30;

    public static int Run(bool quick, string only = "")
    {
        int ops = quick ? 40_000 : 200_000;
        string path = $"/dev/shm/pcache-bench-{Environment.ProcessId}.pmem";
        var rows = new List<string[]>();
        try
        {
            using var pmem = MappedPmem.Open(path, PmemBytes);
            Console.WriteLine($"engine benchmark: pmem {path} ({pmem.PersistMode}), {ops:N0} ops of 4 KiB per row, {Environment.ProcessorCount} CPUs");
            Prefault(pmem);

            if (only is "write" or "write2")
            {
                int threads = only == "write" ? 1 : 2;
                var w = Writes(pmem, ops * 20, threads, false); // long enough to profile
                Console.WriteLine($"write {threads} thread(s): median {w.MedianUs:F2} µs p99 {w.P99Us:F2} µs {w.Iops:N0}/s");
                return 0;
            }
            if (only == "disk")
            {
                DiskBench.Run(quick);
                return 0;
            }
            if (only == "replay")
            {
                Replay(pmem, quick ? 200_000 : 1_000_000);
                return 0;
            }
            var floorW1 = Floor(pmem, ops, 1, write: true);
            var floorW2 = Floor(pmem, ops, 2, write: true);
            var floorR1 = Floor(pmem, ops, 1, write: false);
            var floorR2 = Floor(pmem, ops, 2, write: false);

            foreach (bool crc in new[] { false, true })
            {
                var w1 = Writes(pmem, ops, 1, crc);
                var w2 = Writes(pmem, ops, 2, crc);
                string tag = crc ? "write, data CRC" : "write";
                rows.Add(Row($"{tag}, 1 thread", w1, floorW1, "median ≤ 2.5× floor"));
                rows.Add(Row($"{tag}, 2 threads", w2, floorW2, $"≥ 1.7× 1 thread: {w2.Iops / w1.Iops:F2}×"));
            }
            var r1 = Reads(pmem, ops, 1);
            var r2 = Reads(pmem, ops, 2);
            rows.Add(Row("read hit, 1 thread", r1, floorR1, "median ≤ 2× floor"));
            rows.Add(Row("read hit, 2 threads", r2, floorR2, $"≥ 1.7× 1 thread: {r2.Iops / r1.Iops:F2}×"));
            // The floors' own 2-thread scaling: what two cores of this machine give for pure copies.
            rows.Insert(0, Row("floor: copy+persist 4 KiB, 1 thread", floorW1, floorW1, ""));
            rows.Insert(1, Row("floor: copy+persist 4 KiB, 2 threads", floorW2, floorW2, $"machine: {floorW2.Iops / floorW1.Iops:F2}× 1 thread"));
            rows.Insert(2, Row("floor: copy 4 KiB out, 1 thread", floorR1, floorR1, ""));
            rows.Insert(3, Row("floor: copy 4 KiB out, 2 threads", floorR2, floorR2, $"machine: {floorR2.Iops / floorR1.Iops:F2}× 1 thread"));

            PrintTable(rows);
            Replay(pmem, quick ? 200_000 : 1_000_000);
            DiskBench.Run(quick);
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <param name="AllocatedPerOp">Managed bytes the whole process allocated per operation while the row ran (background workers included).</param>
    private sealed record Result(double MedianUs, double P99Us, double Iops, double AllocatedPerOp);

    private static string[] Row(string name, Result r, Result floor, string target) =>
    [
        name,
        $"{r.MedianUs:F2}", $"{r.P99Us:F2}", $"{r.Iops:N0}",
        $"{floor.MedianUs:F2}", $"{r.MedianUs / floor.MedianUs:F2}×", $"{r.AllocatedPerOp:F2}", target,
    ];

    private static void PrintTable(List<string[]> rows)
    {
        string[] head = ["operation", "median µs", "p99 µs", "ops/s", "floor median µs", "× floor", "alloc B/op", "target"];
        var all = rows.Prepend(head).ToList();
        int[] w = Enumerable.Range(0, head.Length).Select(c => all.Max(r => r[c].Length)).ToArray();
        foreach (var (r, i) in all.Select((r, i) => (r, i)))
        {
            Console.WriteLine("| " + string.Join(" | ", r.Select((c, j) => c.PadRight(w[j]))) + " |");
            if (i == 0) Console.WriteLine("|" + string.Join("|", w.Select(x => new string('-', x + 2))) + "|");
        }
    }

    /// <summary>Touch every page once so no row pays first-touch faults the others do not.</summary>
    private static unsafe void Prefault(PmemRegion pmem)
    {
        for (long p = 0; p < pmem.Length; p += 4096) pmem.Base[p] = 0;
    }

    private static unsafe Result Floor(PmemRegion pmem, int ops, int threads, bool write)
    {
        long area = 512L << 20;
        return RunThreads(ops, threads, (t, lat, rng) =>
        {
            var buf = new byte[Block];
            rng.NextBytes(buf);
            long baseOff = (2L << 30) + t * area; // beyond what the caches below use
            for (int i = 0; i < ops / threads; i++)
            {
                long off = baseOff + (long)rng.Next((int)(area / Block)) * Block;
                long t0 = Stopwatch.GetTimestamp();
                if (write)
                {
                    pmem.Store(off, buf);
                    pmem.Fence();
                }
                else
                {
                    new ReadOnlySpan<byte>(pmem.Base + off, Block).CopyTo(buf);
                }
                lat.Add(Stopwatch.GetTimestamp() - t0);
            }
        });
    }

    private static (CacheDevice dev, BackingCache cache) Fresh(PmemRegion pmem, bool crc, long backing = BackingBytes, int gc = 70)
    {
        var dev = CacheDevice.Format(pmem);
        var cache = dev.Create(new BackingOptions { Path = "null", CacheSize = 2L << 30, DataCrc = crc, GcPercent = gc }, new NullBackingDevice(backing));
        return (dev, cache);
    }

    private static Result Writes(PmemRegion pmem, int ops, int threads, bool crc)
    {
        var (dev, cache) = Fresh(pmem, crc);
        try
        {
            // Steady state of a warm cache: every block of the 1 GiB device already has a key.
            var fill = new byte[Block];
            for (long off = 0; off < BackingBytes; off += Block) cache.Write(off, fill);
            return RunThreads(ops, threads, (t, lat, rng) =>
            {
                var buf = new byte[Block];
                rng.NextBytes(buf);
                int slots = (int)(BackingBytes / Block);
                for (int i = 0; i < ops / threads; i++)
                {
                    long off = (long)rng.Next(slots) * Block;
                    long t0 = Stopwatch.GetTimestamp();
                    cache.Write(off, buf);
                    lat.Add(Stopwatch.GetTimestamp() - t0);
                }
            });
        }
        finally
        {
            dev.Dispose();
        }
    }

    private static Result Reads(PmemRegion pmem, int ops, int threads)
    {
        var (dev, cache) = Fresh(pmem, false);
        try
        {
            var buf = new byte[Block];
            int slots = (256 << 20) / Block;
            for (int i = 0; i < slots; i++) cache.Write((long)i * Block, buf);
            return RunThreads(ops, threads, (t, lat, rng) =>
            {
                var dst = new byte[Block];
                for (int i = 0; i < ops / threads; i++)
                {
                    long off = (long)rng.Next(slots) * Block;
                    long t0 = Stopwatch.GetTimestamp();
                    cache.Read(off, dst);
                    lat.Add(Stopwatch.GetTimestamp() - t0);
                }
            });
        }
        finally
        {
            dev.Dispose();
        }
    }

    private static Result RunThreads(int ops, int threads, Action<int, Latency, Random> body)
    {
        // Warm the code paths (tiered JIT) before timing.
        body(0, new Latency(ops / threads), new Random(99));
        var lats = Enumerable.Range(0, threads).Select(_ => new Latency(ops / threads)).ToArray();
        using var start = new Barrier(threads + 1);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var rng = new Random(t + 1);
            start.SignalAndWait();
            body(t, lats[t], rng);
        })).ToArray();
        foreach (var w in workers) w.Start();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        start.SignalAndWait();
        long t0 = Stopwatch.GetTimestamp();
        foreach (var w in workers) w.Join();
        double secs = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        var all = Latency.Merge(lats);
        int done = (ops / threads) * threads;
        return new Result(all.PercentileMicros(50), all.PercentileMicros(99), done / secs, (double)allocated / done);
    }

    private static void Replay(PmemRegion pmem, int keys)
    {
        long space = 64L << 30;
        var (dev, cache) = Fresh(pmem, false, space, gc: 90);
        var rng = new Random(7);
        var buf = new byte[512];
        // Distinct 512-byte slots in random order: every key survives in the index.
        long slots = space / 512;
        long stride = 1_000_003; // coprime with the slot count: a permutation without a table
        long x = rng.NextInt64(slots);
        for (int i = 0; i < keys; i++)
        {
            cache.Write(x * 512, buf);
            x = (x + stride) % slots;
        }
        cache.Flush();
        dev.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = GC.GetTotalMemory(true);
        var reopened = CacheDevice.Open(pmem);
        var again = reopened.Attach(0, new NullBackingDevice(space));
        var st = again.GetStatus();
        long after = GC.GetTotalMemory(true);
        GC.KeepAlive(again);
        Console.WriteLine();
        Console.WriteLine($"| replay | keys replayed | ksets | time | target |");
        Console.WriteLine($"|---|---|---|---|---|");
        Console.WriteLine($"| {keys:N0} keys of 512 B | {st.ReplayKeys:N0} | {st.ReplayKsets:N0} | {st.ReplayMilliseconds:F0} ms | ≤ 1000 ms for 1M |");
        Console.WriteLine();
        Console.WriteLine($"| index memory | keys | arena bytes/key | all DRAM bytes/key (GC heap delta) | target |");
        Console.WriteLine($"|---|---|---|---|---|");
        Console.WriteLine($"| after replay | {st.IndexKeys:N0} | {(double)st.IndexBytes / st.IndexKeys:F1} | {(double)(after - before) / st.IndexKeys:F1} | ≤ 48 |");
        reopened.Dispose();
    }
}
