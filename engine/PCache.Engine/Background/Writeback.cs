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

    public Writeback(BackingCache cache) : base($"pcache{cache.Id}-writeback") => _cache = cache;

    public long BytesDone => Interlocked.Read(ref _bytesDone);

    /// <summary>Write-back met a kset it can never write (corrupt media) and stopped for good.</summary>
    public bool Stuck => _corrupt;

    protected override int Step()
    {
        if (_corrupt) return 5000;
        var tail = _cache.Tails.DirtyTail;
        if (tail == _cache.Log.Head) return 1000;
        try
        {
            WriteOne(tail);
            if (_backoffMs > 0)
            {
                _backoffMs = 0;
                Error = null;
            }
            return 0;
        }
        catch (IOException e) when (e is not MediaException)
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

    private unsafe void WriteOne(LogPosition tail)
    {
        var pool = _cache.Pool;
        // Batched media: write back only ksets that are durable, so dirty_tail never passes a kset
        // a power cut could still take away (a no-op on DAX, and when a FLUSH already synced them).
        _cache.Pmem.Commit(_cache.Log.ClosedTicket);
        long at = pool.DataOffset(tail.Segment) + tail.Offset;
        var room = _cache.Pmem.Span(at, pool.DataSize - (int)tail.Offset);
        var kind = Kset.Inspect(room, out int n, out uint next);
        string where = $"backing {_cache.Id} kset {tail}";
        if (kind == Kset.Kind.Invalid)
            throw new MediaException(where, at, "is invalid although it lies before key_head");
        if (kind == Kset.Kind.Last)
        {
            if (next >= pool.Count) throw new MediaException(where, at, $"LAST kset names segment {next}");
            _cache.Tails.SetDirtyTail(new LogPosition(next, 0));
            return;
        }

        // Merge neighbours that are contiguous both on the backing and in pmem into one write.
        long runOffset = 0, runPmem = 0, runLength = 0, bytes = 0;
        int written = 0;
        for (int i = 0; i < n; i++)
        {
            var key = _cache.KeyAt(room, i, tail, at);
            if (key.IsClean) continue;
            written++;
            if (key.IsZero)
            {
                Emit(ref runOffset, ref runPmem, ref runLength);
                _cache.Device.Zero(key.Offset, key.Length, (key.Flags & KeyRecord.FlagNoHole) != 0);
                bytes += key.Length;
                continue;
            }
            long pmem = pool.DataOffset(key.Segment) + key.SegmentOffset;
            if (_cache.DataCrc && Crc.OfData(_cache.Pmem.Span(pmem, (int)key.Length), key.Offset) != key.DataCrc)
                throw new MediaException($"{where} key {i} data", pmem, $"data CRC mismatch for backing range {key.Offset}+{key.Length}");
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
        }
        Emit(ref runOffset, ref runPmem, ref runLength);
        _cache.Device.Flush();
        // On the backing and flushed: the index may call these keys clean. Before dirty_tail moves,
        // while GC cannot yet reclaim the segment this kset lies in.
        for (int i = 0; i < n; i++) _cache.MarkWrittenBack(_cache.KeyAt(room, i, tail, at));
        _cache.Tails.SetDirtyTail(tail with { Offset = tail.Offset + (uint)Kset.SizeOf(n) });
        Interlocked.Add(ref _bytesDone, bytes);
        _cache.Stats.Increment(Counter.WritebackKsets);
        _cache.Stats.Add(Counter.WritebackKeys, written);
        _cache.Stats.Add(Counter.WritebackBytes, bytes);
        _cache.WakeGc();
    }

    private unsafe void Emit(ref long offset, ref long pmem, ref long length)
    {
        if (length == 0) return;
        _cache.Device.Write(offset, new ReadOnlySpan<byte>(_cache.Pmem.Base + pmem, (int)length));
        length = 0;
    }
}
