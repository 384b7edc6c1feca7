using PCache.Engine.Layout;

namespace PCache.Engine.Cache;

// Write, FUA, flush, discard and write-zeroes.
public sealed partial class BackingCache
{
    /// <summary>
    /// Acknowledged once the data is in pmem and its key is indexed and queued in a kset; durable
    /// at the next <see cref="Flush"/>, or before returning with <paramref name="fua"/> or in
    /// persist-on-write mode. A full cache makes this wait for write-back and GC.
    /// </summary>
    public unsafe void Write(long offset, ReadOnlySpan<byte> data, bool fua = false)
    {
        CheckRange(offset, data.Length);
        var ticket = _requests.Enter();
        try
        {
            Stats.Increment(Counter.WriteRequests);
            Stats.Add(Counter.WriteBytes, data.Length);
            if (fua) Stats.Increment(Counter.FuaWrites);
            var mode = Info.Mode;
            bool sequential = IsSequential(offset, data.Length);
            if (mode.AbsorbsWrites() && !sequential) WriteCore(offset, data, fua, clean: false);
            else WriteDirect(offset, data, fua, mode, ref ticket);
        }
        finally { _requests.Exit(ref ticket); }
    }

    private void WriteCore(long offset, ReadOnlySpan<byte> data, bool fua, bool clean)
    {
        bool close = fua || Info.PersistOnWrite;
        var head = HeadForThisCpu();
        long ticket = 0;
        while (!data.IsEmpty)
        {
            long windowEnd = (offset | (Geometry.SubtreeSize - 1)) + 1;
            uint want = (uint)Math.Min(data.Length, windowEnd - offset);
            if (!Log.EnsureRoom(wait: true)) throw new CacheStoppedException();
            var space = head.Allocate(Pool, want, wait: true);
            if (space.Length == 0) throw new CacheStoppedException();
            var chunk = data[..(int)space.Length];
            Pmem.Store(Pool.DataOffset(space.Segment) + space.Offset, chunk);
            // Non-DAX media sync the data later, before the kset that names it (KeyLog).
            Pmem.Stage();
            uint crc = Info.DataCrc ? Crc.OfData(chunk, offset) : 0;
            var key = new KeyRecord(offset, space.Length, clean ? KeyRecord.FlagClean : 0, space.Segment, space.Offset, space.Generation, crc);
            ticket = Math.Max(ticket, InsertAndLog(key, close));
            if (!clean) Stats.Add(Counter.DirtyBytesAdded, space.Length);
            offset += space.Length;
            data = data[(int)space.Length..];
        }
        if (close) Pmem.Commit(ticket); // outside every lock: on non-DAX media this is the sync
    }

    /// <summary>Persist every kset holding a key acknowledged before this call.</summary>
    public void Flush()
    {
        var ticket = _requests.Enter();
        try
        {
            Stats.Increment(Counter.Flushes);
            if (!Log.EnsureRoom(wait: true)) throw new CacheStoppedException();
            Log.CloseAll();
            Pmem.Commit();
            // Writes that went to the backing were acknowledged before it made them durable.
            if (_backingUnflushed) FlushBacking();
        }
        finally { _requests.Exit(ref ticket); }
    }

    /// <summary>Zero the range (NBD WRITE_ZEROES). Costs a key per 4 MiB and no data space.</summary>
    public void WriteZeroes(long offset, long length, bool noHole, bool fua = false)
    {
        Stats.Increment(Counter.ZeroRequests);
        Stats.Add(Counter.ZeroBytes, length);
        uint flags = noHole ? KeyRecord.FlagZero | KeyRecord.FlagNoHole : KeyRecord.FlagZero;
        if (Info.Mode.AbsorbsWrites()) LogZero(offset, length, flags, fua);
        else ZeroDirect(offset, length, flags, fua);
    }

    /// <summary>
    /// Discard (NBD TRIM). The range reads as zeroes from now on and the discard reaches the
    /// backing in log order with write-back, so it never overtakes an older write of that range.
    /// </summary>
    public void Discard(long offset, long length, bool fua = false)
    {
        Stats.Increment(Counter.DiscardRequests);
        Stats.Add(Counter.DiscardBytes, length);
        if (Info.Mode.AbsorbsWrites()) LogZero(offset, length, KeyRecord.FlagZero, fua);
        else ZeroDirect(offset, length, KeyRecord.FlagZero, fua);
    }

    private void LogZero(long offset, long length, uint flags, bool fua)
    {
        CheckRange(offset, length);
        var ticket = _requests.Enter();
        try
        {
            bool close = fua || Info.PersistOnWrite;
            long staged = 0;
            while (length > 0)
            {
                long windowEnd = (offset | (Geometry.SubtreeSize - 1)) + 1;
                uint len = (uint)Math.Min(length, windowEnd - offset);
                // No data space, but log space: on a full cache this is where a TRIM waits for GC,
                // before it holds any lock.
                if (!Log.EnsureRoom(wait: true)) throw new CacheStoppedException();
                staged = Math.Max(staged, InsertAndLog(new KeyRecord(offset, len, flags, 0, 0, 0, 0), close));
                offset += len;
                length -= len;
            }
            if (close) Pmem.Commit(staged);
        }
        finally { _requests.Exit(ref ticket); }
    }

    /// <summary>
    /// Index and log a key under its subtree lock, so that for overlapping keys the order in the
    /// index is the order in the log (replay and write-back depend on it). The caller has passed
    /// <see cref="KeyLog.EnsureRoom"/>: nothing under these locks waits for space. Returns the
    /// ticket to commit for the closed kset to be durable (see <see cref="KeyLog.Append"/>).
    /// </summary>
    internal long InsertAndLog(in KeyRecord key, bool close)
    {
        var tree = TreeFor(key.Offset);
        lock (tree.Lock)
        {
            tree.Insert(key);
            return Log.Append(Log.KsetFor(key.Offset), key, close);
        }
    }

    internal void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Size - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {Size}-byte device");
        if (((offset | length) & (Geometry.SectorSize - 1)) != 0)
            throw new ArgumentException($"range {offset}+{length} is not aligned to {Geometry.SectorSize} bytes");
    }
}
