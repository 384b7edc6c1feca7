using PCache.Engine.Layout;

namespace PCache.Engine.Cache;

/// <summary>What an admin chooses when a backing joins a cache device.</summary>
public sealed record BackingOptions
{
    public required string Path { get; init; }

    /// <summary>pmem bytes for this backing; rounded up to whole segments.</summary>
    public required long CacheSize { get; init; }

    public bool DataCrc { get; init; }

    public bool PersistOnWrite { get; init; }

    public int GcPercent { get; init; } = BackingInfo.GcPercentDefault;

    public uint Queues { get; init; } = 1;

    public WritebackPacing Pacing { get; init; } = WritebackPacing.Default;

    public CacheMode Mode { get; init; } = CacheMode.Writeback;

    /// <summary>Identity of the backing device, checked when the cache reattaches it.</summary>
    public ulong Fingerprint { get; init; }
}

/// <summary>A point-in-time view of one cached backing, for status and statistics.</summary>
public sealed record CacheStatus
{
    public int BackingId { get; init; }
    public string Path { get; init; } = "";
    public long Size { get; init; }
    public int SegmentSize { get; init; }
    public int CacheSegments { get; init; }
    public int UsedSegments { get; init; }
    public int GcPercent { get; init; }
    public bool DataCrc { get; init; }
    public bool PersistOnWrite { get; init; }
    public string Mode { get; init; } = "writeback";
    /// <summary>Write-back of the dirty data left from an absorbing mode is under way.</summary>
    public bool Draining { get; init; }
    public long SequentialCutoff { get; init; }
    public int ReadAdmission { get; init; }
    public long DirtyBytes { get; init; }
    public int PendingKeys { get; init; }
    public string KeyHead { get; init; } = "";
    public string DirtyTail { get; init; } = "";
    public string KeyTail { get; init; } = "";
    public long IndexKeys { get; init; }
    public long IndexBytes { get; init; }
    public double ReplayMilliseconds { get; init; }
    public long ReplayKsets { get; init; }
    public long ReplayKeys { get; init; }
    public string? WritebackError { get; init; }
    public string? GcError { get; init; }
    public Dictionary<string, long> Counters { get; init; } = new();
    public PacingStatus Pacing { get; init; } = new();
}
