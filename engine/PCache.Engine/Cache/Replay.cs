using System.Diagnostics;
using PCache.Engine.Layout;

namespace PCache.Engine.Cache;

// Rebuild DRAM state from the key log after a restart or a crash.
public sealed partial class BackingCache
{
    /// <summary>
    /// Walk ksets from key_tail until the first invalid one, rebuilding the index, segment
    /// references, the used map and key_head. A crash image always opens: an invalid kset past
    /// dirty_tail is simply the torn end of the log. What cannot come from a crash — an invalid
    /// kset before dirty_tail, a valid kset holding an impossible key, a loop in the log — is
    /// refused with the structure and its position.
    /// </summary>
    private void Replay()
    {
        var clock = Stopwatch.StartNew();
        var pos = Tails.KeyTail;
        var dirtyTail = Tails.DirtyTail;
        bool pastDirtyTail = pos == dirtyTail;
        var logSegments = new bool[Pool.Count];
        var dataSegments = new bool[Pool.Count];
        logSegments[pos.Segment] = true;
        long dirty = 0, ksets = 0, keys = 0;
        string who = $"backing {Id}";

        while (true)
        {
            if (pos == dirtyTail) pastDirtyTail = true;
            long at = Pool.DataOffset(pos.Segment) + pos.Offset;
            var room = Pmem.Span(at, Pool.DataSize - (int)pos.Offset);
            var kind = Kset.Inspect(room, out int n, out uint next);
            if (kind == Kset.Kind.Invalid)
            {
                if (!pastDirtyTail)
                    throw new MediaException($"{who} kset {pos}", at, $"is invalid but dirty_tail {dirtyTail} lies beyond it");
                break;
            }
            ksets++;
            if (kind == Kset.Kind.Last)
            {
                if (next >= Pool.Count)
                    throw new MediaException($"{who} kset {pos}", at, $"LAST kset names segment {next} outside the backing's {Pool.Count}");
                if (logSegments[next] || dataSegments[next])
                    throw new MediaException($"{who} kset {pos}", at, $"LAST kset loops back to segment {next}");
                logSegments[next] = true;
                pos = new LogPosition(next, 0);
                continue;
            }

            if (!LogPosition.LeavesLinkRoom(pos.Offset + (long)Kset.SizeOf(n), Pool.DataSize))
                throw new MediaException($"{who} kset {pos}", at, $"{n} keys end {Pool.DataSize - pos.Offset - Kset.SizeOf(n)} bytes before the end of the data area, no room for the kset that links to the next segment");
            for (int i = 0; i < n; i++)
            {
                var key = KeyAt(room, i, pos, at);
                keys++;
                if (key.IsZero)
                {
                    Index(key, writtenBack: !pastDirtyTail);
                    if (pastDirtyTail) dirty += key.Length;
                    continue;
                }
                ulong gen = Pool.Generation(key.Segment);
                if (key.Generation > gen)
                    throw new MediaException($"{who} kset {pos} key {i}", at, $"generation {key.Generation} is newer than its segment's {gen}");
                if (key.Generation < gen)
                {
                    // Its segment was reclaimed, which GC only does to data already written back:
                    // the backing holds this range as of dirty_tail. Skipping the key would let an
                    // older key of the same range (earlier in the log, segment still live) win, so
                    // it acts as a tombstone: the range reads from the backing unless a later key
                    // covers it. It holds no segment reference, as GC drops none for it. (This
                    // build's GC moves key_tail first so a crash never leaves such keys; images
                    // from earlier builds can.) Past dirty_tail no crash can leave one.
                    if (pastDirtyTail)
                        throw new MediaException($"{who} kset {pos} key {i}", at, $"generation {key.Generation} of segment {key.Segment} is stale (now {gen}) although the key was never written back");
                    TreeFor(key.Offset).Forget(key);
                    continue;
                }
                if (logSegments[key.Segment])
                    throw new MediaException($"{who} kset {pos} key {i}", at, $"points into segment {key.Segment}, which holds the key log");
                if (Info.DataCrc)
                {
                    uint crc = Crc.OfData(Pmem.Span(Pool.DataOffset(key.Segment) + key.SegmentOffset, (int)key.Length), key.Offset);
                    if (crc != key.DataCrc)
                        throw new MediaException($"{who} data of kset {pos} key {i}", Pool.DataOffset(key.Segment) + key.SegmentOffset,
                            $"data CRC mismatch for backing range {key.Offset}+{key.Length}");
                }
                dataSegments[key.Segment] = true;
                Pool.AddRef(key.Segment);
                Index(key, writtenBack: !pastDirtyTail);
                if (pastDirtyTail && !key.IsClean && !key.IsZero) dirty += key.Length; // data only, as the write path counts
            }
            pos = pos with { Offset = pos.Offset + (uint)Kset.SizeOf(n) };
        }

        if (!pastDirtyTail)
            throw new MediaException($"{who} dirty_tail", Geometry.DirtyTailReplica(Id, 0), $"{dirtyTail} is not on the key log that starts at key_tail {Tails.KeyTail}");
        for (uint s = 0; s < Pool.Count; s++)
            if (logSegments[s] || dataSegments[s]) Pool.MarkUsed(s);
        Log.Restore(pos);
        _dirtyBytesBase = dirty;
        ReplayKsets = ksets;
        ReplayKeys = keys;
        ReplayTime = clock.Elapsed;
    }

    /// <summary>Keys before dirty_tail are on the backing already: indexed clean, so a write that
    /// bypasses the cache knows no write-back of that range is still to come.</summary>
    private void Index(in KeyRecord key, bool writtenBack) =>
        TreeFor(key.Offset).Insert(writtenBack ? key with { Flags = key.Flags | KeyRecord.FlagClean } : key);

    /// <summary>
    /// Key <paramref name="i"/> of the kset at <paramref name="pos"/> (whose bytes start at
    /// <paramref name="room"/>, at device offset <paramref name="at"/>), decoded and bounds-checked.
    /// A valid kset may still hold a forged key; replay, write-back and GC all refuse it the same way.
    /// </summary>
    internal KeyRecord KeyAt(ReadOnlySpan<byte> room, int i, LogPosition pos, long at)
    {
        var key = KeyRecord.Decode(room.Slice(Kset.HeaderSize + i * KeyRecord.Size, KeyRecord.Size));
        string? problem = key.Problem(Size, (uint)Pool.Count, Pool.DataSize);
        if (problem is not null) throw new MediaException($"backing {Id} kset {pos} key {i}", at, problem);
        return key;
    }
}
