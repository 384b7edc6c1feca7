using PCache.Client;

namespace PCache;

/// <summary>
/// A started cache device (Get-PCacheCache, Start-PCacheCache, Initialize-PCacheCache). Sizes are
/// bytes and ratios 0..1 so reports can sort and sum them; the format file adds units for people.
/// </summary>
public sealed class Cache
{
    public int CacheId { get; init; }

    /// <summary>The pmem device or the file standing in for one.</summary>
    public string Path { get; init; } = "";

    public long Size { get; init; }

    public long SegmentSize { get; init; }

    public int SegmentCount { get; init; }

    public int FreeSegments { get; init; }

    public long FreeBytes { get; init; }

    /// <summary>Bytes of segments given to backings (segment area only, not metadata).</summary>
    public long UsedBytes { get; init; }

    /// <summary>Share of the segments given to backings, 0..1.</summary>
    public double UsedRatio { get; init; }

    /// <summary>How stores become durable: "dax", "msync" or "memory" (emulated pmem, lost at reboot).</summary>
    public string PersistMode { get; init; } = "";

    public bool DataCrc { get; init; }

    public int BackingCount { get; init; }

    public string DeviceId { get; init; } = "";

    /// <summary>When the device was formatted, UTC.</summary>
    public DateTime FormattedAt { get; init; }

    public int Version { get; init; }

    public string Flags { get; init; } = "";

    public string Magic { get; init; } = "";

    /// <summary>The control socket of the daemon that reported this cache; binds -SocketPath down a pipeline.</summary>
    public string SocketPath { get; init; } = "";

    public override string ToString() => $"cache {CacheId} ({Path})";

    internal static Cache From(CacheEntry e, string socketPath)
    {
        int used = Math.Max(0, e.SegmentNum - e.FreeSegs);
        return new Cache
        {
            CacheId = e.CacheId,
            Path = e.Path,
            Size = e.Size,
            SegmentSize = e.SegmentSize,
            SegmentCount = e.SegmentNum,
            FreeSegments = e.FreeSegs,
            FreeBytes = e.FreeBytes,
            UsedBytes = used * e.SegmentSize,
            UsedRatio = e.SegmentNum == 0 ? 0 : (double)used / e.SegmentNum,
            PersistMode = e.PersistMode,
            DataCrc = e.DataCrc,
            BackingCount = e.Backings,
            DeviceId = e.DeviceId,
            FormattedAt = e.FormattedAt.UtcDateTime,
            Version = e.Version,
            Flags = e.Flags,
            Magic = e.Magic,
            SocketPath = socketPath,
        };
    }
}
