using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Cache;

/// <summary>
/// key_tail (moved by GC) and dirty_tail (moved by write-back), each in two replicas. Every update
/// goes to the replica that does not hold the newest copy (unlike the kernel's tail update, which
/// overwrites the newest copy first after a restart).
/// </summary>
internal sealed class LogTails
{
    private readonly PmemRegion _pmem;
    private readonly int _backingId;
    private ReplicaState _keyState, _dirtyState;
    private LogPosition _keyTail, _dirtyTail;
    private readonly object _lock = new();

    public LogTails(PmemRegion pmem, int backingId)
    {
        _pmem = pmem;
        _backingId = backingId;
    }

    public LogPosition KeyTail { get { lock (_lock) return _keyTail; } }

    public LogPosition DirtyTail { get { lock (_lock) return _dirtyTail; } }

    /// <summary>Fresh backing: both tails at the start of cache segment 0, stale replicas wiped.</summary>
    public void Init()
    {
        _pmem.StoreZero(Geometry.KeyTailReplica(_backingId, 0), 4 * Geometry.TailRecordSize);
        _pmem.Fence();
        _keyState = _dirtyState = ReplicaState.None;
        SetDirtyTail(new LogPosition(0, 0));
        SetKeyTail(new LogPosition(0, 0));
    }

    public void Load(uint segmentCount, int dataSize)
    {
        (_keyTail, _keyState) = LoadOne(Geometry.KeyTailReplica(_backingId, 0), "key_tail", segmentCount, dataSize);
        (_dirtyTail, _dirtyState) = LoadOne(Geometry.DirtyTailReplica(_backingId, 0), "dirty_tail", segmentCount, dataSize);
    }

    private (LogPosition, ReplicaState) LoadOne(long at, string what, uint segmentCount, int dataSize)
    {
        var r0 = _pmem.Span(at, Geometry.TailRecordSize);
        var r1 = _pmem.Span(at + Geometry.TailRecordSize, Geometry.TailRecordSize);
        int latest = Replica.Latest(r0, r1);
        if (latest < 0) throw new MediaException($"backing {_backingId} {what}", at, "both replicas are corrupt");
        var r = latest == 0 ? r0 : r1;
        var pos = LogPosition.Decode(r, $"backing {_backingId} {what}", at + latest * Geometry.TailRecordSize, segmentCount, dataSize);
        return (pos, new ReplicaState { Slot = latest, Seq = Replica.Seq(r) });
    }

    /// <summary>Durable on return: a reclaimed segment is reused (zeroed, re-generated) right after.</summary>
    public void SetKeyTail(LogPosition pos)
    {
        // Batched media: the dirty_tail GC read (staged by write-back) is durable before the
        // key_tail it bounds. Outside the lock: write-back's staging never waits for this sync.
        _pmem.Commit();
        lock (_lock)
        {
            Write(Geometry.KeyTailReplica(_backingId, 0), ref _keyState, pos, durable: true);
            _keyTail = pos;
        }
    }

    /// <summary>
    /// Staged: durable at the next commit (a stale dirty_tail only repeats write-back). The caller
    /// has committed the ksets it moves past (write-back reads only durable ksets).
    /// </summary>
    public void SetDirtyTail(LogPosition pos)
    {
        lock (_lock)
        {
            Write(Geometry.DirtyTailReplica(_backingId, 0), ref _dirtyState, pos, durable: false);
            _dirtyTail = pos;
        }
    }

    private void Write(long at, ref ReplicaState state, LogPosition pos, bool durable)
    {
        var next = state.Next();
        Span<byte> rec = stackalloc byte[Geometry.TailRecordSize];
        pos.Encode(rec);
        Replica.Seal(rec, next.seq);
        _pmem.Store(at + next.slot * Geometry.TailRecordSize, rec);
        if (durable) _pmem.Fence();
        else _pmem.Stage();
        state.Commit(next);
    }
}
