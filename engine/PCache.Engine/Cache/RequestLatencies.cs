namespace PCache.Engine.Cache;

/// <summary>The operations whose latencies are kept; names are stable (they appear in JSON and in metrics).</summary>
public enum LatencyOp
{
    Read, Write, Flush, Trim, WriteZeroes,
}

/// <summary>One latency histogram per operation, for one backing.</summary>
public sealed class RequestLatencies
{
    public static readonly LatencyOp[] Ops = Enum.GetValues<LatencyOp>();

    /// <summary>The snake_case names of <see cref="Ops"/>, in the same order.</summary>
    public static readonly string[] OpNames = Ops.Select(o => CacheStats.ToSnake(o.ToString())).ToArray();

    private readonly LatencyHistogram[] _histograms = Ops.Select(_ => new LatencyHistogram()).ToArray();

    public LatencyHistogram this[LatencyOp op] => _histograms[(int)op];

    public void RecordTicks(LatencyOp op, long ticks) => _histograms[(int)op].RecordTicks(ticks);

    public LatencySnapshot[] Snapshot() => _histograms.Select(h => h.Snapshot()).ToArray();

    public void Reset()
    {
        foreach (var h in _histograms) h.Reset();
    }
}
