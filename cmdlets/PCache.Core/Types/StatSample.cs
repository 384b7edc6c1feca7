namespace PCache;

/// <summary>
/// One interval of Get-PCacheStat -Continuous for one backing: rates over the interval plus the
/// gauges at its end. Flat and numeric, one row per backing per interval for Export-Csv.
/// </summary>
public sealed class StatSample
{
    /// <summary>End of the interval, UTC.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Measured length of the interval (the requested interval plus the time to ask).</summary>
    public double IntervalSeconds { get; init; }

    public int BackingId { get; init; }

    public int CacheId { get; init; }

    public string Path { get; init; } = "";

    public string State { get; init; } = "";

    public long DirtyBytes { get; init; }

    public double CacheUsedRatio { get; init; }

    /// <summary>Read bytes served from the cache ÷ read bytes during the interval; 0 without reads.</summary>
    public double ReadHitRatio { get; init; }

    public double ReadRequestsPerSecond { get; init; }

    public double WriteRequestsPerSecond { get; init; }

    public double ReadBytesPerSecond { get; init; }

    public double WriteBytesPerSecond { get; init; }

    public double FlushesPerSecond { get; init; }

    public double DiscardBytesPerSecond { get; init; }

    /// <summary>Bytes copied from the cache to the backing device per second.</summary>
    public double WritebackBytesPerSecond { get; init; }

    /// <summary>Bytes read from the backing device to fill the cache after a miss, per second.</summary>
    public double MissFillBytesPerSecond { get; init; }

    public string SocketPath { get; init; } = "";

    public override string ToString() => $"backing {BackingId} sample at {Timestamp:O}";
}
