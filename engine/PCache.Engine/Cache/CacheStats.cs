namespace PCache.Engine.Cache;

/// <summary>The counters a storage admin reads; names are stable (they appear in JSON).</summary>
public enum Counter
{
    ReadRequests, ReadBytes, ReadHits, ReadMisses, ReadPartialHits, ReadHitBytes, ReadMissBytes,
    WriteRequests, WriteBytes, FuaWrites, Flushes,
    DiscardRequests, DiscardBytes, ZeroRequests, ZeroBytes, PrefetchRequests, PrefetchBytes,
    MissFillBytes, MissFillSkipped, DirtyBytesAdded,
    WritebackKsets, WritebackKeys, WritebackBytes, WritebackErrors,
    GcKsets, GcSegmentsFreed, StaleKeysPurged, WriterWaits, BackingReadErrors,
    // Write-back pacing: why each kset was written back, and how long write-back held back.
    WritebackIdleKsets, WritebackAgeKsets, WritebackWatermarkKsets, WritebackUrgentKsets, WritebackBusyWaitMs, WritebackRateLimitedMs,
    // Admission: what bypassed the cache, and why.
    BypassSequentialReadBytes, BypassSequentialWriteBytes, BypassAdmissionReadBytes, BypassModeReadBytes, BypassModeWriteBytes,
}

/// <summary>
/// Always-on counters striped per CPU so two writers never share a cache line; a snapshot sums
/// the stripes.
/// </summary>
public sealed class CacheStats
{
    private static readonly int CounterCount = Enum.GetValues<Counter>().Length;
    private static readonly int Stride = (CounterCount + 8 + 7) & ~7; // whole lines, plus one line of padding
    private readonly long[] _cells;
    private readonly int _mask;

    public CacheStats()
    {
        int stripes = 1;
        while (stripes < Environment.ProcessorCount) stripes <<= 1;
        _mask = stripes - 1;
        _cells = new long[stripes * Stride];
    }

    public void Add(Counter c, long value) =>
        Interlocked.Add(ref _cells[(Thread.GetCurrentProcessorId() & _mask) * Stride + (int)c], value);

    public void Increment(Counter c) => Add(c, 1);

    public long this[Counter c]
    {
        get
        {
            long sum = 0;
            for (int s = 0; s <= _mask; s++) sum += Volatile.Read(ref _cells[s * Stride + (int)c]);
            return sum;
        }
    }

    public Dictionary<string, long> Snapshot()
    {
        var d = new Dictionary<string, long>(CounterCount);
        foreach (var c in Enum.GetValues<Counter>())
            if (c != Counter.DirtyBytesAdded) d[ToSnake(c.ToString())] = this[c];
        return d;
    }

    /// <summary>Zero the counters (not the dirty-byte bookkeeping, which is state, not a statistic).</summary>
    public void Reset()
    {
        for (int i = 0; i < _cells.Length; i++)
            if (i % Stride != (int)Counter.DirtyBytesAdded) Interlocked.Exchange(ref _cells[i], 0);
    }

    internal static string ToSnake(string name)
    {
        var sb = new System.Text.StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }
}
