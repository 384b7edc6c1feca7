namespace PCache.Engine.Layout;

/// <summary>
/// When write-back runs (dm-writecache's high_watermark and max_age, bcache's writeback_rate).
/// Below <see cref="WatermarkPercent"/> of dirty data it waits while the export is busy, so
/// foreground I/O keeps the backing to itself; above it, it runs at full speed. Data older than
/// <see cref="MaxAgeSeconds"/> is written back even while busy. Below the watermark write-back
/// moves at most <see cref="RateBytesPerSecond"/>. None of this changes what is written or in
/// which order; and space (GC, writers waiting for room, a drain) always overrides it.
/// </summary>
public sealed record WritebackPacing
{
    public const int WatermarkMin = 0, WatermarkMax = 100;
    public const int MaxAgeMin = 0, MaxAgeMax = ushort.MaxValue;
    public const long RateUnit = 1024;
    public const long RateMax = uint.MaxValue * RateUnit;

    /// <summary>
    /// dm-writecache's high_watermark default; half the cache dirty still leaves the other half for
    /// bursts before GC (70 % by default) has to wait for write-back.
    /// </summary>
    public const int DefaultWatermark = 50;

    /// <summary>bcache's writeback_delay and the kernel's dirty_expire: data is on the backing within half a minute.</summary>
    public const int DefaultMaxAge = 30;

    public static readonly WritebackPacing Default = new();

    /// <summary>The old behaviour: write back whenever anything is dirty, at full speed.</summary>
    public static readonly WritebackPacing Unpaced = new() { WatermarkPercent = 0, MaxAgeSeconds = 0 };

    /// <summary>Dirty data, in % of the backing's cache, above which write-back runs at full speed (0 = always).</summary>
    public int WatermarkPercent { get; init; } = DefaultWatermark;

    /// <summary>Dirty data older than this is written back even while the export is busy (0 = no bound).</summary>
    public int MaxAgeSeconds { get; init; } = DefaultMaxAge;

    /// <summary>Write-back bandwidth below the watermark, bytes/s in whole KiB (0 = unlimited).</summary>
    public long RateBytesPerSecond { get; init; }

    /// <summary>Null when valid, else what is wrong (in the words of the command line's options).</summary>
    public string? Problem()
    {
        if (WatermarkPercent < WatermarkMin || WatermarkPercent > WatermarkMax)
            return $"--writeback-watermark must be {WatermarkMin}..{WatermarkMax}, not {WatermarkPercent}";
        if (MaxAgeSeconds < MaxAgeMin || MaxAgeSeconds > MaxAgeMax)
            return $"--writeback-max-age must be {MaxAgeMin}..{MaxAgeMax} seconds, not {MaxAgeSeconds}";
        return RateProblem(RateBytesPerSecond);
    }

    public static string? RateProblem(long rate)
    {
        if (rate < 0 || rate > RateMax) return $"--writeback-rate must be 0 (unlimited)..{RateMax} bytes/s, not {rate}";
        if (rate % RateUnit != 0) return $"--writeback-rate must be a whole number of KiB/s (a multiple of {RateUnit}), not {rate}";
        return null;
    }

    public WritebackPacing Validated() => Problem() is { } p ? throw new ArgumentOutOfRangeException(nameof(WritebackPacing), p) : this;
}
