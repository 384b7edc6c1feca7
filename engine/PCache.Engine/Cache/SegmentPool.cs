using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Cache;

/// <summary>
/// The segments of one backing: where each lives, its reference count (one per logged key with
/// data, one while a data head fills it), its generation, and the used/free map. Data allocations
/// leave <see cref="LogReserve"/> segments free so the key log can always be extended, which is
/// what lets write-back and GC make progress when writers fill the cache.
/// </summary>
internal sealed class SegmentPool
{
    public const int LogReserve = 2;
    private const int RefStride = 16; // one cache line per counter: two data heads never share one
    private readonly PmemRegion _pmem;
    private readonly int _shift;
    private readonly uint[] _phys;
    private readonly int[] _refs;
    private readonly ulong[] _gen;
    private readonly ReplicaState[] _genState;
    private readonly bool[] _used;
    private readonly object _lock = new();
    private int _free;
    private int _hint;
    private volatile bool _stopping;

    public SegmentPool(PmemRegion pmem, int segmentShift, uint[] physicalIds)
    {
        _pmem = pmem;
        _shift = segmentShift;
        _phys = physicalIds;
        int n = physicalIds.Length;
        _refs = new int[n * RefStride];
        _gen = new ulong[n];
        _genState = new ReplicaState[n];
        _used = new bool[n];
        _free = n;
        DataSize = Geometry.SegmentDataSize(segmentShift);
    }

    public int Count => _phys.Length;

    public int DataSize { get; }

    public int Used => Count - Volatile.Read(ref _free);

    public int Free => Volatile.Read(ref _free);

    /// <summary>Writers currently waiting for a free segment.</summary>
    public int Waiters { get; private set; }

    /// <summary>Raised (outside any pool lock) when a writer starts waiting for space.</summary>
    public Action? SpaceNeeded;

    /// <summary>
    /// Asked (outside any pool lock) while a writer waits: why no segment can ever be freed, or
    /// null while waiting can still succeed. A non-null answer fails the wait with that reason.
    /// </summary>
    public Func<string?>? Hopeless;

    public long DataOffset(uint segment) => Geometry.SegmentBase(_shift, _phys[segment]) + Geometry.SegmentHeaderSize;

    public uint PhysicalId(uint segment) => _phys[segment];

    public ulong Generation(uint segment) => Volatile.Read(ref _gen[segment]);

    public int RefCount(uint segment) => Volatile.Read(ref _refs[segment * RefStride]);

    /// <summary>
    /// Load each segment's generation. Unlike dm-pcache (no valid replica reads as 0), a segment
    /// without one is refused: every segment of a backing got an initialised generation before
    /// the backing was recorded, and a crash tears at most the replica being written, so a segment
    /// with none was never initialised or is damaged, and handing it out could revive stale keys.
    /// </summary>
    public void LoadGenerations()
    {
        for (uint s = 0; s < Count; s++)
        {
            long at = Geometry.SegmentBase(_shift, _phys[s]) + Geometry.SegmentGenOffset;
            var r0 = _pmem.Span(at, Geometry.SegmentGenSize);
            var r1 = _pmem.Span(at + Geometry.SegmentGenSize, Geometry.SegmentGenSize);
            int latest = Replica.Latest(r0, r1);
            if (latest < 0)
                throw new MediaException("segment_gen", at, $"segment {s} (physical {_phys[s]}) has no valid generation replica");
            var r = latest == 0 ? r0 : r1;
            _gen[s] = SegmentHeader.DecodeGen(r);
            _genState[s] = new ReplicaState { Slot = latest, Seq = Replica.Seq(r) };
        }
    }

    /// <summary>Mark a segment used during replay (log segments and segments that keys point into).</summary>
    public void MarkUsed(uint segment)
    {
        lock (_lock)
        {
            if (_used[segment]) return;
            _used[segment] = true;
            _free--;
        }
    }

    public bool IsUsed(uint segment) => _used[segment];

    public void AddRef(uint segment) => Interlocked.Increment(ref _refs[segment * RefStride]);

    /// <summary>Drop one reference; the last one invalidates the segment and frees it.</summary>
    public void DropRef(uint segment)
    {
        int left = Interlocked.Decrement(ref _refs[segment * RefStride]);
        if (left == 0) Invalidate(segment);
        else if (left < 0) throw new InvalidOperationException($"segment {segment} reference count below zero");
    }

    /// <summary>
    /// Bump and persist the generation before the segment can be reused, so every key that still
    /// points into it reads as stale, in DRAM now and after a crash.
    /// </summary>
    private void Invalidate(uint segment)
    {
        ulong gen = _gen[segment] + 1;
        var next = _genState[segment].Next();
        Span<byte> rec = stackalloc byte[Geometry.SegmentGenSize];
        SegmentHeader.EncodeGen(rec, gen);
        Replica.Seal(rec, next.seq);
        long at = Geometry.SegmentBase(_shift, _phys[segment]) + Geometry.SegmentGenOffset + next.slot * Geometry.SegmentGenSize;
        _pmem.Store(at, rec);
        _pmem.Fence();
        _genState[segment].Commit(next);
        Volatile.Write(ref _gen[segment], gen);
        Release(segment);
    }

    /// <summary>Return a segment to the free map (log segments, and invalidated data segments).</summary>
    public void Release(uint segment)
    {
        lock (_lock)
        {
            if (!_used[segment]) throw new InvalidOperationException($"segment {segment} freed twice");
            _used[segment] = false;
            _free++;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>
    /// Take a free segment. Data allocations keep the log reserve; with <paramref name="wait"/> they
    /// wait for write-back and GC instead of failing. Returns -1 when none is free and not waiting.
    /// </summary>
    public int Allocate(bool forLog, bool wait)
    {
        int keep = forLog ? 0 : LogReserve;
        lock (_lock)
        {
            while (true)
            {
                if (_free > keep)
                {
                    for (int i = 0; i < Count; i++)
                    {
                        int s = (_hint + i) % Count;
                        if (_used[s]) continue;
                        _used[s] = true;
                        _free--;
                        _hint = s + 1;
                        return s;
                    }
                }
                if (!wait || _stopping) return -1;
                Waiters++;
                string? hopeless;
                Monitor.Exit(_lock);
                try
                {
                    SpaceNeeded?.Invoke();
                    hopeless = Hopeless?.Invoke();
                }
                finally { Monitor.Enter(_lock); }
                if (hopeless is not null)
                {
                    Waiters--;
                    throw new CacheFullException(hopeless);
                }
                if (_free <= keep && !_stopping) Monitor.Wait(_lock, 50);
                Waiters--;
            }
        }
    }

    /// <summary>Wake every waiter and make further waits fail (cache stopping).</summary>
    public void Stop()
    {
        _stopping = true;
        lock (_lock) Monitor.PulseAll(_lock);
    }

    /// <summary>Write a fresh header for a segment joining a backing's chain (format or attach).</summary>
    public static void InitHeader(PmemRegion pmem, int shift, uint physical, bool hasNext, uint nextPhysical)
    {
        long seg = Geometry.SegmentBase(shift, physical);
        pmem.StoreZero(seg, Geometry.SegmentHeaderSize);
        pmem.Fence();
        Span<byte> rec = stackalloc byte[Geometry.SegmentInfoSize];
        SegmentHeader.EncodeInfo(rec, hasNext, nextPhysical);
        Replica.Seal(rec, 1);
        pmem.Store(seg, rec);
        Span<byte> gen = stackalloc byte[Geometry.SegmentGenSize];
        SegmentHeader.EncodeGen(gen, 0);
        Replica.Seal(gen, 1);
        pmem.Store(seg + Geometry.SegmentGenOffset, gen);
        pmem.Fence();
    }
}
