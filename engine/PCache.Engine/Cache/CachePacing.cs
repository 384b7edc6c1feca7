using PCache.Engine.Background;
using PCache.Engine.Layout;

namespace PCache.Engine.Cache;

// Write-back pacing: the backing's settings, what the pacer sees, and the space signals that override it.
public sealed partial class BackingCache
{
    private int _draining;

    public WritebackPacing Pacing => Info.Pacing;

    internal WritebackPacer Pacer => _writeback.Pacer;

    /// <summary>Dirty data bytes logged since start (replayed ones included); write-back's progress counts against it.</summary>
    internal long DirtyBytesLogged => _dirtyBytesBase + Stats[Counter.DirtyBytesAdded];

    /// <summary>backing-stop is writing back everything before the backing is forgotten.</summary>
    internal bool DrainRequested => Volatile.Read(ref _draining) > 0;

    /// <summary>
    /// Space needs write-back now, whatever the pacing: a writer waits for room, GC has reached its
    /// threshold (it can only reclaim what write-back has copied), a drain is under way, or a mode that
    /// keeps no dirty data still holds some from before a switch.
    /// </summary>
    internal bool SpaceWanted => DrainRequested || Draining || Pool.Waiters > 0 || Pool.Used >= (long)Pool.Count * GcPercent / 100;

    /// <summary>Persist new pacing settings in the backing's record; they apply from write-back's next look.</summary>
    public void SetPacing(WritebackPacing pacing)
    {
        var problem = pacing.Problem();
        if (problem is not null) throw new ArgumentOutOfRangeException(nameof(pacing), problem);
        Info = _owner.UpdateInfo(Info with { Pacing = pacing });
        _writeback.Wake();
    }

    private PacingStatus PacingStatusNow()
    {
        long capacity = Math.Max(1L, (long)Pool.Count * Pool.DataSize);
        var p = Info.Pacing;
        return new PacingStatus
        {
            State = PacingStatus.Name(Pacer.State),
            DirtyPercent = Math.Round(Math.Max(0, DirtyBytes) * 100.0 / capacity, 2),
            Watermark = p.WatermarkPercent,
            MaxAgeSeconds = p.MaxAgeSeconds,
            RateLimit = p.RateBytesPerSecond,
            OldestDirtySeconds = Math.Round(Pacer.OldestDirtySeconds, 1),
            Rate = Pacer.Rate,
        };
    }
}

/// <summary>What write-back pacing is doing now, for stat.</summary>
public sealed record PacingStatus
{
    /// <summary>idle, waiting-busy, running-idle, running-age, running-watermark, running-space, draining or rate-limited.</summary>
    public string State { get; init; } = "idle";
    public double DirtyPercent { get; init; }
    public int Watermark { get; init; }
    public int MaxAgeSeconds { get; init; }
    public long RateLimit { get; init; }
    public double OldestDirtySeconds { get; init; }
    /// <summary>Bytes/s written back over the last second.</summary>
    public long Rate { get; init; }

    public static string Name(PacingState s) => s switch
    {
        PacingState.Idle => "idle",
        PacingState.WaitingBusy => "waiting-busy",
        PacingState.RunningIdle => "running-idle",
        PacingState.RunningAge => "running-age",
        PacingState.RunningWatermark => "running-watermark",
        PacingState.RunningSpace => "running-space",
        PacingState.Draining => "draining",
        PacingState.RateLimited => "rate-limited",
        _ => s.ToString(),
    };
}
