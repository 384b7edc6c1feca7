using System.Diagnostics;
using PCache.Engine.Backing.Nbd;

namespace PCache.Daemon.Demo;

/// <summary>
/// The demo's own short workload: 4 KiB random writes then reads of the same blocks, one at a
/// time, through an NBD client (the engine's), timed per request. Run once against the slow disk
/// and once against PCache's export of it, it shows what the cache is for. Medians, after a few
/// untimed requests, so one slow start-up request does not stand for the rest.
/// </summary>
internal static class LatencyProbe
{
    private const int WarmUp = 10;

    public readonly record struct Result(double WriteMicros, double ReadMicros, double FlushMicros);

    /// <summary>Random 4 KiB blocks inside [start, start+span): median latency of writes, reads and flushes (one per 20 writes).</summary>
    public static Result Run(string uri, long start, long span, int requests)
    {
        using var client = NbdBackingDevice.Open(uri);
        var rng = new Random(42);
        var offsets = new long[requests];
        for (int i = 0; i < requests; i++) offsets[i] = start + rng.NextInt64(span / 4096) * 4096;
        var block = new byte[4096];
        rng.NextBytes(block);
        for (int i = 0; i < WarmUp; i++)
        {
            client.Write(offsets[i], block);
            client.Read(offsets[i], block);
        }
        var writes = new long[requests];
        var reads = new long[requests];
        var flushes = new long[requests / 20];
        for (int i = 0; i < requests; i++)
        {
            long t = Stopwatch.GetTimestamp();
            client.Write(offsets[i], block);
            writes[i] = Stopwatch.GetTimestamp() - t;
            if (i % 20 == 19)
            {
                t = Stopwatch.GetTimestamp();
                client.Flush();
                flushes[i / 20] = Stopwatch.GetTimestamp() - t;
            }
        }
        for (int i = 0; i < requests; i++)
        {
            long t = Stopwatch.GetTimestamp();
            client.Read(offsets[i], block);
            reads[i] = Stopwatch.GetTimestamp() - t;
        }
        return new Result(Median(writes), Median(reads), Median(flushes));
    }

    private static double Median(long[] ticks)
    {
        if (ticks.Length == 0) return 0;
        Array.Sort(ticks);
        return ticks[ticks.Length / 2] * 1e6 / Stopwatch.Frequency;
    }
}
