using PCache.Client;

namespace PCache;

/// <summary>
/// One backing's statistics at one moment (Get-PCacheStat): its state, the cache's status and the
/// engine's cumulative counters, one numeric property each, so Export-Csv writes one flat row.
/// </summary>
public sealed class Stat
{
    /// <summary>The operations whose latency percentiles are properties ({Op}P50Microseconds...), as stat names them.</summary>
    public static IReadOnlyList<string> LatencyOps { get; } = ["read", "write", "flush", "trim", "write_zeroes"];

    /// <summary>The engine's counter names, in the order of the properties that carry them.</summary>
    public static IReadOnlyList<string> CounterNames { get; } =
    [
        "read_requests", "read_bytes", "read_hits", "read_misses", "read_partial_hits", "read_hit_bytes", "read_miss_bytes",
        "write_requests", "write_bytes", "fua_writes", "flushes",
        "discard_requests", "discard_bytes", "zero_requests", "zero_bytes", "prefetch_requests", "prefetch_bytes",
        "miss_fill_bytes", "miss_fill_skipped",
        "writeback_ksets", "writeback_keys", "writeback_bytes", "writeback_errors",
        "gc_ksets", "gc_segments_freed", "stale_keys_purged", "writer_waits", "backing_read_errors",
        "writeback_idle_ksets", "writeback_age_ksets", "writeback_watermark_ksets", "writeback_urgent_ksets",
        "writeback_busy_wait_ms", "writeback_rate_limited_ms",
        "bypass_sequential_read_bytes", "bypass_sequential_write_bytes", "bypass_admission_read_bytes",
        "bypass_mode_read_bytes", "bypass_mode_write_bytes",
    ];

    /// <summary>When the daemon was asked, UTC.</summary>
    public DateTimeOffset Timestamp { get; init; }

    public int BackingId { get; init; }

    public int CacheId { get; init; }

    public string Path { get; init; } = "";

    public string State { get; init; } = "";

    public long Size { get; init; }

    public long SegmentSize { get; init; }

    public int CacheSegments { get; init; }

    public int CacheUsedSegments { get; init; }

    public double CacheUsedRatio { get; init; }

    public int GcPercent { get; init; }

    /// <summary>The cache mode; Draining while dirty data from write-back is still being written back after a switch.</summary>
    public string Mode { get; init; } = "";

    public bool Draining { get; init; }

    public long DirtyBytes { get; init; }

    /// <summary>Read bytes served from the cache ÷ read bytes since the counters were last cleared, 0..1.</summary>
    public double ReadHitRatio { get; init; }

    public int PendingKeys { get; init; }

    public long IndexKeys { get; init; }

    public long IndexBytes { get; init; }

    public string KeyHead { get; init; } = "";

    public string DirtyTail { get; init; } = "";

    public string KeyTail { get; init; } = "";

    public double ReplayMilliseconds { get; init; }

    public long ReplayKsets { get; init; }

    public long ReplayKeys { get; init; }

    public string? WritebackError { get; init; }

    public string? GcError { get; init; }

    /// <summary>Write-back pacing now: idle, waiting-busy, running-idle, running-age, running-watermark, running-space, draining, rate-limited (stopped when not attached).</summary>
    public string WritebackState { get; init; } = "";

    /// <summary>Dirty data in % of the backing's cache, against WritebackWatermark.</summary>
    public double DirtyPercent { get; init; }

    public int WritebackWatermark { get; init; }

    public int WritebackMaxAge { get; init; }

    public long WritebackRate { get; init; }

    /// <summary>Age of the oldest dirty data in seconds.</summary>
    public double OldestDirtySeconds { get; init; }

    /// <summary>Bytes/s written back over the last second.</summary>
    public long WritebackBytesPerSecond { get; init; }

    public long ReadRequests { get; init; }
    public long ReadBytes { get; init; }
    public long ReadHits { get; init; }
    public long ReadMisses { get; init; }
    public long ReadPartialHits { get; init; }
    public long ReadHitBytes { get; init; }
    public long ReadMissBytes { get; init; }
    public long WriteRequests { get; init; }
    public long WriteBytes { get; init; }
    public long FuaWrites { get; init; }
    public long Flushes { get; init; }
    public long DiscardRequests { get; init; }
    public long DiscardBytes { get; init; }
    public long ZeroRequests { get; init; }
    public long ZeroBytes { get; init; }
    public long PrefetchRequests { get; init; }
    public long PrefetchBytes { get; init; }
    public long MissFillBytes { get; init; }
    public long MissFillSkipped { get; init; }
    public long WritebackKsets { get; init; }
    public long WritebackKeys { get; init; }
    public long WritebackBytes { get; init; }
    public long WritebackErrors { get; init; }
    public long GcKsets { get; init; }
    public long GcSegmentsFreed { get; init; }
    public long StaleKeysPurged { get; init; }
    public long WriterWaits { get; init; }
    public long BackingReadErrors { get; init; }

    // Admission: bytes that bypassed the cache, and why (sequential cutoff, read admission, the mode).
    public long BypassSequentialReadBytes { get; init; }
    public long BypassSequentialWriteBytes { get; init; }
    public long BypassAdmissionReadBytes { get; init; }
    public long BypassModeReadBytes { get; init; }
    public long BypassModeWriteBytes { get; init; }

    public long WritebackIdleKsets { get; init; }
    public long WritebackAgeKsets { get; init; }
    public long WritebackWatermarkKsets { get; init; }
    public long WritebackUrgentKsets { get; init; }
    public long WritebackBusyWaitMs { get; init; }
    public long WritebackRateLimitedMs { get; init; }

    // Latency from an NBD request's receipt to its reply, per operation, in microseconds (0 before the first request).
    public double ReadP50Microseconds { get; init; }
    public double ReadP99Microseconds { get; init; }
    public double ReadP999Microseconds { get; init; }
    public double WriteP50Microseconds { get; init; }
    public double WriteP99Microseconds { get; init; }
    public double WriteP999Microseconds { get; init; }
    public double FlushP50Microseconds { get; init; }
    public double FlushP99Microseconds { get; init; }
    public double FlushP999Microseconds { get; init; }
    public double TrimP50Microseconds { get; init; }
    public double TrimP99Microseconds { get; init; }
    public double TrimP999Microseconds { get; init; }
    public double WriteZeroesP50Microseconds { get; init; }
    public double WriteZeroesP99Microseconds { get; init; }
    public double WriteZeroesP999Microseconds { get; init; }

    public string SocketPath { get; init; } = "";

    public override string ToString() => $"backing {BackingId} statistics at {Timestamp:O}";

    internal static Stat From(BackingStatistics s, DateTimeOffset timestamp, string socketPath)
    {
        long C(string name) => s.Counters.GetValueOrDefault(name);
        LatencySummary L(string op) => s.Latency.GetValueOrDefault(op) ?? new LatencySummary();
        return new Stat
        {
            Timestamp = timestamp,
            BackingId = s.BackingId,
            CacheId = s.CacheId,
            Path = s.BackingPath,
            State = s.State,
            Size = s.Size,
            SegmentSize = s.SegmentSize,
            CacheSegments = s.CacheSegs,
            CacheUsedSegments = s.CacheUsedSegs,
            CacheUsedRatio = s.CacheSegs == 0 ? 0 : (double)s.CacheUsedSegs / s.CacheSegs,
            GcPercent = s.GcPercent,
            Mode = s.Mode,
            Draining = s.Draining,
            DirtyBytes = s.DirtyBytes,
            ReadHitRatio = s.ReadHitRatio,
            PendingKeys = s.PendingKeys,
            IndexKeys = s.IndexKeys,
            IndexBytes = s.IndexBytes,
            KeyHead = s.KeyHead,
            DirtyTail = s.DirtyTail,
            KeyTail = s.KeyTail,
            ReplayMilliseconds = s.ReplayMilliseconds,
            ReplayKsets = s.ReplayKsets,
            ReplayKeys = s.ReplayKeys,
            WritebackError = s.WritebackError,
            GcError = s.GcError,
            WritebackState = s.WritebackState,
            DirtyPercent = s.DirtyPercent,
            WritebackWatermark = s.WritebackWatermark,
            WritebackMaxAge = s.WritebackMaxAge,
            WritebackRate = s.WritebackRate,
            OldestDirtySeconds = s.OldestDirtySeconds,
            WritebackBytesPerSecond = s.WritebackBytesPerSecond,
            ReadRequests = C("read_requests"),
            ReadBytes = C("read_bytes"),
            ReadHits = C("read_hits"),
            ReadMisses = C("read_misses"),
            ReadPartialHits = C("read_partial_hits"),
            ReadHitBytes = C("read_hit_bytes"),
            ReadMissBytes = C("read_miss_bytes"),
            WriteRequests = C("write_requests"),
            WriteBytes = C("write_bytes"),
            FuaWrites = C("fua_writes"),
            Flushes = C("flushes"),
            DiscardRequests = C("discard_requests"),
            DiscardBytes = C("discard_bytes"),
            ZeroRequests = C("zero_requests"),
            ZeroBytes = C("zero_bytes"),
            PrefetchRequests = C("prefetch_requests"),
            PrefetchBytes = C("prefetch_bytes"),
            MissFillBytes = C("miss_fill_bytes"),
            MissFillSkipped = C("miss_fill_skipped"),
            WritebackKsets = C("writeback_ksets"),
            WritebackKeys = C("writeback_keys"),
            WritebackBytes = C("writeback_bytes"),
            WritebackErrors = C("writeback_errors"),
            GcKsets = C("gc_ksets"),
            GcSegmentsFreed = C("gc_segments_freed"),
            StaleKeysPurged = C("stale_keys_purged"),
            WriterWaits = C("writer_waits"),
            BackingReadErrors = C("backing_read_errors"),
            BypassSequentialReadBytes = C("bypass_sequential_read_bytes"),
            BypassSequentialWriteBytes = C("bypass_sequential_write_bytes"),
            BypassAdmissionReadBytes = C("bypass_admission_read_bytes"),
            BypassModeReadBytes = C("bypass_mode_read_bytes"),
            BypassModeWriteBytes = C("bypass_mode_write_bytes"),
            ReadP50Microseconds = L("read").P50Microseconds,
            ReadP99Microseconds = L("read").P99Microseconds,
            ReadP999Microseconds = L("read").P999Microseconds,
            WriteP50Microseconds = L("write").P50Microseconds,
            WriteP99Microseconds = L("write").P99Microseconds,
            WriteP999Microseconds = L("write").P999Microseconds,
            FlushP50Microseconds = L("flush").P50Microseconds,
            FlushP99Microseconds = L("flush").P99Microseconds,
            FlushP999Microseconds = L("flush").P999Microseconds,
            TrimP50Microseconds = L("trim").P50Microseconds,
            TrimP99Microseconds = L("trim").P99Microseconds,
            TrimP999Microseconds = L("trim").P999Microseconds,
            WriteZeroesP50Microseconds = L("write_zeroes").P50Microseconds,
            WriteZeroesP99Microseconds = L("write_zeroes").P99Microseconds,
            WriteZeroesP999Microseconds = L("write_zeroes").P999Microseconds,
            WritebackIdleKsets = C("writeback_idle_ksets"),
            WritebackAgeKsets = C("writeback_age_ksets"),
            WritebackWatermarkKsets = C("writeback_watermark_ksets"),
            WritebackUrgentKsets = C("writeback_urgent_ksets"),
            WritebackBusyWaitMs = C("writeback_busy_wait_ms"),
            WritebackRateLimitedMs = C("writeback_rate_limited_ms"),
            SocketPath = socketPath,
        };
    }
}
