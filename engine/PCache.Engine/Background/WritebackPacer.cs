using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Engine.Background;

/// <summary>
/// Decides, before each kset, whether write-back goes on now (see <see cref="WritebackPacing"/>).
/// Everything it measures it samples from the write-back thread, so the request path pays
/// nothing: "busy" means the foreground request counters moved within the last
/// <see cref="BusyWindowMs"/>; the age of the oldest dirty byte comes from a short history of
/// (time, bytes logged so far) that write-back's progress consumes from the front.
/// </summary>
internal sealed class WritebackPacer
{
    /// <summary>An export with no request for this long is idle (dm-writecache pauses for 3 s; a second keeps data moving sooner).</summary>
    public const int BusyWindowMs = 1000;

    /// <summary>How often a waiting write-back looks again: also the resolution of the age bound.</summary>
    public const int PollMs = 100;

    private const int Samples = 64;

    private readonly BackingCache _cache;
    private readonly long[] _sampleTicks = new long[Samples];
    private readonly long[] _sampleAdded = new long[Samples];
    private int _first, _count;
    private long _foreground;
    private long _lastBusy;
    private long _tokens, _tokensAt;
    private long _lastDecision;
    private PacingState _state = PacingState.Idle;
    private volatile int _published; // _state, for readers on other threads
    private long _rateStart, _rateBytes, _rate;
    private long _oldestMs;
    private long _decisions;

    public WritebackPacer(BackingCache cache, Func<long>? clock = null)
    {
        _cache = cache;
        Clock = clock ?? (() => Environment.TickCount64);
        long now = Clock();
        _foreground = ForegroundRequests();
        _lastBusy = now - BusyWindowMs;
        _tokensAt = _lastDecision = _rateStart = now;
    }

    /// <summary>Milliseconds; tests substitute a clock they move themselves.</summary>
    public Func<long> Clock { get; set; }

    public PacingState State => (PacingState)_published;

    public double OldestDirtySeconds => Volatile.Read(ref _oldestMs) / 1000.0;

    /// <summary>Bytes/s written back over the last second or so.</summary>
    public long Rate => Volatile.Read(ref _rate);

    /// <summary>How many times the pacer decided (tests wait on it instead of on time).</summary>
    public long Decisions => Volatile.Read(ref _decisions);

    /// <summary>
    /// Before a kset: 0 to write it back now, else how long to sleep first. <paramref name="done"/>
    /// and <paramref name="added"/> count dirty bytes written back and logged since start.
    /// </summary>
    public int BeforeKset(long added, long done)
    {
        long now = Clock();
        Observe(now, added, done);
        var p = _cache.Info.Pacing;
        long capacity = Math.Max(1L, (long)_cache.Pool.Count * _cache.Pool.DataSize);
        long dirty = Math.Max(0, added - done);
        PacingState next;
        if (_cache.SpaceWanted) next = _cache.DrainRequested || _cache.Draining ? PacingState.Draining : PacingState.RunningSpace;
        else if (dirty * 100 >= (long)p.WatermarkPercent * capacity) next = PacingState.RunningWatermark;
        else if (p.MaxAgeSeconds > 0 && _oldestMs >= p.MaxAgeSeconds * 1000L) next = PacingState.RunningAge;
        else if (now - _lastBusy < BusyWindowMs) next = PacingState.WaitingBusy;
        else next = PacingState.RunningIdle;

        long rate = p.RateBytesPerSecond;
        bool limited = rate > 0 && next is PacingState.RunningAge or PacingState.RunningIdle;
        if (limited)
        {
            _tokens = Math.Min(rate, _tokens + (now - _tokensAt) * rate / 1000);
            if (_tokens < 0) next = PacingState.RateLimited;
        }
        else
        {
            _tokens = 0; // no credit saved up while unlimited or waiting
        }
        _tokensAt = now;
        Enter(next, now);
        return next switch
        {
            PacingState.WaitingBusy => PollMs,
            PacingState.RateLimited => (int)Math.Clamp(-_tokens * 1000 / rate + 1, 1, PollMs),
            _ => 0,
        };
    }

    /// <summary>After a kset went to the backing: charge the rate limit and count why it ran.</summary>
    public void Wrote(long bytes)
    {
        if (_state is PacingState.RunningAge or PacingState.RunningIdle) _tokens -= bytes;
        _rateBytes += bytes;
        var reason = _state switch
        {
            PacingState.RunningIdle => Counter.WritebackIdleKsets,
            PacingState.RunningAge => Counter.WritebackAgeKsets,
            PacingState.RunningWatermark => Counter.WritebackWatermarkKsets,
            _ => Counter.WritebackUrgentKsets,
        };
        _cache.Stats.Increment(reason);
    }

    /// <summary>Nothing left to write back.</summary>
    public void Clean(long added, long done)
    {
        long now = Clock();
        Observe(now, added, done);
        Enter(PacingState.Idle, now);
    }

    private void Enter(PacingState next, long now)
    {
        // Time spent holding back is charged to the state that held back.
        long waited = now - _lastDecision;
        if (waited > 0 && _state == PacingState.WaitingBusy) _cache.Stats.Add(Counter.WritebackBusyWaitMs, waited);
        if (waited > 0 && _state == PacingState.RateLimited) _cache.Stats.Add(Counter.WritebackRateLimitedMs, waited);
        _lastDecision = now;
        _state = next;
        _published = (int)next;
        Interlocked.Increment(ref _decisions);
    }

    private void Observe(long now, long added, long done)
    {
        long fg = ForegroundRequests();
        if (fg != _foreground)
        {
            _foreground = fg;
            _lastBusy = now;
        }

        if (now - _rateStart >= 1000)
        {
            Volatile.Write(ref _rate, _rateBytes * 1000 / (now - _rateStart));
            _rateStart = now;
            _rateBytes = 0;
        }

        // Samples whose bytes are all written back say nothing about what is still dirty.
        while (_count > 0 && _sampleAdded[_first] <= done)
        {
            _first = (_first + 1) % Samples;
            _count--;
        }
        if (added > done && (_count == 0 || _sampleAdded[(_first + _count - 1) % Samples] != added))
        {
            if (_count == Samples) Thin();
            int at = (_first + _count) % Samples;
            _sampleTicks[at] = now;
            _sampleAdded[at] = added;
            _count++;
        }
        // The oldest dirty byte was logged by the first sample that holds it: its age is at least
        // this (and at most one poll more).
        Volatile.Write(ref _oldestMs, _count > 0 ? Math.Max(0, now - _sampleTicks[_first]) : 0);
    }

    /// <summary>
    /// A full history merges each pair of samples into one with the earlier time and the later
    /// count: coarser, and it can only make data look older (written back sooner), never younger.
    /// </summary>
    private void Thin()
    {
        Span<long> ticks = stackalloc long[Samples / 2];
        Span<long> added = stackalloc long[Samples / 2];
        for (int i = 0; i < Samples / 2; i++)
        {
            ticks[i] = _sampleTicks[(_first + 2 * i) % Samples];
            added[i] = _sampleAdded[(_first + 2 * i + 1) % Samples];
        }
        ticks.CopyTo(_sampleTicks);
        added.CopyTo(_sampleAdded);
        _first = 0;
        _count = Samples / 2;
    }

    private long ForegroundRequests()
    {
        var s = _cache.Stats;
        return s[Counter.ReadRequests] + s[Counter.WriteRequests] + s[Counter.Flushes] + s[Counter.DiscardRequests]
            + s[Counter.ZeroRequests] + s[Counter.PrefetchRequests];
    }
}

/// <summary>What write-back is doing, as <c>stat</c> shows it.</summary>
public enum PacingState
{
    Idle, WaitingBusy, RunningIdle, RunningAge, RunningWatermark, RunningSpace, Draining, RateLimited,
}
