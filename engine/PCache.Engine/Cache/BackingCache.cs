using PCache.Engine.Backing;
using PCache.Engine.Background;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Cache;

/// <summary>
/// One backing device cached in its share of a cache device: dm-pcache's "cache". It owns the
/// segments, data heads, ksets, index and tails of that backing and runs its write-back, GC and
/// kset-flush workers. Requests are synchronous and thread-safe.
/// </summary>
public sealed partial class BackingCache : IDisposable
{
    internal readonly PmemRegion Pmem;
    internal readonly IBackingDevice Device;
    internal readonly SegmentPool Pool;
    internal readonly KeyLog Log;
    internal readonly LogTails Tails;
    private readonly CacheDevice _owner;
    private readonly KeyArena _arena = new();
    private readonly KeyTree[] _trees;
    private readonly DataHead[] _heads;
    private readonly Writeback _writeback;
    private readonly GarbageCollector _gc;
    private readonly KsetFlusher _flusher;
    private readonly RequestTracker _requests = new();
    private uint _placeholderToken;
    private long _dirtyBytesBase;
    private volatile bool _stopped;
    private int _disposed;

    internal BackingCache(CacheDevice owner, BackingInfo info, IBackingDevice device, uint[] physicalSegments, bool fresh)
    {
        _owner = owner;
        Pmem = owner.Pmem;
        Info = info;
        Device = device;
        if (device.Size < info.BackingSize)
            throw new IOException($"{device.Path}: {device.Size} bytes, smaller than the {info.BackingSize} the cache recorded");
        Pool = new SegmentPool(Pmem, owner.Superblock.SegmentShift, physicalSegments);
        // More ksets than CPUs so concurrent writers rarely queue on the same kset lock.
        Log = new KeyLog(Pmem, Pool, Math.Max(8, 4 * Environment.ProcessorCount));
        Tails = new LogTails(Pmem, info.BackingId);
        // Sized from the recorded backing size, which was just checked against the real device.
        long subtrees = (info.BackingSize + Geometry.SubtreeSize - 1) >> Geometry.SubtreeShift;
        if (subtrees > MaxSubtrees)
            throw new IOException($"{device.Path}: {info.BackingSize} bytes is larger than a cache can index ({MaxSubtrees * Geometry.SubtreeSize} bytes)");
        _trees = new KeyTree[Math.Max(1, subtrees)];
        for (int i = 0; i < _trees.Length; i++) _trees[i] = new KeyTree(_arena);
        int cpus = Math.Max(2, Environment.ProcessorCount);
        _heads = new DataHead[cpus];
        for (int i = 0; i < cpus; i++) _heads[i] = new DataHead();

        if (fresh)
        {
            Pool.LoadGenerations(); // the headers just written: the next generation update must go to the other replica
            Log.PrepareLogSegment(0);
            Tails.Init();
            Pool.MarkUsed(0);
            Log.Restore(new LogPosition(0, 0));
        }
        else
        {
            Pool.LoadGenerations();
            Tails.Load((uint)Pool.Count, Pool.DataSize);
            Replay();
        }

        _writeback = new Writeback(this);
        _gc = new GarbageCollector(this);
        _flusher = new KsetFlusher(this);
        Log.Closed = _writeback.Wake;
        Log.SpareTaken = _flusher.Wake;
        Pool.SpaceNeeded = _flusher.SpaceNeeded;
        Pool.Hopeless = SpaceHopeless;
        _writeback.Start();
        _gc.Start();
        _flusher.Start();
    }

    /// <summary>One index subtree per 4 MiB: 2^26 of them index 256 TiB.</summary>
    internal const long MaxSubtrees = 1L << 26;

    public BackingInfo Info { get; private set; }

    public int Id => Info.BackingId;

    public long Size => Info.BackingSize;

    public string Path => Info.Path;

    public CacheStats Stats { get; } = new();

    public bool DataCrc => Info.DataCrc;

    public bool PersistOnWrite => Info.PersistOnWrite;

    public int GcPercent => Info.GcPercent;

    public TimeSpan ReplayTime { get; private set; }

    public long ReplayKsets { get; private set; }

    public long ReplayKeys { get; private set; }

    /// <summary>Bytes of logged dirty keys not yet written back (superseded data included).</summary>
    public long DirtyBytes => _dirtyBytesBase + Stats[Counter.DirtyBytesAdded] - _writeback.BytesDone;

    public string? WritebackError => _writeback.Error;

    public string? GcError => _gc.Error;

    internal KeyTree TreeFor(long offset) => _trees[offset >> Geometry.SubtreeShift];

    internal int TreeCount => _trees.Length;

    internal KeyTree Tree(int i) => _trees[i];

    internal DataHead HeadForThisCpu() => _heads[Thread.GetCurrentProcessorId() % _heads.Length];

    internal uint NextPlaceholderToken() => Interlocked.Increment(ref _placeholderToken);

    internal void WakeGc() => _gc.Wake();

    internal void WakeWriteback() => _writeback.Wake();

    internal void InfoChanged(BackingInfo info) => Info = info;

    /// <summary>Persist a new gc_percent (0..90) in the backing's record.</summary>
    public void SetGcPercent(int percent)
    {
        if (percent < BackingInfo.GcPercentMin || percent > BackingInfo.GcPercentMax)
            throw new ArgumentOutOfRangeException(nameof(percent), $"gc_percent must be {BackingInfo.GcPercentMin}..{BackingInfo.GcPercentMax}");
        Info = _owner.UpdateInfo(Info with { Flags = BackingInfo.WithGcPercent(Info.Flags, percent) });
        _gc.Wake();
    }

    /// <summary>
    /// Close every kset and wait until write-back has copied all of them to the backing and
    /// flushed it. Reports the dirty bytes left as it goes; cancellation leaves the cache as is.
    /// </summary>
    public void Drain(CancellationToken cancel = default, Action<long>? progress = null)
    {
        Interlocked.Increment(ref _draining); // pacing steps aside (CachePacing)
        try { DrainCore(cancel, progress); }
        finally { Interlocked.Decrement(ref _draining); }
    }

    private void DrainCore(CancellationToken cancel, Action<long>? progress)
    {
        while (true)
        {
            if (!Log.EnsureRoom(wait: true)) throw new CacheStoppedException();
            Log.CloseAll();
            var head = Log.Head;
            if (Tails.DirtyTail == head && Log.PendingKeys == 0) return;
            if (_writeback.Stuck) throw new IOException(_writeback.Error);
            ThrowIfStopped();
            progress?.Invoke(DirtyBytes);
            _writeback.Wake();
            if (cancel.WaitHandle.WaitOne(50)) cancel.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Waiting for space is hopeless once GC stopped on corrupt media, or once write-back did and
    /// GC has already reclaimed everything up to dirty_tail.
    /// </summary>
    private string? SpaceHopeless()
    {
        if (_gc.Error is { } gc) return gc;
        if (_writeback.Stuck && Tails.KeyTail == Tails.DirtyTail) return _writeback.Error;
        return null;
    }

    public CacheStatus GetStatus()
    {
        long keys = 0;
        foreach (var t in _trees) keys += t.Count;
        return new CacheStatus
        {
            BackingId = Id,
            Path = Path,
            Size = Size,
            SegmentSize = 1 << _owner.Superblock.SegmentShift,
            CacheSegments = Pool.Count,
            UsedSegments = Pool.Used,
            GcPercent = GcPercent,
            DataCrc = DataCrc,
            PersistOnWrite = PersistOnWrite,
            Mode = Mode.Name(),
            Draining = Draining,
            SequentialCutoff = SequentialCutoff,
            ReadAdmission = ReadAdmission,
            DirtyBytes = Math.Max(0, DirtyBytes),
            PendingKeys = Log.PendingKeys,
            KeyHead = Log.Head.ToString(),
            DirtyTail = Tails.DirtyTail.ToString(),
            KeyTail = Tails.KeyTail.ToString(),
            IndexKeys = keys,
            IndexBytes = _arena.Bytes,
            ReplayMilliseconds = ReplayTime.TotalMilliseconds,
            ReplayKsets = ReplayKsets,
            ReplayKeys = ReplayKeys,
            WritebackError = WritebackError,
            GcError = GcError,
            Counters = Stats.Snapshot(),
            Pacing = PacingStatusNow(),
        };
    }

    /// <summary>Requests inside now, and those waiting longer than <paramref name="stuckAfter"/> (with <paramref name="report"/>: how many of them are newly seen).</summary>
    public RequestCensus Requests(TimeSpan stuckAfter, bool report = false) => _requests.Census(stuckAfter, report);

    /// <summary>False when Stop gave up waiting for a request that may still touch pmem: the mapping must then stay.</summary>
    public bool RequestsDrained { get; private set; } = true;

    /// <summary>
    /// True when Stop gave up on write-back I/O the backing never answered: that kset and all after
    /// it stay dirty in pmem (written back on the next start), and the backing call may still read
    /// its data from the mapping, which must then stay.
    /// </summary>
    public bool WritebackAbandoned { get; private set; }

    /// <summary>
    /// After a stop that abandoned write-back: block until its backing call has returned and its
    /// thread has ended. From then on nothing of this cache touches pmem.
    /// </summary>
    public void WaitForAbandonedWriteback() => _writeback.Stop();

    internal void ThrowIfStopped()
    {
        if (_stopped) throw new CacheStoppedException();
    }

    /// <summary>
    /// Graceful stop: new requests are refused, those inside finish (or, after
    /// <paramref name="requestWait"/>, fail), every kset reaches the log, workers end; dirty data
    /// stays safe in pmem. Write-back I/O gets the same time (counted from the start of the stop,
    /// at least a second) and is then abandoned (<see cref="WritebackAbandoned"/>). Returns true
    /// when nothing can touch pmem any more: the requests drained and write-back ended.
    /// </summary>
    public bool Stop(TimeSpan? requestWait = null)
    {
        if (_stopped) return RequestsDrained && !WritebackAbandoned;
        _stopped = true;
        var wait = requestWait ?? TimeSpan.FromSeconds(30);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        // Pool.Stop wakes requests waiting for space; the log may then have no segment to close into.
        RequestsDrained = _requests.Close(wait, Pool.Stop);
        _flusher.Stop();
        Log.EnsureRoom(wait: false);
        try { Log.CloseAll(); }
        catch (CacheStoppedException) { }
        Pmem.Commit();
        Pool.Stop();
        var left = wait - System.Diagnostics.Stopwatch.GetElapsedTime(started);
        WritebackAbandoned = !_writeback.Stop(left > TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
        _gc.Stop();
        Pmem.Commit(); // the last dirty_tail write-back staged
        return RequestsDrained && !WritebackAbandoned;
    }

    /// <summary>Crash tests: stop the workers without persisting anything more.</summary>
    internal void Abandon()
    {
        _stopped = true;
        Pool.Stop();
        _flusher.Stop();
        _writeback.Stop();
        _gc.Stop();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Stop();
        _owner.Detached(this);
    }
}
