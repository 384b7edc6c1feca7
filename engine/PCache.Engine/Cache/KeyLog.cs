using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Cache;

/// <summary>
/// The DRAM ksets and the head of the key log. A key goes to the kset of its 4 MiB region, so
/// overlapping keys always share a kset and log order equals index order. A kset reaches the log
/// when it holds 128 keys, on FUA/FLUSH, or after at most a second. Log segments are zeroed when
/// they join the log, so everything past key_head is already a terminator and closing a kset is a
/// single store and fence.
/// <para>
/// Liveness: a kset is closed under its kset lock and the head lock, often with a subtree lock
/// held by the caller, so a close must never wait for a free segment — write-back and GC are what
/// free segments. The log therefore keeps one spare segment, already allocated and zeroed, and a
/// close that crosses into a new segment takes it. Requests that add keys call
/// <see cref="EnsureRoom"/> before they take any lock: that refills the spare, waiting for GC
/// outside every lock when no segment is free (this is where TRIM and WRITE_ZEROES, which use log
/// space but no data space, wait on a full cache). Between two refills the ksets can only add
/// what they hold plus one key per admitted request, far less than a segment (the kset count is
/// capped to keep it so), so a close finds the spare there. Should it not, the fallback wait holds
/// nothing write-back or GC takes: the head is published lock-free and GC only try-locks subtrees.
/// </para>
/// </summary>
internal sealed class KeyLog
{
    private readonly PmemRegion _pmem;
    private readonly SegmentPool _pool;
    private readonly PendingKset[] _ksets;
    private readonly object _headLock = new();
    private readonly object _refillLock = new();
    private LogPosition _head;
    private long _headBits;   // _head packed, for readers that must never wait on _headLock
    private int _spare = -1;  // prepared next log segment, -1 when none; written under _headLock
    private long _closed;
    private long _closedTicket; // Pmem ticket of the newest kset stored in the log

    private sealed class PendingKset
    {
        public readonly System.Threading.Lock Lock = new();
        public readonly byte[] Buffer = new byte[Kset.MaxSize];
        public int Keys;
        public long FirstKeyTicks;
        public long DataTicket; // Pmem ticket covering the data of every key in the kset
    }

    public KeyLog(PmemRegion pmem, SegmentPool pool, int ksets)
    {
        _pmem = pmem;
        _pool = pool;
        // Everything the DRAM ksets can hold must fit in a quarter of a log segment (see above).
        ksets = Math.Clamp(ksets, 1, Math.Max(1, pool.DataSize / (4 * Kset.MaxSize)));
        _ksets = new PendingKset[ksets];
        for (int i = 0; i < ksets; i++) _ksets[i] = new PendingKset();
    }

    /// <summary>Raised after a kset reached the log (wakes write-back).</summary>
    public Action? Closed;

    /// <summary>Raised (under the head lock: must not block) when a switch took the spare segment.</summary>
    public Action? SpareTaken;

    /// <summary>key_head; lock-free, so write-back and status never wait behind a close.</summary>
    public LogPosition Head
    {
        get
        {
            long bits = Volatile.Read(ref _headBits);
            return new LogPosition((uint)(bits >> 32), (uint)bits);
        }
    }

    private void SetHead(LogPosition head)
    {
        _head = head;
        Volatile.Write(ref _headBits, ((long)head.Segment << 32) | head.Offset);
    }

    /// <summary>True while a spare segment is ready, so the next segment switch cannot wait.</summary>
    public bool HasSpare => Volatile.Read(ref _spare) >= 0;

    /// <summary>
    /// Admission for anything that adds keys or closes ksets: make sure the spare log segment is
    /// there. Call with no lock held. With <paramref name="wait"/> this waits for write-back and GC
    /// to free a segment; returns false when there is none and not waiting (or the cache stops).
    /// </summary>
    public bool EnsureRoom(bool wait)
    {
        if (HasSpare) return true;
        if (wait) Monitor.Enter(_refillLock);
        else if (!Monitor.TryEnter(_refillLock)) return false;
        try
        {
            if (HasSpare) return true;
            int s = _pool.Allocate(forLog: true, wait);
            if (s < 0) return false;
            PrepareLogSegment((uint)s);
            lock (_headLock) Volatile.Write(ref _spare, s);
            return true;
        }
        finally
        {
            Monitor.Exit(_refillLock);
        }
    }

    public long ClosedCount => Interlocked.Read(ref _closed);

    /// <summary>Commit this ticket and every kset stored in the log so far is durable (write-back reads only those).</summary>
    public long ClosedTicket => Volatile.Read(ref _closedTicket);

    public int KsetFor(long offset) => (int)((ulong)(offset >> Geometry.SubtreeShift) % (ulong)_ksets.Length);

    /// <summary>Set the head after replay and wipe whatever a torn kset left past it.</summary>
    public void Restore(LogPosition head)
    {
        if (!LogPosition.LeavesLinkRoom(head.Offset, _pool.DataSize))
            throw new InvalidOperationException($"key head {head} leaves no room for a linking kset"); // replay refuses such media first
        SetHead(head);
        long room = _pool.DataSize - head.Offset;
        long wipe = Math.Min(room, Kset.MaxSize + Kset.HeaderSize) & ~7L;
        var span = _pmem.Span(_pool.DataOffset(head.Segment) + head.Offset, (int)wipe);
        if (span.IndexOfAnyExcept((byte)0) >= 0)
        {
            _pmem.StoreZero(_pool.DataOffset(head.Segment) + head.Offset, wipe);
            _pmem.Fence();
        }
    }

    /// <summary>Zero a segment's data area as it joins the log.</summary>
    public void PrepareLogSegment(uint segment)
    {
        _pmem.StoreZero(_pool.DataOffset(segment), _pool.DataSize);
        _pmem.Fence();
    }

    /// <summary>
    /// Queue a key whose data is already stored; with <paramref name="close"/> its kset reaches the
    /// log before returning, and the returned ticket, committed, makes it durable (a no-op on DAX,
    /// the one sync on batched media, left to the caller so that it happens outside every lock).
    /// </summary>
    public long Append(int kset, in KeyRecord key, bool close)
    {
        var k = _ksets[kset];
        lock (k.Lock)
        {
            key.Encode(k.Buffer.AsSpan(Kset.SizeOf(k.Keys), KeyRecord.Size));
            if (k.Keys++ == 0) k.FirstKeyTicks = Environment.TickCount64;
            k.DataTicket = _pmem.Staged; // read after the key's data store: it covers it
            if (close || k.Keys == Kset.MaxKeys) CloseLocked(k);
            return close ? ClosedTicket : 0;
        }
    }

    /// <summary>FLUSH: every key appended before this call is in the log when it returns.</summary>
    public void CloseAll()
    {
        foreach (var k in _ksets)
        {
            lock (k.Lock) CloseLocked(k);
        }
    }

    /// <summary>Close ksets whose first key has waited at least <paramref name="ageMs"/>; returns how many.</summary>
    public int CloseOlderThan(long ageMs)
    {
        long now = Environment.TickCount64;
        int closed = 0;
        foreach (var k in _ksets)
        {
            if (Volatile.Read(ref k.Keys) == 0 || now - Volatile.Read(ref k.FirstKeyTicks) < ageMs) continue;
            lock (k.Lock)
            {
                if (k.Keys > 0 && now - k.FirstKeyTicks >= ageMs)
                {
                    CloseLocked(k);
                    closed++;
                }
            }
        }
        return closed;
    }

    public int PendingKeys
    {
        get
        {
            int n = 0;
            foreach (var k in _ksets) n += Volatile.Read(ref k.Keys);
            return n;
        }
    }

    private void CloseLocked(PendingKset k)
    {
        if (k.Keys == 0) return;
        int size = Kset.SizeOf(k.Keys);
        Kset.SealKeys(k.Buffer, k.Keys);
        // Batched (non-DAX) media: the data the keys name must be on media before the kset can be,
        // and any dirty page may be written back at any moment, so sync it before the kset is even
        // stored. Outside the head lock, so closers of other ksets join this sync instead of
        // queueing behind it; a FLUSH's later closes find their data already covered.
        _pmem.Commit(k.DataTicket);
        lock (_headLock)
        {
            // Always leave room for a LAST kset behind this one.
            if (_pool.DataSize - _head.Offset < size + Kset.HeaderSize) SwitchSegment();
            _pmem.Store(_pool.DataOffset(_head.Segment) + _head.Offset, k.Buffer.AsSpan(0, size));
            _pmem.Stage();
            Volatile.Write(ref _closedTicket, _pmem.Staged);
            SetHead(_head with { Offset = _head.Offset + (uint)size });
        }
        k.Keys = 0;
        Interlocked.Increment(ref _closed);
        Closed?.Invoke();
    }

    private void SwitchSegment()
    {
        int next = _spare;
        if (next >= 0)
        {
            Volatile.Write(ref _spare, -1);
            SpareTaken?.Invoke();
        }
        else
        {
            // Only reached if the spare was not refilled in time (see the class comment); this wait
            // holds nothing that write-back or GC needs.
            next = _pool.Allocate(forLog: true, wait: true);
            if (next < 0) throw new CacheStoppedException();
            PrepareLogSegment((uint)next);
        }
        Span<byte> last = stackalloc byte[Kset.HeaderSize];
        Kset.EncodeLast(last, (uint)next);
        // The new segment's zeroes were synced when it was prepared; the link itself is durable
        // with the kset stored behind it.
        _pmem.Store(_pool.DataOffset(_head.Segment) + _head.Offset, last);
        _pmem.Stage();
        SetHead(new LogPosition((uint)next, 0));
    }
}

/// <summary>
/// The cache is full and nothing can free space (write-back or GC stopped on corrupt media):
/// the request fails instead of waiting forever.
/// </summary>
public sealed class CacheFullException(string reason) : IOException($"cache full and no space can be reclaimed: {reason}");

/// <summary>The cache is stopping; the request was not carried out.</summary>
public sealed class CacheStoppedException() : IOException("the cache is stopping");
