using System.Diagnostics;

namespace PCache.Engine.Cache;

/// <summary>A request's place in the <see cref="RequestTracker"/>; lives on the request's stack.</summary>
internal struct RequestTicket
{
    internal int Slot;
    internal int Stripe;
    internal bool InPmem;
}

/// <summary>Requests inside one backing's cache, and how many have waited longer than a threshold.</summary>
public readonly record struct RequestCensus(int InFlight, int Stuck, double OldestSeconds, int NewlyStuck);

/// <summary>
/// Counts the requests inside one backing's cache so that stopping it never pulls pmem out from
/// under one. A request blocked on a slow backing cannot be interrupted, so a request counts as
/// "in pmem" except while it waits on the backing: stop closes the door, waits (bounded) for every
/// request to leave, then only for those in pmem; one that comes back from the backing later fails
/// without touching pmem. Each request also leaves its start time in a slot, so stuck requests can
/// be counted and reported once.
/// </summary>
internal sealed class RequestTracker
{
    private const int SlotCount = 256; // more than the NBD server ever runs at once; extra requests are counted, not timed
    private const int Stride = 16;     // one cache line per stripe: requests on different CPUs never share one
    private readonly long[] _started = new long[SlotCount]; // Stopwatch timestamps, 0 = free
    private readonly int[] _reported = new int[SlotCount];
    // Per-CPU stripes of two counts: requests inside, and those that may touch pmem now. A
    // request enters and leaves on the stripe it started on, so no stripe goes below zero.
    private readonly int[] _inside;
    private readonly int[] _inPmem;
    private readonly int _mask;
    private volatile bool _closed;

    public RequestTracker()
    {
        int stripes = 1;
        while (stripes < Environment.ProcessorCount) stripes <<= 1;
        _mask = stripes - 1;
        _inside = new int[stripes * Stride];
        _inPmem = new int[stripes * Stride];
    }

    public bool Closed => _closed;

    public RequestTicket Enter()
    {
        int stripe = (Thread.GetCurrentProcessorId() & _mask) * Stride;
        // Count first, then look at the door: with stop doing the opposite, one of the two sees the other.
        Interlocked.Increment(ref _inPmem[stripe]);
        if (_closed)
        {
            Interlocked.Decrement(ref _inPmem[stripe]);
            throw new CacheStoppedException();
        }
        Interlocked.Increment(ref _inside[stripe]);
        return new RequestTicket { Slot = TakeSlot(), Stripe = stripe, InPmem = true };
    }

    public void Exit(ref RequestTicket ticket)
    {
        if (ticket.InPmem) Interlocked.Decrement(ref _inPmem[ticket.Stripe]);
        ticket.InPmem = false;
        if (ticket.Slot >= 0) Volatile.Write(ref _started[ticket.Slot], 0);
        ticket.Slot = -1;
        Interlocked.Decrement(ref _inside[ticket.Stripe]);
    }

    /// <summary>The request is about to wait on the backing: stop need not wait for it.</summary>
    public void ToBacking(ref RequestTicket ticket)
    {
        ticket.InPmem = false;
        Interlocked.Decrement(ref _inPmem[ticket.Stripe]);
    }

    /// <summary>Back from the backing; false when the cache stopped meanwhile (pmem must not be touched).</summary>
    public bool FromBacking(ref RequestTicket ticket)
    {
        Interlocked.Increment(ref _inPmem[ticket.Stripe]);
        if (_closed)
        {
            Interlocked.Decrement(ref _inPmem[ticket.Stripe]);
            return false;
        }
        ticket.InPmem = true;
        return true;
    }

    /// <summary>
    /// Refuse new requests and wait up to <paramref name="limit"/> for the ones inside; if some are
    /// still in pmem, <paramref name="release"/> wakes those waiting inside the engine (for space),
    /// and up to <paramref name="limit"/> more is given to them. True when no request can touch
    /// pmem any more; requests still waiting on the backing will fail when they return.
    /// </summary>
    public bool Close(TimeSpan limit, Action release)
    {
        _closed = true;
        Interlocked.MemoryBarrier();
        // Requests left only on the backing need nothing more; waking the space waiters costs the
        // stop its log space, so it is done only when one of them is really in the way.
        if (WaitFor(_inside, limit) || Sum(_inPmem) == 0) return true;
        release();
        return WaitFor(_inPmem, limit);
    }

    private bool WaitFor(int[] counts, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (Sum(counts) > 0)
        {
            if (clock.Elapsed >= limit) return false;
            Thread.Sleep(5);
        }
        return true;
    }

    // No stripe goes below zero, so a zero sum means no request was in pmem throughout the
    // scan; one that raised a stripe after it was read then saw the door closed and backed off.
    private int Sum(int[] counts)
    {
        int sum = 0;
        for (int i = 0; i <= _mask; i++) sum += Volatile.Read(ref counts[i * Stride]);
        return sum;
    }

    /// <summary>
    /// Requests inside now, and those started more than <paramref name="threshold"/> ago; with
    /// <paramref name="report"/>, stuck ones not reported before are marked and counted as new.
    /// </summary>
    public RequestCensus Census(TimeSpan threshold, bool report)
    {
        long now = Stopwatch.GetTimestamp();
        long limit = (long)(threshold.TotalSeconds * Stopwatch.Frequency);
        long oldest = 0;
        int stuck = 0, fresh = 0;
        for (int i = 0; i < SlotCount; i++)
        {
            long started = Volatile.Read(ref _started[i]);
            if (started == 0 || now - started < limit) continue;
            stuck++;
            oldest = Math.Max(oldest, now - started);
            if (report && Interlocked.Exchange(ref _reported[i], 1) == 0) fresh++;
        }
        return new RequestCensus(Math.Max(0, Sum(_inside)), stuck, (double)oldest / Stopwatch.Frequency, fresh);
    }

    private int TakeSlot()
    {
        long now = Stopwatch.GetTimestamp();
        int start = (Thread.GetCurrentProcessorId() * 16) & (SlotCount - 1);
        for (int n = 0; n < SlotCount; n++)
        {
            int i = (start + n) & (SlotCount - 1);
            if (Volatile.Read(ref _started[i]) == 0 && Interlocked.CompareExchange(ref _started[i], now, 0) == 0)
            {
                Volatile.Write(ref _reported[i], 0);
                return i;
            }
        }
        return -1;
    }
}
