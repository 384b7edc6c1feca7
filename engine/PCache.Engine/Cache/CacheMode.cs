namespace PCache.Engine.Cache;

/// <summary>
/// How a backing's writes and read misses use the cache. The numeric values are recorded on
/// media (backing_info flag bits 15..17); 0 is write-back so records written before modes
/// existed read as write-back.
/// </summary>
public enum CacheMode
{
    /// <summary>Writes acknowledged once in pmem, written back later; misses fill the cache.</summary>
    Writeback = 0,
    /// <summary>Writes acknowledged once on the backing and kept in the cache as clean data.</summary>
    Writethrough = 1,
    /// <summary>Writes go to the backing (cached copies refreshed, nothing new cached); misses fill.</summary>
    Writearound = 2,
    /// <summary>Writes as write-back; read misses are served from the backing and not cached.</summary>
    Writeonly = 3,
    /// <summary>Writes go to the backing, misses are not cached; cached data is still served until it drains.</summary>
    Passthrough = 4,
}

public static class CacheModes
{
    /// <summary>The names an admin types, in the order help lists them.</summary>
    public static readonly string[] Names = ["writeback", "writethrough", "writearound", "writeonly", "passthrough"];

    public static string Name(this CacheMode mode) => Names[(int)mode];

    public static bool TryParse(string? text, out CacheMode mode)
    {
        int i = Array.IndexOf(Names, text?.Trim().ToLowerInvariant());
        mode = i < 0 ? CacheMode.Writeback : (CacheMode)i;
        return i >= 0;
    }

    /// <summary>Modes that keep new writes in the cache as dirty data (the backing sees them later).</summary>
    public static bool AbsorbsWrites(this CacheMode mode) => mode is CacheMode.Writeback or CacheMode.Writeonly;

    /// <summary>Modes whose read misses may be copied into the cache.</summary>
    public static bool FillsOnMiss(this CacheMode mode) => mode is CacheMode.Writeback or CacheMode.Writethrough or CacheMode.Writearound;
}
