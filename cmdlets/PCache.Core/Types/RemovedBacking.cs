using PCache.Client;

namespace PCache;

/// <summary>What Remove-PCacheBacking -PassThru reports: the backing that went and what happened to its data.</summary>
public sealed class RemovedBacking
{
    public int BackingId { get; init; }

    public int CacheId { get; init; }

    public string Path { get; init; } = "";

    /// <summary>Dirty bytes written back to the backing device before it was removed.</summary>
    public long WrittenBackBytes { get; init; }

    /// <summary>Dirty bytes thrown away (only with -Force on a backing that could not be attached).</summary>
    public long DiscardedDirtyBytes { get; init; }

    public double Seconds { get; init; }

    public string SocketPath { get; init; } = "";

    public override string ToString() => $"backing {BackingId} ({Path}) removed";

    internal static RemovedBacking From(BackingStopResult r, int cacheId, string socketPath) => new()
    {
        BackingId = r.BackingId,
        CacheId = cacheId,
        Path = r.BackingPath,
        WrittenBackBytes = r.WrittenBackBytes,
        DiscardedDirtyBytes = r.DiscardedDirtyBytes,
        Seconds = r.Seconds,
        SocketPath = socketPath,
    };
}
