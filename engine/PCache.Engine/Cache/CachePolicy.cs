using PCache.Engine.Layout;

namespace PCache.Engine.Cache;

// Cache modes and admission: which writes bypass the cache, which read misses fill it.
public sealed partial class BackingCache
{
    private readonly SequentialDetector _sequential = new();
    private readonly MissAdmission _admission = new();
    private long _sequentialCutoff;
    private volatile bool _backingUnflushed;
    private readonly object _modeLock = new();

    public const long MaxSequentialCutoff = 1L << 40;

    public CacheMode Mode => Info.Mode;

    /// <summary>Bytes after which a sequential stream bypasses the cache; 0 (the default) turns
    /// detection off. bcache uses 4 MiB.</summary>
    public long SequentialCutoff
    {
        get => Volatile.Read(ref _sequentialCutoff);
        set
        {
            if (value < 0 || value > MaxSequentialCutoff || value % Geometry.SectorSize != 0)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"sequential cutoff must be 0..{MaxSequentialCutoff} bytes, a multiple of {Geometry.SectorSize}");
            Volatile.Write(ref _sequentialCutoff, value);
        }
    }

    /// <summary>Earlier misses a 64 KiB block needs before a miss fills it; 0 fills every miss.</summary>
    public int ReadAdmission
    {
        get => _admission.Threshold;
        set
        {
            if (value < 0 || value > MissAdmission.MaxThreshold)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"read admission must be 0..{MissAdmission.MaxThreshold}");
            _admission.Threshold = value;
        }
    }

    /// <summary>Dirty data left from an absorbing mode is still being written back.</summary>
    public bool Draining => !Mode.AbsorbsWrites() && DirtyBytes > 0;

    /// <summary>
    /// Persist a new mode. Nothing is lost on the way: dirty data stays in the cache and is
    /// served from it until write-back (which runs all the time) has copied it to the backing.
    /// </summary>
    public void SetMode(CacheMode mode)
    {
        lock (_modeLock)
        {
            if (mode == Info.Mode) return;
            Info = _owner.UpdateInfo(Info with { Flags = BackingInfo.WithMode(Info.Flags, mode) });
        }
        if (!mode.AbsorbsWrites())
        {
            // Close what writers left open so write-back sees it now, not after the kset age.
            if (Log.EnsureRoom(wait: false)) Log.CloseAll();
            _writeback.Wake();
        }
    }

    private bool IsSequential(long offset, int length)
    {
        long cutoff = SequentialCutoff;
        return cutoff > 0 && _sequential.Observe(offset, length) > cutoff;
    }

    /// <summary>Whether a read's misses may be copied into the cache; counts why not.</summary>
    private Counter? FillRefusal(long offset, int length, CacheMode mode)
    {
        if (!mode.FillsOnMiss()) return Counter.BypassModeReadBytes;
        if (IsSequential(offset, length)) return Counter.BypassSequentialReadBytes;
        if (!_admission.Admit(offset)) return Counter.BypassAdmissionReadBytes;
        return null;
    }

    /// <summary>
    /// A write in a mode that acknowledges on the backing, or a sequential write that bypasses
    /// an absorbing mode. Afterwards the cache must hold nothing older than the backing: a cached
    /// copy of the range is replaced (durably, as a replay would bring the old one back), and a
    /// range with dirty data keeps the new data dirty too, since write-back of the older data
    /// would otherwise overwrite it on the backing. Concurrent overlapping writes have no order.
    /// </summary>
    private void WriteDirect(long offset, ReadOnlySpan<byte> data, bool fua, CacheMode mode, ref RequestTicket ticket)
    {
        if (mode.AbsorbsWrites())
        {
            // A bypass is only taken where the cache holds nothing; a failing backing is then
            // absorbed like any write-back write.
            if (Overlap(offset, data.Length, dropPlaceholders: false) != Cached.None || !TryBackingWrite(offset, data, ref ticket))
            {
                WriteCore(offset, data, fua, clean: false);
                return;
            }
            Stats.Add(Counter.BypassSequentialWriteBytes, data.Length);
        }
        else
        {
            BackingWrite(offset, data, ref ticket);
        }
        _backingUnflushed = true;
        if (fua) FlushBacking();
        var cached = Overlap(offset, data.Length, dropPlaceholders: mode != CacheMode.Writethrough);
        if (cached == Cached.None && mode != CacheMode.Writethrough)
        {
            if (!mode.AbsorbsWrites()) Stats.Add(Counter.BypassModeWriteBytes, data.Length);
            return;
        }
        WriteCore(offset, data, fua || cached != Cached.None, clean: cached != Cached.Dirty);
    }

    /// <summary>A slow backing must not hold up a stop; coming back, the cache may be gone.</summary>
    private void BackingWrite(long offset, ReadOnlySpan<byte> data, ref RequestTicket ticket)
    {
        bool back = false;
        _requests.ToBacking(ref ticket);
        try { Device.Write(offset, data); }
        finally { back = _requests.FromBacking(ref ticket); }
        if (!back) throw new CacheStoppedException();
    }

    private bool TryBackingWrite(long offset, ReadOnlySpan<byte> data, ref RequestTicket ticket)
    {
        try
        {
            BackingWrite(offset, data, ref ticket);
            return true;
        }
        catch (IOException) when (!_stopped)
        {
            return false;
        }
    }

    /// <summary>WRITE_ZEROES and TRIM in a mode that acknowledges on the backing.</summary>
    private void ZeroDirect(long offset, long length, uint flags, bool fua)
    {
        CheckRange(offset, length);
        var ticket = _requests.Enter();
        Cached cached;
        try
        {
            bool back = false;
            _requests.ToBacking(ref ticket);
            try { Device.Zero(offset, length, (flags & KeyRecord.FlagNoHole) != 0); }
            finally { back = _requests.FromBacking(ref ticket); }
            if (!back) throw new CacheStoppedException();
            _backingUnflushed = true;
            if (fua) FlushBacking();
            cached = Overlap(offset, length, dropPlaceholders: true);
        }
        finally { _requests.Exit(ref ticket); }
        if (cached == Cached.None) return;
        LogZero(offset, length, cached == Cached.Dirty ? flags : flags | KeyRecord.FlagClean, fua: true);
    }

    private void FlushBacking()
    {
        _backingUnflushed = false;
        Device.Flush();
    }

    private enum Cached { None, Clean, Dirty }

    /// <summary>
    /// What the index holds over a range. Dirty means a key that may still be written back;
    /// with <paramref name="dropPlaceholders"/>, misses in flight there will not fill (they may
    /// have read the backing before this write reached it).
    /// </summary>
    private Cached Overlap(long offset, long length, bool dropPlaceholders)
    {
        var worst = Cached.None;
        while (length > 0)
        {
            long windowEnd = (offset | (Geometry.SubtreeSize - 1)) + 1;
            long len = Math.Min(length, windowEnd - offset);
            var tree = TreeFor(offset);
            uint s = (uint)(offset & (Geometry.SubtreeSize - 1)), e = s + (uint)len;
            lock (tree.Lock)
            {
                uint pos = s;
                while (pos < e)
                {
                    int n = tree.FirstOverlapping(pos, e);
                    if (n < 0) break;
                    ref var node = ref tree[n];
                    uint next = node.End;
                    if (node.IsEmpty)
                    {
                        if (dropPlaceholders) tree.Delete(n);
                    }
                    else
                    {
                        var c = (node.Flags & KeyNode.FlagClean) != 0 ? Cached.Clean : Cached.Dirty;
                        if (c > worst) worst = c;
                    }
                    pos = next;
                }
            }
            offset += len;
            length -= len;
        }
        return worst;
    }

    /// <summary>
    /// Write-back copied this key to the backing: its index node (when the key still holds that
    /// range) becomes clean, so a later bypassing write knows no older write-back is pending.
    /// </summary>
    internal void MarkWrittenBack(in KeyRecord key)
    {
        if (key.IsZero || key.IsClean) return; // a zero key's node cannot be told from a newer one
        var tree = TreeFor(key.Offset);
        uint s = (uint)(key.Offset & (Geometry.SubtreeSize - 1)), e = s + key.Length;
        lock (tree.Lock)
        {
            uint pos = s;
            while (pos < e)
            {
                int n = tree.FirstOverlapping(pos, e);
                if (n < 0) break;
                ref var node = ref tree[n];
                // Pmem space is never reused within a generation: the data location names the key.
                if (node.HasData && node.Segment == key.Segment && node.Gen == (uint)key.Generation
                    && node.Start >= s && node.End <= e && node.SegOffset - key.SegmentOffset == node.Start - s)
                    node.Flags |= KeyNode.FlagClean;
                pos = node.End;
            }
        }
    }
}
