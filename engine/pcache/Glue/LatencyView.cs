using PCache.Client;
using PCache.Engine.Cache;

namespace PCache.Daemon.Glue;

/// <summary>A backing's latency histograms as stat shows them: count and p50/p99/p99.9 per operation.</summary>
internal static class LatencyView
{
    public static Dictionary<string, LatencySummary> Summaries(RequestLatencies latencies)
    {
        var snapshots = latencies.Snapshot();
        var result = new Dictionary<string, LatencySummary>(snapshots.Length);
        for (int i = 0; i < snapshots.Length; i++)
        {
            var s = snapshots[i];
            result[RequestLatencies.OpNames[i]] = new LatencySummary
            {
                Count = s.Count,
                P50Microseconds = Micro(s.PercentileNanoseconds(0.50)),
                P99Microseconds = Micro(s.PercentileNanoseconds(0.99)),
                P999Microseconds = Micro(s.PercentileNanoseconds(0.999)),
            };
        }
        return result;
    }

    private static double Micro(long nanoseconds) => Math.Round(nanoseconds / 1000.0, 3);
}
