using System.Diagnostics;
using PCache.Engine.Cache;
using PCache.Engine.Platform;
using PCache.Engine.Pmem;
using PCache.TestSupport;

namespace PCache.Bench;

/// <summary>
/// A non-DAX cache device: a file under /var/tmp on this machine's disk. The engine's batched
/// persistence against the msync-per-store path it replaced (one 4 KiB copy and its own msync:
/// the peer), and the syncs each costs. Figures are printed, never asserted.
/// </summary>
internal static class DiskBench
{
    private const int Block = 4096;
    private const long PmemBytes = 1L << 30;
    private const long BackingBytes = 256L << 20;

    public static void Run(bool quick)
    {
        int ops = quick ? 4_000 : 20_000;
        int peerOps = quick ? 500 : 2_000;
        string path = $"/var/tmp/pcache-bench-{Environment.ProcessId}.pmem";
        try
        {
            using var pmem = MappedPmem.Open(path, PmemBytes);
            Console.WriteLine();
            Console.WriteLine($"non-DAX cache device: {path} ({pmem.PersistMode}), 4 KiB writes, 1 thread");
            Console.WriteLine("| operation | ops | ops/s | median µs | p99 µs | syncs per 1000 writes |");
            Console.WriteLine("|---|---|---|---|---|---|");
            Print("peer: store + msync per store", peerOps, Peer(pmem, peerOps), peerOps);
            foreach (int flushEvery in new[] { 0, 32 })
            {
                var (r, syncs) = Writes(pmem, ops, flushEvery);
                Print(flushEvery == 0 ? "cache write, no FLUSH" : $"cache write, FLUSH every {flushEvery}", ops, r, syncs);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void Print(string name, int ops, (double Iops, double Median, double P99) r, long syncs) =>
        Console.WriteLine($"| {name} | {ops:N0} | {r.Iops:N0} | {r.Median:F1} | {r.P99:F1} | {syncs * 1000.0 / ops:F1} |");

    private static unsafe (double, double, double) Peer(MappedPmem pmem, int ops)
    {
        var buf = new byte[Block];
        new Random(1).NextBytes(buf);
        var lat = new Latency(ops);
        var rng = new Random(2);
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < ops; i++)
        {
            long off = (PmemBytes / 2) + (long)rng.Next((int)(PmemBytes / 2 / Block)) * Block;
            long s = Stopwatch.GetTimestamp();
            pmem.Store(off, buf); // into the file's page cache, as the cache's own stores go
            if (Libc.msync((IntPtr)(pmem.Base + off), Block, Libc.MS_SYNC) != 0) throw new IOException($"msync: {Libc.LastError()}");
            lat.Add(Stopwatch.GetTimestamp() - s);
        }
        double secs = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return (ops / secs, lat.PercentileMicros(50), lat.PercentileMicros(99));
    }

    private static ((double, double, double), long) Writes(MappedPmem pmem, int ops, int flushEvery)
    {
        var dev = CacheDevice.Format(pmem);
        try
        {
            var cache = dev.Create(new BackingOptions { Path = "null", CacheSize = PmemBytes / 2, GcPercent = 70 }, new NullBackingDevice(BackingBytes));
            var buf = new byte[Block];
            new Random(3).NextBytes(buf);
            var rng = new Random(4);
            var lat = new Latency(ops);
            long syncs0 = pmem.Syncs;
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < ops; i++)
            {
                long off = (long)rng.Next((int)(BackingBytes / Block)) * Block;
                long s = Stopwatch.GetTimestamp();
                cache.Write(off, buf);
                if (flushEvery > 0 && i % flushEvery == flushEvery - 1) cache.Flush();
                lat.Add(Stopwatch.GetTimestamp() - s);
            }
            cache.Flush();
            double secs = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            return ((ops / secs, lat.PercentileMicros(50), lat.PercentileMicros(99)), pmem.Syncs - syncs0);
        }
        finally
        {
            dev.Dispose();
        }
    }
}
