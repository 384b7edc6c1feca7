using PCache.Client;
using PCache.Engine.Cache;

namespace PCache.Daemon.Glue;

/// <summary>
/// Every cache and backing at one moment, as the metrics endpoint exports them: taken under the
/// host's snapshot lock (so a backing cannot stop halfway through), rendered outside it.
/// </summary>
internal sealed class MetricsCensus
{
    public List<CacheFigures> Caches { get; } = [];

    public static MetricsCensus Take(IEnumerable<ManagedCache> caches, TimeSpan stuckAfter)
    {
        var census = new MetricsCensus();
        foreach (var cache in caches)
        {
            var sb = cache.Device.Superblock;
            var figures = new CacheFigures(cache.Id, cache.Path, sb.SegmentCount, cache.Device.FreeSegments, sb.SegmentSize, cache.Pmem.Length);
            foreach (var backing in cache.Backings.Values)
                figures.Backings.Add(new BackingFigures(Views.Statistics(backing, stuckAfter), backing.Latencies.Snapshot()));
            census.Caches.Add(figures);
        }
        return census;
    }
}

internal sealed record CacheFigures(int Id, string Path, long Segments, long FreeSegments, long SegmentSize, long Size)
{
    public List<BackingFigures> Backings { get; } = [];

    /// <summary>The cache's latency per operation: the sum of its backings' histograms.</summary>
    public LatencySnapshot[] Latencies()
    {
        var total = RequestLatencies.Ops.Select(_ => LatencySnapshot.Empty()).ToArray();
        foreach (var b in Backings)
            for (int i = 0; i < total.Length; i++) total[i].Add(b.Latencies[i]);
        return total;
    }
}

internal sealed record BackingFigures(BackingStatistics Stat, LatencySnapshot[] Latencies);
