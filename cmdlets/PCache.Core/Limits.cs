namespace PCache.Core;

/// <summary>
/// The daemon's limits, as constants the cmdlets' [ValidateRange] attributes can use. A test
/// checks each against the engine's own constants and against the running daemon, so a change
/// on either side fails the build instead of surfacing as a confusing error at run time.
/// </summary>
public static class Limits
{
    public const int MinId = 0;
    public const int MaxId = int.MaxValue;

    public const int MinGcPercent = 0;
    public const int MaxGcPercent = 90;

    /// <summary>The cache modes, in the order help lists them (the engine's CacheModes.Names).</summary>
    public static readonly string[] Modes = ["writeback", "writethrough", "writearound", "writeonly", "passthrough"];
    public const long MinSequentialCutoff = 0;
    public const long MaxSequentialCutoff = 1L << 40;
    public const int MinReadAdmission = 0;
    public const int MaxReadAdmission = 15;

    public const int MinQueues = 1;
    public const int MaxQueues = 1024;

    public const int MinWritebackWatermark = 0;
    public const int MaxWritebackWatermark = 100;

    public const int MinWritebackMaxAge = 0;
    public const int MaxWritebackMaxAge = 65535;

    /// <summary>Bytes/s in whole KiB (the daemon refuses other values): up to 2^32-1 KiB/s.</summary>
    public const long MinWritebackRate = 0;
    public const long MaxWritebackRate = 4398046510080;

    /// <summary>1 MiB .. 1 GiB (and a power of two, which only the daemon checks).</summary>
    public const long MinSegmentSize = 1L << 20;
    public const long MaxSegmentSize = 1L << 30;

    /// <summary>The smallest cache device the engine accepts: 2 MiB of metadata plus four 1 MiB segments.</summary>
    public const long MinCacheDeviceSize = 6L << 20;
    public const long MaxSize = long.MaxValue;

    /// <summary>
    /// The least cache space any daemon gives a backing: two log segments, two per-CPU segments (at
    /// least two CPUs counted) and two spare, of the smallest segment size (1 MiB). A daemon with
    /// more CPUs or larger segments asks for more, and says how much.
    /// </summary>
    public const long MinCacheSize = 6L << 20;

    public const int MinIntervalSeconds = 1;
    public const int MaxIntervalSeconds = 86400;

    public const int MinSamples = 1;
    public const int MaxSamples = int.MaxValue;

    public const int MinTimeoutSeconds = 0;
    public const int MaxTimeoutSeconds = int.MaxValue;
}
