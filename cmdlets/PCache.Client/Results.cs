namespace PCache.Client;

// What the daemon answers. Sizes are bytes (long), ratios are 0..1 doubles, counters are longs:
// numbers a script or a PowerShell pipeline can sort, sum and compare without parsing.

/// <summary>One started cache device (cache-list item). The first six fields are pcache-utils'.</summary>
public sealed class CacheEntry
{
    public string Magic { get; set; } = "";
    public int Version { get; set; }
    public string Flags { get; set; } = "";
    public int SegmentNum { get; set; }
    public int CacheId { get; set; }
    public string Path { get; set; } = "";
    public long Size { get; set; }
    public long SegmentSize { get; set; }
    public int FreeSegs { get; set; }
    public long FreeBytes { get; set; }
    /// <summary>How stores become durable: "dax", "msync" or "memory" (emulated pmem).</summary>
    public string PersistMode { get; set; } = "";
    public string DeviceId { get; set; } = "";
    public DateTimeOffset FormattedAt { get; set; }
    public bool DataCrc { get; set; }
    public int Backings { get; set; }
}

/// <summary>cache-start's answer: the cache and what happened to each backing it records.</summary>
public sealed class CacheStartResult
{
    public CacheEntry Cache { get; set; } = new();
    /// <summary>A new file was created (Size was given and the path did not exist).</summary>
    public bool Created { get; set; }
    public bool Formatted { get; set; }
    public List<BackingEntry> Backings { get; set; } = [];
}

/// <summary>cache-stop's answer.</summary>
public sealed class CacheStopResult
{
    public int CacheId { get; set; }
    public string Path { get; set; } = "";
    public List<int> StoppedBackings { get; set; } = [];
    /// <summary>Dirty bytes that stay in the cache device until it is started again.</summary>
    public long DirtyBytesKept { get; set; }
}

/// <summary>One backing (backing-list item). The first six fields are pcache-utils'.</summary>
public sealed class BackingEntry
{
    public int BackingId { get; set; }
    public string BackingPath { get; set; } = "";
    public int CacheSegs { get; set; }
    public int CacheGcPercent { get; set; }
    public int CacheUsedSegs { get; set; }
    /// <summary>The export's NBD URI while it is running; null otherwise.</summary>
    public string? LogicDev { get; set; }
    public int CacheId { get; set; }
    /// <summary>NBD export name, "pcacheN".</summary>
    public string Export { get; set; } = "";
    public long Size { get; set; }
    public long CacheSize { get; set; }
    public long DirtyBytes { get; set; }
    /// <summary>Cache mode: writeback, writethrough, writearound, writeonly or passthrough.</summary>
    public string Mode { get; set; } = "writeback";
    /// <summary>Dirty data from write-back is still being written back after a switch to a mode that does not keep any.</summary>
    public bool Draining { get; set; }
    /// <summary>Bytes after which a sequential stream bypasses the cache (0 = off).</summary>
    public long SequentialCutoff { get; set; }
    /// <summary>Earlier misses a 64 KiB block needs before a read miss fills it (0 = off).</summary>
    public int ReadAdmission { get; set; }
    /// <summary>One of <see cref="BackingStates"/>.</summary>
    public string State { get; set; } = "";
    /// <summary>Why a backing is not running, or the last write-back/GC error of a running one.</summary>
    public string? Error { get; set; }
    public int Queues { get; set; }
    public bool DataCrc { get; set; }
    public bool PersistOnWrite { get; set; }
    public string? NbdTcp { get; set; }
    /// <summary>NBD connections open on the export now (a mounted filesystem holds one or more).</summary>
    public int NbdClients { get; set; }
    /// <summary>Write-back pacing settings (see BackingStartArgs).</summary>
    public int WritebackWatermark { get; set; }
    public int WritebackMaxAge { get; set; }
    public long WritebackRate { get; set; }
}

/// <summary>The states a backing can be in.</summary>
public static class BackingStates
{
    /// <summary>Attached and exported over NBD.</summary>
    public const string Running = "running";

    /// <summary>backing-stop is writing its dirty data back; not exported.</summary>
    public const string Draining = "draining";

    /// <summary>Re-attach refused: the device at its path is not the one the cache recorded.</summary>
    public const string Refused = "refused";

    /// <summary>Re-attach failed: the device is missing or cannot be opened.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>Its records on the cache device cannot be trusted (the error names the structure).</summary>
    public const string Corrupt = "corrupt";
}

/// <summary>backing-stop's answer.</summary>
public sealed class BackingStopResult
{
    public int BackingId { get; set; }
    public string BackingPath { get; set; } = "";
    public long WrittenBackBytes { get; set; }
    /// <summary>Dirty bytes thrown away (only with Force on a backing that could not be attached).</summary>
    public long DiscardedDirtyBytes { get; set; }
    public double Seconds { get; set; }
}

/// <summary>Progress of a drain (backing-stop), sent while it runs.</summary>
public sealed class DrainProgress
{
    public int BackingId { get; set; }
    public long DirtyBytes { get; set; }
    public long InitialDirtyBytes { get; set; }
    public string? WritebackError { get; set; }
    public bool Done { get; set; }
}

/// <summary>The daemon itself (ping, and the "daemon" part of stat).</summary>
public sealed class DaemonStatus
{
    public string Version { get; set; } = "";
    public int Protocol { get; set; }
    public int Pid { get; set; }
    public int Uid { get; set; }
    public string Socket { get; set; } = "";
    public string NbdSocket { get; set; } = "";
    public string? NbdTcp { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public double UptimeSeconds { get; set; }
    public int Caches { get; set; }
    public int Backings { get; set; }
    public int NbdConnections { get; set; }
    public int ControlConnections { get; set; }
    /// <summary>Bytes the daemon's managed heap has handed out since it started (the benchmark divides the difference by requests served).</summary>
    public long AllocatedBytes { get; set; }
    /// <summary>Garbage collections since the daemon started (of any generation).</summary>
    public int GcCollections { get; set; }
}

/// <summary>Statistics of one backing: its state, the engine's status and counters.</summary>
public sealed class BackingStatistics
{
    public int BackingId { get; set; }
    public string BackingPath { get; set; } = "";
    public int CacheId { get; set; }
    public string State { get; set; } = "";
    public long Size { get; set; }
    public long SegmentSize { get; set; }
    public int CacheSegs { get; set; }
    public int CacheUsedSegs { get; set; }
    public int GcPercent { get; set; }
    public string Mode { get; set; } = "writeback";
    public bool Draining { get; set; }
    public long DirtyBytes { get; set; }
    /// <summary>Read bytes served from the cache ÷ read bytes (0 before any read).</summary>
    public double ReadHitRatio { get; set; }
    public int PendingKeys { get; set; }
    public long IndexKeys { get; set; }
    public long IndexBytes { get; set; }
    public string KeyHead { get; set; } = "";
    public string DirtyTail { get; set; } = "";
    public string KeyTail { get; set; } = "";
    public double ReplayMilliseconds { get; set; }
    public long ReplayKsets { get; set; }
    public long ReplayKeys { get; set; }
    public string? WritebackError { get; set; }
    public string? GcError { get; set; }
    /// <summary>Requests inside the engine right now.</summary>
    public int InFlightRequests { get; set; }
    /// <summary>Of those, the ones waiting longer than the daemon's stuck_after (a slow disk or a hang).</summary>
    public int StuckRequests { get; set; }
    /// <summary>Age of the oldest stuck request in seconds (0 when none is stuck).</summary>
    public double OldestStuckSeconds { get; set; }
    /// <summary>Write-back pacing now: idle, waiting-busy, running-idle, running-age, running-watermark, running-space, draining or rate-limited.</summary>
    public string WritebackState { get; set; } = "idle";
    /// <summary>Dirty data in % of the backing's cache, against WritebackWatermark.</summary>
    public double DirtyPercent { get; set; }
    public int WritebackWatermark { get; set; }
    public int WritebackMaxAge { get; set; }
    public long WritebackRate { get; set; }
    /// <summary>Age of the oldest dirty data in seconds (0 when clean).</summary>
    public double OldestDirtySeconds { get; set; }
    /// <summary>Bytes/s written back over the last second.</summary>
    public long WritebackBytesPerSecond { get; set; }
    /// <summary>The engine's counters by their stable snake_case names (read_requests, write_bytes...).</summary>
    public Dictionary<string, long> Counters { get; set; } = [];
    /// <summary>Latency per operation (read, write, flush, trim, write_zeroes), receipt to reply over NBD.</summary>
    public Dictionary<string, LatencySummary> Latency { get; set; } = [];
}

/// <summary>stat's answer.</summary>
public sealed class StatResult
{
    public DaemonStatus Daemon { get; set; } = new();
    public List<BackingStatistics> Backings { get; set; } = [];
}
