using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Cache;

/// <summary>
/// The DRAM ksets and the head of the key log. A key goes to the kset of its 4 MiB region, so
/// overlapping keys always share a kset and log order equals index order. A kset reaches the log
/// when it holds 128 keys, on FUA/FLUSH, or after at most a second. Log segments are zeroed when
/// they join the log, so everything past key_head is already a terminator and closing a kset is a
/// single store and fence.
/// </summary>
internal sealed class KeyLog
{
    private readonly PmemRegion _pmem;
    private readonly SegmentPool _pool;
    private readonly PendingKset[] _ksets;
    private readonly object _headLock = new();
    private LogPosition _head;
    private long _closed;

    private sealed class PendingKset
    {
        public readonly object Lock = new();
        public readonly byte[] Buffer = new byte[Kset.MaxSize];
        public int Keys;
        public long FirstKeyTicks;
    }

    public KeyLog(PmemRegion pmem, SegmentPool pool, int ksets)
    {
        _pmem = pmem;
        _pool = pool;
        _ksets = new PendingKset[ksets];
        for (int i = 0; i < ksets; i++) _ksets[i] = new PendingKset();
    }

    /// <summary>Raised after a kset reached the log (wakes write-back).</summary>
    public Action? Closed;

    public LogPosition Head { get { lock (_headLock) return _head; } }

    public long ClosedCount => Interlocked.Read(ref _closed);

    public int KsetFor(long offset) => (int)((ulong)(offset >> Geometry.SubtreeShift) % (ulong)_ksets.Length);

    /// <summary>Set the head after replay and wipe whatever a torn kset left past it.</summary>
    public void Restore(LogPosition head)
    {
        _head = head;
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

    /// <summary>Queue a key; with <paramref name="close"/> its kset reaches the log before returning.</summary>
    public void Append(int kset, in KeyRecord key, bool close)
    {
        var k = _ksets[kset];
        lock (k.Lock)
        {
            key.Encode(k.Buffer.AsSpan(Kset.SizeOf(k.Keys), KeyRecord.Size));
            if (k.Keys++ == 0) k.FirstKeyTicks = Environment.TickCount64;
            if (close || k.Keys == Kset.MaxKeys) CloseLocked(k);
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

    /// <summary>Close ksets whose first key has waited at least <paramref name="ageMs"/>.</summary>
    public void CloseOlderThan(long ageMs)
    {
        long now = Environment.TickCount64;
        foreach (var k in _ksets)
        {
            if (Volatile.Read(ref k.Keys) == 0 || now - Volatile.Read(ref k.FirstKeyTicks) < ageMs) continue;
            lock (k.Lock)
            {
                if (k.Keys > 0 && now - k.FirstKeyTicks >= ageMs) CloseLocked(k);
            }
        }
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
        lock (_headLock)
        {
            // Always leave room for a LAST kset behind this one.
            if (_pool.DataSize - _head.Offset < size + Kset.HeaderSize) SwitchSegment();
            _pmem.Store(_pool.DataOffset(_head.Segment) + _head.Offset, k.Buffer.AsSpan(0, size));
            _pmem.Fence();
            _head = _head with { Offset = _head.Offset + (uint)size };
        }
        k.Keys = 0;
        Interlocked.Increment(ref _closed);
        Closed?.Invoke();
    }

    private void SwitchSegment()
    {
        int next = _pool.Allocate(forLog: true, wait: true);
        if (next < 0) throw new CacheStoppedException();
        PrepareLogSegment((uint)next);
        Span<byte> last = stackalloc byte[Kset.HeaderSize];
        Kset.EncodeLast(last, (uint)next);
        _pmem.Store(_pool.DataOffset(_head.Segment) + _head.Offset, last);
        _pmem.Fence();
        _head = new LogPosition((uint)next, 0);
    }
}

/// <summary>The cache is stopping; the request was not carried out.</summary>
public sealed class CacheStoppedException() : IOException("the cache is stopping");
