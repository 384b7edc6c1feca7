using PCache.Client;

namespace PCache;

/// <summary>
/// A backing device cached by PCache (Get-PCacheBacking, Add-PCacheBacking...). Property names
/// match the cmdlets' parameter names (BackingId, CacheId, Path, CacheSize, GcPercent, Queues,
/// SocketPath) so the object binds by property name further down a pipeline.
/// </summary>
public sealed class Backing
{
    public int BackingId { get; init; }

    public int CacheId { get; init; }

    /// <summary>The backing block device or file.</summary>
    public string Path { get; init; } = "";

    /// <summary>running, draining, refused, unavailable or corrupt.</summary>
    public string State { get; init; } = "";

    /// <summary>writeback, writethrough, writearound, writeonly or passthrough.</summary>
    public string Mode { get; init; } = "";

    /// <summary>Dirty data left from write-back is still being written back after a mode switch.</summary>
    public bool Draining { get; init; }

    /// <summary>A sequential stream longer than this bypasses the cache; 0 = off.</summary>
    public long SequentialCutoff { get; init; }

    /// <summary>Misses a 64 KiB block needs before a read miss caches it; 0 = off.</summary>
    public int ReadAdmission { get; init; }

    /// <summary>Size of the backing device.</summary>
    public long Size { get; init; }

    /// <summary>Share of the cache device given to this backing (whole segments).</summary>
    public long CacheSize { get; init; }

    public int CacheSegments { get; init; }

    public int CacheUsedSegments { get; init; }

    /// <summary>CacheUsedSegments ÷ CacheSegments, 0..1; GC starts at GcPercent.</summary>
    public double CacheUsedRatio { get; init; }

    public int GcPercent { get; init; }

    /// <summary>Bytes written to the cache and not yet written back to the backing device.</summary>
    public long DirtyBytes { get; init; }

    public int Queues { get; init; }

    public bool DataCrc { get; init; }

    public bool PersistOnWrite { get; init; }

    /// <summary>Write-back waits while the export is busy until this % of the cache is dirty (0 = never waits).</summary>
    public int WritebackWatermark { get; init; }

    /// <summary>Seconds after which dirty data is written back even while busy (0 = no bound).</summary>
    public int WritebackMaxAge { get; init; }

    /// <summary>Most bytes/s write-back moves below the watermark (0 = unlimited).</summary>
    public long WritebackRate { get; init; }

    /// <summary>NBD export name, pcacheN.</summary>
    public string Export { get; init; } = "";

    /// <summary>NBD URI of the export while it runs (nbd+unix://...); null otherwise.</summary>
    public string? Uri { get; init; }

    /// <summary>NBD URI over TCP when the daemon listens on TCP; null otherwise.</summary>
    public string? TcpUri { get; init; }

    /// <summary>Why the backing is not running, or its last write-back/GC error.</summary>
    public string? Error { get; init; }

    /// <summary>NBD connections open on the export now; a mounted filesystem holds one or more.</summary>
    public int NbdClients { get; init; }
    public string SocketPath { get; init; } = "";

    public override string ToString() => $"backing {BackingId} ({Path})";

    internal static Backing From(BackingEntry e, string socketPath) => new()
    {
        BackingId = e.BackingId,
        CacheId = e.CacheId,
        Path = e.BackingPath,
        State = e.State,
        Mode = e.Mode,
        Draining = e.Draining,
        SequentialCutoff = e.SequentialCutoff,
        ReadAdmission = e.ReadAdmission,
        Size = e.Size,
        CacheSize = e.CacheSize,
        CacheSegments = e.CacheSegs,
        CacheUsedSegments = e.CacheUsedSegs,
        CacheUsedRatio = e.CacheSegs == 0 ? 0 : (double)e.CacheUsedSegs / e.CacheSegs,
        GcPercent = e.CacheGcPercent,
        DirtyBytes = e.DirtyBytes,
        Queues = e.Queues,
        DataCrc = e.DataCrc,
        PersistOnWrite = e.PersistOnWrite,
        WritebackWatermark = e.WritebackWatermark,
        WritebackMaxAge = e.WritebackMaxAge,
        WritebackRate = e.WritebackRate,
        Export = e.Export,
        Uri = e.LogicDev,
        TcpUri = e.NbdTcp,
        Error = e.Error,
        NbdClients = e.NbdClients,
        SocketPath = socketPath,
    };
}
