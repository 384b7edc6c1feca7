using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Engine.Background;

/// <summary>
/// Copies dirty keys to the backing in log order, one kset at a time, then flushes the backing and
/// only then moves dirty_tail: so the backing always holds a prefix of the write log, plus maybe
/// part of the next kset. Backing errors are retried with back-off and reported, never dropped.
/// </summary>
internal sealed class Writeback : Worker
{
    private readonly BackingCache _cache;
    private long _bytesDone;
    private int _backoffMs;
    private bool _corrupt;
    // A backing that never answers must not hold a stop for ever. Stop may leave this thread inside
    // a backing call; when (if ever) that call returns, the thread must not touch pmem again: the
    // cache may be started anew on the same media by then. _gate orders the two decisions.
    private readonly object _gate = new();
    private bool _inBacking;
    private bool _abandoned;

    public Writeback(BackingCache cache) : base($"pcache{cache.Id}-writeback")
    {
        _cache = cache;
        Pacer = new WritebackPacer(cache);
    }

    /// <summary>When to go on: pacing changes only when ksets are written back, never which or in what order.</summary>
    public WritebackPacer Pacer { get; }

    public long BytesDone => Interlocked.Read(ref _bytesDone);

    /// <summary>Write-back met a kset it can never write (corrupt media) and stopped for good.</summary>
    public bool Stuck => _corrupt;

    protected override int Step()
    {
        if (_corrupt) return 5000;
        var tail = _cache.Tails.DirtyTail;
        long added = _cache.DirtyBytesLogged, done = BytesDone;
        if (tail == _cache.Log.Head)
        {
            Pacer.Clean(added, done);
            return 1000;
        }
        int wait = Pacer.BeforeKset(added, done);
        if (wait > 0) return wait;
        try
        {
            long bytes = WriteOne(tail);
            if (bytes >= 0) Pacer.Wrote(bytes);
            if (_backoffMs > 0)
            {
                _backoffMs = 0;
                Error = null;
            }
            return 0;
        }
        catch (IOException e) when (e is not MediaException && !Stopping)
        {
            _cache.Stats.Increment(Counter.WritebackErrors);
            _backoffMs = Math.Clamp(_backoffMs * 2, 100, 5000);
            Error = $"write-back to {_cache.Device.Path} failed, retrying in {_backoffMs} ms: {e.Message}";
            return _backoffMs;
        }
        catch (MediaException e)
        {
            // The same kset would fail forever; stop here, keep the data, report it.
            _corrupt = true;
            Error = $"write-back stopped: {e.Message}";
            return 5000;
        }
    }

    /// <summary>
    /// End write-back, waiting at most <paramref name="wait"/> for a backing call in progress.
    /// False when a call had not returned by then and was abandoned: its kset stays dirty (dirty_tail
    /// is not moved past it), so the next start writes it back again.
    /// </summary>
    public bool Stop(TimeSpan wait)
    {
        RequestStop();
        if (Join(wait)) return true;
        while (true)
        {
            lock (_gate)
            {
                if (_inBacking)
                {
                    _abandoned = true;
                    return false;
                }
            }
            // Between two backing calls the thread only works on pmem, which ends soon.
            if (Join(TimeSpan.FromMilliseconds(20))) return true;
        }
    }

    /// <summary>Whether the last <see cref="Stop(TimeSpan)"/> left a backing call behind.</summary>
    public bool Abandoned
    {
        get { lock (_gate) return _abandoned; }
    }

    private void ToBacking()
    {
        lock (_gate) _inBacking = true;
    }

    /// <summary>Back from the backing: throws if stop gave up on this call meanwhile, so pmem is not touched.</summary>
    private void FromBacking()
    {
        lock (_gate)
        {
            _inBacking = false;
            if (_abandoned) throw new CacheStoppedException();
        }
    }

    /// <summary>Write back the kset at <paramref name="tail"/>; returns its dirty data bytes, -1 for a segment link.</summary>
    private unsafe long WriteOne(LogPosition tail)
    {
        var pool = _cache.Pool;
        // Batched media: write back only ksets that are durable, so dirty_tail never passes a kset
        // a power cut could still take away (a no-op on DAX, and when a FLUSH already synced them).
        _cache.Pmem.Commit(_cache.Log.ClosedTicket);
        long at = pool.DataOffset(tail.Segment) + tail.Offset;
        var room = _cache.Pmem.Span(at, pool.DataSize - (int)tail.Offset);
        var kind = Kset.Inspect(room, out int n, out uint next);
        if (kind == Kset.Kind.Invalid)
            throw new MediaException(Where(tail), at, "is invalid although it lies before key_head");
        if (kind == Kset.Kind.Last)
        {
            if (next >= pool.Count) throw new MediaException(Where(tail), at, $"LAST kset names segment {next}");
            _cache.Tails.SetDirtyTail(new LogPosition(next, 0));
            return -1;
        }

        // Merge neighbours that are contiguous both on the backing and in pmem into one write.
        long runOffset = 0, runPmem = 0, runLength = 0, bytes = 0, data = 0;
        int written = 0;
        for (int i = 0; i < n; i++)
        {
            var key = _cache.KeyAt(room, i, tail, at);
            if (key.IsClean) continue;
            written++;
            if (key.IsZero)
            {
                Emit(ref runOffset, ref runPmem, ref runLength);
                ToBacking();
                try { _cache.Device.Zero(key.Offset, key.Length, (key.Flags & KeyRecord.FlagNoHole) != 0); }
                finally { FromBacking(); }
                bytes += key.Length;
                continue;
            }
            long pmem = pool.DataOffset(key.Segment) + key.SegmentOffset;
            if (_cache.DataCrc && Crc.OfData(_cache.Pmem.Span(pmem, (int)key.Length), key.Offset) != key.DataCrc)
                throw new MediaException($"{Where(tail)} key {i} data", pmem, $"data CRC mismatch for backing range {key.Offset}+{key.Length}");
            if (runLength > 0 && runOffset + runLength == key.Offset && runPmem + runLength == pmem && runLength + key.Length <= (8 << 20))
            {
                runLength += key.Length;
            }
            else
            {
                Emit(ref runOffset, ref runPmem, ref runLength);
                runOffset = key.Offset;
                runPmem = pmem;
                runLength = key.Length;
            }
            bytes += key.Length;
            data += key.Length;
        }
        Emit(ref runOffset, ref runPmem, ref runLength);
        ToBacking();
        try { _cache.Device.Flush(); }
        finally { FromBacking(); }
        // On the backing and flushed: the index may call these keys clean. Before dirty_tail moves,
        // while GC cannot yet reclaim the segment this kset lies in.
        for (int i = 0; i < n; i++) _cache.MarkWrittenBack(_cache.KeyAt(room, i, tail, at));
        _cache.Tails.SetDirtyTail(tail with { Offset = tail.Offset + (uint)Kset.SizeOf(n) });
        // Dirty bytes count data only (zero keys take no cache space), as the write path logs them.
        Interlocked.Add(ref _bytesDone, data);
        _cache.Stats.Increment(Counter.WritebackKsets);
        _cache.Stats.Add(Counter.WritebackKeys, written);
        _cache.Stats.Add(Counter.WritebackBytes, bytes);
        _cache.WakeGc();
        return data;
    }

    private unsafe void Emit(ref long offset, ref long pmem, ref long length)
    {
        if (length == 0) return;
        int bytes = (int)length;
        length = 0;
        ToBacking();
        try { _cache.Device.Write(offset, new ReadOnlySpan<byte>(_cache.Pmem.Base + pmem, bytes)); }
        finally { FromBacking(); }
    }

    // Built only when a kset turns out bad: this runs once per kset, and a string each time is garbage per request.
    private string Where(LogPosition tail) => $"backing {_cache.Id} kset {tail}";
}
