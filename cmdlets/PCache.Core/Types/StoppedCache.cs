using PCache.Client;

namespace PCache;

/// <summary>What Stop-PCacheCache -PassThru reports: the cache that stopped and what it kept.</summary>
public sealed class StoppedCache
{
    public int CacheId { get; init; }

    public string Path { get; init; } = "";

    public int[] StoppedBackingIds { get; init; } = [];

    /// <summary>Dirty bytes that stay in the cache device until it is started again.</summary>
    public long DirtyBytesKept { get; init; }

    public string SocketPath { get; init; } = "";

    public override string ToString() => $"cache {CacheId} ({Path}) stopped";

    internal static StoppedCache From(CacheStopResult r, string socketPath) => new()
    {
        CacheId = r.CacheId,
        Path = r.Path,
        StoppedBackingIds = r.StoppedBackings.ToArray(),
        DirtyBytesKept = r.DirtyBytesKept,
        SocketPath = socketPath,
    };
}
