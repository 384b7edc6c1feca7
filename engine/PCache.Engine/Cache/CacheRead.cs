using System.Buffers;
using PCache.Engine.Layout;

namespace PCache.Engine.Cache;

/// <summary>A base:allocation extent: flags 1 = hole, 2 = reads as zero, 0 = data.</summary>
public readonly record struct Extent(uint Length, uint Flags);

// Read (hits from pmem, misses from the backing then cached as clean keys), prefetch, block status.
public sealed partial class BackingCache
{
    private struct Miss
    {
        public uint Start;
        public uint Length;
        public int Node;     // placeholder node, or -1 for a plain backing read
        public uint Token;
    }

    public void Read(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        var ticket = _requests.Enter();
        try
        {
            long hit = 0, miss = 0;
            var refusal = FillRefusal(offset, destination.Length, Info.Mode);
            ReadCore(offset, destination, refusal is null, ref hit, ref miss, ref ticket);
            if (refusal is { } why) Stats.Add(why, miss);
            Stats.Increment(Counter.ReadRequests);
            Stats.Add(Counter.ReadBytes, destination.Length);
            Stats.Add(Counter.ReadHitBytes, hit);
            Stats.Add(Counter.ReadMissBytes, miss);
            Stats.Increment(miss == 0 ? Counter.ReadHits : hit == 0 ? Counter.ReadMisses : Counter.ReadPartialHits);
        }
        finally { _requests.Exit(ref ticket); }
    }

    /// <summary>NBD CACHE: bring the range into the cache without returning it.</summary>
    public void Prefetch(long offset, long length)
    {
        CheckRange(offset, length);
        var ticket = _requests.Enter();
        Stats.Increment(Counter.PrefetchRequests);
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(length, 1 << 20));
        bool fill = Info.Mode.FillsOnMiss(); // asked for explicitly: no admission test
        try
        {
            long hit = 0, miss = 0;
            while (length > 0)
            {
                int n = (int)Math.Min(length, buffer.Length);
                ReadCore(offset, buffer.AsSpan(0, n), fill, ref hit, ref miss, ref ticket);
                offset += n;
                length -= n;
            }
            Stats.Add(Counter.PrefetchBytes, miss);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _requests.Exit(ref ticket);
        }
    }

    private void ReadCore(long offset, Span<byte> destination, bool fill, ref long hit, ref long miss, ref RequestTicket ticket)
    {
        while (!destination.IsEmpty)
        {
            long windowEnd = (offset | (Geometry.SubtreeSize - 1)) + 1;
            int len = (int)Math.Min(destination.Length, windowEnd - offset);
            ReadWindow(offset, destination[..len], fill, ref hit, ref miss, ref ticket);
            offset += len;
            destination = destination[len..];
        }
    }

    private unsafe void ReadWindow(long offset, Span<byte> dst, bool fill, ref long hitBytes, ref long missBytes, ref RequestTicket ticket)
    {
        var tree = TreeFor(offset);
        uint s = (uint)(offset & (Geometry.SubtreeSize - 1));
        uint e = s + (uint)dst.Length;
        long windowBase = offset - s;
        Span<Miss> misses = stackalloc Miss[16];
        uint pos = s;
        while (pos < e)
        {
            int count = 0;
            lock (tree.Lock)
            {
                while (pos < e && count < misses.Length)
                {
                    int f = tree.Floor(pos);
                    if (f >= 0 && tree[f].End > pos)
                    {
                        ref var n = ref tree[f];
                        uint pieceEnd = Math.Min(n.End, e);
                        var piece = dst.Slice((int)(pos - s), (int)(pieceEnd - pos));
                        if (n.IsEmpty)
                        {
                            misses[count++] = new Miss { Start = pos, Length = pieceEnd - pos, Node = -1 };
                        }
                        else if ((n.Flags & KeyNode.FlagZero) != 0)
                        {
                            piece.Clear();
                            hitBytes += piece.Length;
                        }
                        else
                        {
                            uint gen = n.Gen;
                            if ((uint)Pool.Generation(n.Segment) != gen)
                            {
                                tree.Delete(f); // its segment was reclaimed: the backing holds this data
                                Stats.Increment(Counter.StaleKeysPurged);
                                continue;
                            }
                            long at = Pool.DataOffset(n.Segment) + n.SegOffset + (pos - n.Start);
                            new ReadOnlySpan<byte>(Pmem.Base + at, piece.Length).CopyTo(piece);
                            // A segment can be reclaimed and reused while we copy; the generation
                            // moves first, so re-checking it tells whether the copy is good.
                            Interlocked.MemoryBarrier();
                            if ((uint)Pool.Generation(n.Segment) != gen)
                                misses[count++] = new Miss { Start = pos, Length = pieceEnd - pos, Node = -1 };
                            else
                                hitBytes += piece.Length;
                        }
                        pos = pieceEnd;
                    }
                    else
                    {
                        int c = tree.Ceiling(pos);
                        uint gapEnd = c < 0 ? e : Math.Min(tree[c].Start, e);
                        if (!fill)
                        {
                            misses[count++] = new Miss { Start = pos, Length = gapEnd - pos, Node = -1 };
                            pos = gapEnd;
                            continue;
                        }
                        int p = tree.Allocate();
                        uint token = NextPlaceholderToken();
                        ref var ph = ref tree[p];
                        ph.Start = pos;
                        ph.Length = gapEnd - pos;
                        ph.SegOffset = token;
                        ph.Flags = KeyNode.FlagEmpty;
                        tree.Link(p);
                        misses[count++] = new Miss { Start = pos, Length = gapEnd - pos, Node = p, Token = token };
                        pos = gapEnd;
                    }
                }
            }

            // A slow backing must not hold up a stop; coming back, the cache may be gone.
            bool back = false;
            _requests.ToBacking(ref ticket);
            try
            {
                for (int i = 0; i < count; i++)
                {
                    ref var m = ref misses[i];
                    Device.Read(windowBase + m.Start, dst.Slice((int)(m.Start - s), (int)m.Length));
                    missBytes += m.Length;
                }
            }
            catch (IOException)
            {
                Stats.Increment(Counter.BackingReadErrors);
                DropPlaceholders(tree, misses[..count]);
                throw;
            }
            finally
            {
                back = _requests.FromBacking(ref ticket);
            }
            if (!back)
            {
                DropPlaceholders(tree, misses[..count]);
                throw new CacheStoppedException();
            }
            for (int i = 0; i < count; i++)
            {
                ref var m = ref misses[i];
                if (m.Node >= 0) Fill(tree, m, windowBase, dst.Slice((int)(m.Start - s), (int)m.Length));
            }
        }
    }

    private static bool PlaceholderIntact(KeyTree tree, in Miss m)
    {
        ref var n = ref tree[m.Node];
        return n.IsEmpty && n.SegOffset == m.Token && n.Start == m.Start;
    }

    private static void DropPlaceholders(KeyTree tree, Span<Miss> misses)
    {
        lock (tree.Lock)
        {
            foreach (ref var m in misses)
                if (m.Node >= 0 && PlaceholderIntact(tree, m)) tree.Delete(m.Node);
        }
    }

    /// <summary>
    /// Turn a miss into clean keys when its placeholder survived (no write overlapped it while the
    /// backing was read). Space is taken only if it is free right now: a read never waits for it.
    /// A miss may need several pieces when it runs past the end of a head segment.
    /// </summary>
    private void Fill(KeyTree tree, in Miss m, long windowBase, ReadOnlySpan<byte> data)
    {
        Span<DataHead.Space> pieces = stackalloc DataHead.Space[8];
        int count = 0;
        uint have = 0;
        var head = HeadForThisCpu();
        // A fill adds keys under a subtree lock and a read never waits: no spare log segment, no fill.
        bool room = Log.EnsureRoom(wait: false);
        while (room && have < m.Length && count < pieces.Length)
        {
            var space = head.Allocate(Pool, m.Length - have, wait: false);
            if (space.Length == 0) break;
            Pmem.Store(Pool.DataOffset(space.Segment) + space.Offset, data.Slice((int)have, (int)space.Length));
            pieces[count++] = space;
            have += space.Length;
        }
        if (count > 0) Pmem.Stage();
        int used = 0;
        lock (tree.Lock)
        {
            if (PlaceholderIntact(tree, m))
            {
                ref var ph = ref tree[m.Node];
                uint limit = ph.Length; // a concurrent write may have trimmed its back
                if (count == 0)
                {
                    tree.Delete(m.Node);
                }
                else
                {
                    uint done = 0;
                    for (; used < count && done < limit; used++)
                    {
                        var sp = pieces[used];
                        uint len = Math.Min(sp.Length, limit - done);
                        int node = used == 0 ? m.Node : tree.Allocate();
                        ref var n = ref tree[node];
                        n.Start = m.Start + done;
                        n.Length = len;
                        n.Segment = sp.Segment;
                        n.SegOffset = sp.Offset;
                        n.Gen = (uint)sp.Generation;
                        n.Flags = KeyNode.FlagClean;
                        if (used > 0) tree.Link(node);
                        long at = windowBase + m.Start + done;
                        uint crc = Info.DataCrc ? Crc.OfData(data.Slice((int)done, (int)len), at) : 0;
                        Log.Append(Log.KsetFor(at), new KeyRecord(at, len, KeyRecord.FlagClean, sp.Segment, sp.Offset, sp.Generation, crc), false);
                        Stats.Add(Counter.MissFillBytes, len);
                        done += len;
                    }
                }
            }
        }
        if (have < m.Length) Stats.Increment(Counter.MissFillSkipped);
        for (int i = used; i < count; i++) Pool.DropRef(pieces[i].Segment);
    }

    /// <summary>
    /// base:allocation extents from <paramref name="offset"/>: ranges the cache knows to be zero
    /// (zeroed or discarded) and data elsewhere. Returns the number of extents written.
    /// </summary>
    public int BlockStatus(long offset, long length, Span<Extent> extents)
    {
        CheckRange(offset, length);
        int count = 0;
        long end = offset + length;
        while (offset < end && count < extents.Length)
        {
            var tree = TreeFor(offset);
            uint s = (uint)(offset & (Geometry.SubtreeSize - 1));
            uint e = (uint)Math.Min(Geometry.SubtreeSize, s + (end - offset));
            uint pos = s;
            lock (tree.Lock)
            {
                while (pos < e)
                {
                    uint flags, pieceEnd;
                    int f = tree.Floor(pos);
                    if (f >= 0 && tree[f].End > pos)
                    {
                        ref var n = ref tree[f];
                        pieceEnd = Math.Min(n.End, e);
                        flags = (n.Flags & KeyNode.FlagZero) == 0 ? 0u : (n.Flags & KeyNode.FlagNoHole) != 0 ? 2u : 3u;
                    }
                    else
                    {
                        int c = tree.Ceiling(pos);
                        pieceEnd = c < 0 ? e : Math.Min(tree[c].Start, e);
                        flags = 0;
                    }
                    uint len = pieceEnd - pos;
                    if (count > 0 && extents[count - 1].Flags == flags && (ulong)extents[count - 1].Length + len <= 0xFFFF_FE00)
                        extents[count - 1] = new Extent(extents[count - 1].Length + len, flags);
                    else if (count < extents.Length)
                        extents[count++] = new Extent(len, flags);
                    else
                        return count;
                    pos = pieceEnd;
                }
            }
            offset += e - s;
        }
        return count;
    }
}
