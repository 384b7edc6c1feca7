namespace PCache.Core;

/// <summary>
/// Turns successive <see cref="Stat"/> snapshots into per-interval <see cref="StatSample"/>s. The
/// counters are cumulative; a counter smaller than before was reset (Clear-PCacheStat) during the
/// interval, and then what it holds now is what accumulated since.
/// </summary>
public sealed class StatSampler
{
    private readonly Dictionary<int, (Stat Stat, double At)> _previous = [];

    /// <summary>
    /// Samples for every backing seen in the previous call too; the first call (and a backing's
    /// first appearance) only sets the baseline. <paramref name="monotonicSeconds"/> comes from a
    /// monotonic clock, so a wall-clock jump never distorts a rate.
    /// </summary>
    public IReadOnlyList<StatSample> Next(IEnumerable<Stat> current, double monotonicSeconds)
    {
        var samples = new List<StatSample>();
        var seen = new HashSet<int>();
        foreach (var now in current)
        {
            seen.Add(now.BackingId);
            if (_previous.TryGetValue(now.BackingId, out var before) && monotonicSeconds > before.At)
                samples.Add(Rates(before.Stat, now, monotonicSeconds - before.At));
            _previous[now.BackingId] = (now, monotonicSeconds);
        }
        foreach (int gone in _previous.Keys.Where(id => !seen.Contains(id)).ToList()) _previous.Remove(gone);
        return samples;
    }

    public static StatSample Rates(Stat before, Stat now, double seconds)
    {
        double Rate(Func<Stat, long> counter) => Delta(counter(before), counter(now)) / seconds;
        long hit = Delta(before.ReadHitBytes, now.ReadHitBytes), miss = Delta(before.ReadMissBytes, now.ReadMissBytes);
        return new StatSample
        {
            Timestamp = now.Timestamp,
            IntervalSeconds = seconds,
            BackingId = now.BackingId,
            CacheId = now.CacheId,
            Path = now.Path,
            State = now.State,
            DirtyBytes = now.DirtyBytes,
            CacheUsedRatio = now.CacheUsedRatio,
            ReadHitRatio = hit + miss == 0 ? 0 : (double)hit / (hit + miss),
            ReadRequestsPerSecond = Rate(s => s.ReadRequests),
            WriteRequestsPerSecond = Rate(s => s.WriteRequests),
            ReadBytesPerSecond = Rate(s => s.ReadBytes),
            WriteBytesPerSecond = Rate(s => s.WriteBytes),
            FlushesPerSecond = Rate(s => s.Flushes),
            DiscardBytesPerSecond = Rate(s => s.DiscardBytes),
            WritebackBytesPerSecond = Rate(s => s.WritebackBytes),
            MissFillBytesPerSecond = Rate(s => s.MissFillBytes),
            SocketPath = now.SocketPath,
        };
    }

    public static long Delta(long before, long now) => now >= before ? now - before : now;
}
