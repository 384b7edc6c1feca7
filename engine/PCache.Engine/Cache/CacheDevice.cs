using PCache.Engine.Backing;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Cache;

/// <summary>
/// A formatted cache device: the superblock, the backing table and which segment belongs to which
/// backing. Backings are created, reattached (replayed) and removed here; each running backing is
/// a <see cref="BackingCache"/>.
/// </summary>
public sealed class CacheDevice : IDisposable
{
    private readonly object _lock = new();
    private readonly BackingInfo?[] _infos = new BackingInfo?[Geometry.MaxBackings];
    private readonly ReplicaState[] _infoState = new ReplicaState[Geometry.MaxBackings];
    private readonly BackingCache?[] _running = new BackingCache?[Geometry.MaxBackings];
    private readonly int[] _owner; // backing id owning each physical segment, -1 free

    private CacheDevice(PmemRegion pmem, Superblock sb)
    {
        Pmem = pmem;
        Superblock = sb;
        _owner = new int[sb.SegmentCount];
        Array.Fill(_owner, -1);
    }

    public PmemRegion Pmem { get; }

    public Superblock Superblock { get; }

    /// <summary>Smallest device: the table plus a few segments of the chosen size.</summary>
    public static long MinimumSize(int segmentShift) => Geometry.SegmentsOffset + (4L << segmentShift);

    /// <summary>True when the device holds no PCache superblock.</summary>
    public static bool IsBlank(PmemRegion pmem) => Superblock.IsBlank(pmem.Span(Geometry.SuperblockOffset, Geometry.SuperblockSize));

    /// <summary>Write a new, empty cache device (the caller decides whether overwriting is allowed).</summary>
    public static CacheDevice Format(PmemRegion pmem, int segmentShift = Geometry.DefaultSegmentShift)
    {
        if (segmentShift < Geometry.MinSegmentShift || segmentShift > Geometry.MaxSegmentShift)
            throw new ArgumentOutOfRangeException(nameof(segmentShift));
        if (pmem.Length < MinimumSize(segmentShift))
            throw new PmemException($"{pmem.Length} bytes is too small for a cache device with {1 << segmentShift >> 20} MiB segments (at least {MinimumSize(segmentShift)})");
        // Superblock last: a crash mid-format leaves a blank device that formats again.
        pmem.StoreZero(0, Geometry.SegmentsOffset);
        pmem.Fence();
        var sb = new Superblock(BitConverter.IsLittleEndian ? 0 : Superblock.FlagBigEndian, Superblock.CurrentVersion,
            segmentShift, Geometry.SegmentsFor(pmem.Length, segmentShift), Geometry.MaxBackings, Guid.NewGuid(),
            DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Span<byte> b = stackalloc byte[Geometry.SuperblockSize];
        sb.Encode(b);
        pmem.Store(Geometry.SuperblockOffset, b);
        pmem.Fence();
        return new CacheDevice(pmem, sb);
    }

    /// <summary>Read the superblock and backing table; refuses anything it cannot trust.</summary>
    public static CacheDevice Open(PmemRegion pmem)
    {
        var sbBytes = pmem.Span(Geometry.SuperblockOffset, Geometry.SuperblockSize);
        if (Superblock.IsBlank(sbBytes)) throw new MediaException("superblock", Geometry.SuperblockOffset, "device is not formatted");
        var dev = new CacheDevice(pmem, Superblock.Decode(sbBytes, pmem.Length));
        for (int id = 0; id < Geometry.MaxBackings; id++) dev.LoadSlot(id);
        return dev;
    }

    private void LoadSlot(int id)
    {
        long a0 = Geometry.BackingInfoReplica(id, 0), a1 = Geometry.BackingInfoReplica(id, 1);
        var r0 = Pmem.Span(a0, Geometry.BackingInfoSize);
        var r1 = Pmem.Span(a1, Geometry.BackingInfoSize);
        int latest = Replica.Latest(r0, r1);
        _infoState[id] = ReplicaState.None;
        if (latest < 0)
        {
            // One torn replica beside a blank one is a crash while a backing was being added;
            // two damaged replicas are not something a crash leaves behind.
            if (r0.IndexOfAnyExcept((byte)0) >= 0 && r1.IndexOfAnyExcept((byte)0) >= 0)
                throw new MediaException($"backing_info slot {id}", a0, "both replicas are corrupt");
            return;
        }
        var r = latest == 0 ? r0 : r1;
        var info = BackingInfo.Decode(r, id, latest == 0 ? a0 : a1, Superblock);
        _infoState[id] = new ReplicaState { Slot = latest, Seq = Replica.Seq(r) };
        if (!info.Active || !info.InitDone) return;
        WalkChain(info); // claims the segments, validating the chain
        _infos[id] = info;
    }

    private uint[] WalkChain(BackingInfo info)
    {
        var chain = new uint[info.SegmentCount];
        uint phys = info.FirstSegment;
        for (uint i = 0; i < info.SegmentCount; i++)
        {
            string what = $"backing {info.BackingId} segment chain";
            if (phys >= Superblock.SegmentCount)
                throw new MediaException(what, Geometry.BackingInfoReplica(info.BackingId, 0), $"link {i} names segment {phys} outside the device");
            if (_owner[phys] >= 0 && _owner[phys] != info.BackingId)
                throw new MediaException(what, Geometry.SegmentBase(Superblock.SegmentShift, phys), $"segment {phys} is claimed by backing {_owner[phys]} too");
            if (_owner[phys] == info.BackingId && Array.IndexOf(chain, phys, 0, (int)i) >= 0)
                throw new MediaException(what, Geometry.SegmentBase(Superblock.SegmentShift, phys), $"loops back to segment {phys}");
            _owner[phys] = info.BackingId;
            chain[i] = phys;
            long seg = Geometry.SegmentBase(Superblock.SegmentShift, phys);
            var s0 = Pmem.Span(seg, Geometry.SegmentInfoSize);
            var s1 = Pmem.Span(seg + Geometry.ReplicaStride, Geometry.SegmentInfoSize);
            int latest = Replica.Latest(s0, s1);
            if (latest < 0) throw new MediaException("segment_info", seg, $"both replicas of segment {phys} are corrupt");
            var (hasNext, next) = SegmentHeader.DecodeInfo(latest == 0 ? s0 : s1, seg + latest * Geometry.ReplicaStride);
            if (i + 1 < info.SegmentCount)
            {
                if (!hasNext) throw new MediaException("segment_info", seg, $"chain of backing {info.BackingId} ends after {i + 1} of {info.SegmentCount} segments");
                phys = next;
            }
        }
        return chain;
    }

    /// <summary>Backings recorded on the device (attached or not).</summary>
    public IReadOnlyList<BackingInfo> StoredBackings
    {
        get { lock (_lock) return _infos.Where(i => i is not null).Select(i => i!).ToList(); }
    }

    public BackingCache? Running(int id)
    {
        lock (_lock) return id >= 0 && id < _running.Length ? _running[id] : null;
    }

    public IReadOnlyList<BackingCache> RunningBackings
    {
        get { lock (_lock) return _running.Where(b => b is not null).Select(b => b!).ToList(); }
    }

    public int FreeSegments
    {
        get { lock (_lock) return _owner.Count(o => o < 0); }
    }

    /// <summary>Replay a recorded backing and start caching it again.</summary>
    public BackingCache Attach(int id, IBackingDevice device)
    {
        lock (_lock)
        {
            var info = (id >= 0 && id < _infos.Length ? _infos[id] : null) ?? throw new ArgumentException($"no backing {id} on this cache device");
            if (_running[id] is not null) throw new InvalidOperationException($"backing {id} is already running");
            var chain = WalkChain(info);
            var cache = new BackingCache(this, info, device, chain, fresh: false);
            _running[id] = cache;
            return cache;
        }
    }

    /// <summary>Give a new backing its share of segments and start caching it.</summary>
    public BackingCache Create(BackingOptions options, IBackingDevice device)
    {
        if (options.GcPercent < BackingInfo.GcPercentMin || options.GcPercent > BackingInfo.GcPercentMax)
            throw new ArgumentOutOfRangeException(nameof(options), $"gc_percent must be {BackingInfo.GcPercentMin}..{BackingInfo.GcPercentMax}");
        if (options.Pacing.Problem() is { } pacing) throw new ArgumentOutOfRangeException(nameof(options), pacing);
        if (System.Text.Encoding.UTF8.GetByteCount(options.Path) > BackingInfo.MaxPathBytes)
            throw new ArgumentException($"backing path longer than {BackingInfo.MaxPathBytes} bytes");
        long segSize = Superblock.SegmentSize;
        long want = (options.CacheSize + segSize - 1) / segSize;
        int minimum = SegmentPool.LogReserve + Math.Max(2, Environment.ProcessorCount) + 2;
        lock (_lock)
        {
            int id = Array.FindIndex(_infos, i => i is null);
            if (id < 0) throw new InvalidOperationException($"the cache device already holds {Geometry.MaxBackings} backings");
            var free = Enumerable.Range(0, _owner.Length).Where(s => _owner[s] < 0).Select(s => (uint)s).ToArray();
            if (want < minimum)
                throw new ArgumentException($"cache size {options.CacheSize} gives {want} segments; a backing needs at least {minimum} ({minimum * segSize} bytes)");
            if (want > free.Length)
                throw new InvalidOperationException($"cache size {options.CacheSize} needs {want} segments but only {free.Length} are free ({(long)free.Length * segSize} bytes)");
            var chain = free.Take((int)want).ToArray();
            // Segment headers first, the backing's record last: a crash in between leaves the
            // segments unclaimed and the slot empty.
            for (int i = 0; i < chain.Length; i++)
                SegmentPool.InitHeader(Pmem, Superblock.SegmentShift, chain[i], i + 1 < chain.Length, i + 1 < chain.Length ? chain[i + 1] : 0);
            Pmem.StoreZero(Geometry.BackingSlot(id), Geometry.BackingSlotStride);
            Pmem.Fence();
            _infoState[id] = ReplicaState.None;
            uint flags = BackingInfo.WithGcPercent(BackingInfo.FlagActive, options.GcPercent)
                | (options.DataCrc ? BackingInfo.FlagDataCrc : 0) | (options.PersistOnWrite ? BackingInfo.FlagPersistOnWrite : 0);
            flags = BackingInfo.WithMode(flags, options.Mode);
            var info = new BackingInfo
            {
                BackingId = id,
                Flags = flags,
                FirstSegment = chain[0],
                SegmentCount = (uint)chain.Length,
                BackingSize = device.Size & ~511L,
                Fingerprint = options.Fingerprint,
                Incarnation = (ulong)Random.Shared.NextInt64(),
                Queues = options.Queues,
                Path = options.Path,
                Pacing = options.Pacing,
            };
            var cache = new BackingCache(this, info, device, chain, fresh: true);
            info = WriteInfo(info with { Flags = info.Flags | BackingInfo.FlagInitDone });
            cache.InfoChanged(info);
            foreach (var s in chain) _owner[s] = id;
            _infos[id] = info;
            _running[id] = cache;
            return cache;
        }
    }

    /// <summary>
    /// Forget a backing whose cache holds no dirty data (the caller drained it), returning its
    /// segments to the device. A backing with dirty data is refused: nothing is ever dropped.
    /// </summary>
    public void Remove(int id)
    {
        lock (_lock)
        {
            var info = (id >= 0 && id < _infos.Length ? _infos[id] : null) ?? throw new ArgumentException($"no backing {id} on this cache device");
            var running = _running[id];
            if (running is not null)
            {
                if (running.Log.PendingKeys > 0 || running.Tails.DirtyTail != running.Log.Head)
                    throw new InvalidOperationException($"backing {id} still has dirty data; write it back first");
                running.Stop();
                _running[id] = null;
            }
            WriteInfo(info with { Flags = info.Flags & ~BackingInfo.FlagActive });
            _infos[id] = null;
            for (int s = 0; s < _owner.Length; s++)
                if (_owner[s] == id) _owner[s] = -1;
        }
    }

    internal BackingInfo UpdateInfo(BackingInfo info)
    {
        lock (_lock)
        {
            info = WriteInfo(info);
            _infos[info.BackingId] = info;
            return info;
        }
    }

    private BackingInfo WriteInfo(BackingInfo info)
    {
        var next = _infoState[info.BackingId].Next();
        Span<byte> b = stackalloc byte[Geometry.BackingInfoSize];
        info.Encode(b);
        Replica.Seal(b, next.seq);
        Pmem.Store(Geometry.BackingInfoReplica(info.BackingId, next.slot), b);
        Pmem.Fence();
        _infoState[info.BackingId].Commit(next);
        return info;
    }

    internal void Detached(BackingCache cache)
    {
        lock (_lock)
        {
            if (_running[cache.Id] == cache) _running[cache.Id] = null;
        }
    }

    /// <summary>Stop every backing gracefully (ksets persisted; dirty data stays in pmem).</summary>
    public void Dispose()
    {
        foreach (var b in RunningBackings) b.Dispose();
    }
}
