using PCache.Engine.Layout;

namespace PCache.Engine.Cache;

/// <summary>
/// The index of one 4 MiB subtree: a treap of non-overlapping extents ordered by start, nodes in
/// the shared <see cref="KeyArena"/>, priorities derived from the node index (no storage). The
/// caller holds <see cref="Lock"/> for every operation.
/// </summary>
internal sealed class KeyTree
{
    private const int Nil = -1;
    private const int MinBatch = 4, MaxBatch = 64;
    private readonly KeyArena _arena;
    private int _root = Nil;
    private int _free = Nil;   // free list threaded through Left
    private int _freeCount;

    // Which node starts at each 4 KiB boundary of the window (node + 1; 0 = unknown). A treap walk
    // is a chain of dependent cache misses, about fourteen of them in a full 4 MiB window, and it
    // dominated the write path (the rewrite of a block already cached), write-back's check that
    // a key is still current and the read hit alike. Entries are hints: one is used only when its
    // node still starts exactly there (a freed node's start is poisoned), so a stale entry costs
    // a walk, never a wrong answer. Kept only for busy windows: 4 KiB per window once it holds
    // 256 nodes (at most 16 bytes a key), dropped again below a quarter of that.
    private const int PageShift = 12;
    private const int StartsFrom = 256;
    private const uint FreedStart = uint.MaxValue;
    private int[]? _starts;

    /// <param name="startsFrom">Node count from which the window keeps its start table (tests lower it to exercise the table in small trees).</param>
    public KeyTree(KeyArena arena, int startsFrom = StartsFrom)
    {
        _arena = arena;
        _startsFrom = Math.Max(1, startsFrom);
        _startsUntil = Math.Max(1, startsFrom / 4);
    }

    private readonly int _startsFrom, _startsUntil;

    // A System.Threading.Lock, not a monitor on an object: every request takes one, and its managed
    // fast path costs less than Monitor's.
    public readonly System.Threading.Lock Lock = new();

    public int Count { get; private set; }

    public bool IsEmpty => _root == Nil;

    public ref KeyNode this[int index] => ref _arena[index];

    // Priorities come from the extent's start, salted per process, not from the node's slot:
    // freed slots come back in heap order, and sorted inserts on recycled slots would otherwise
    // build a list. A start moved by a cut keeps its place; only balance, never order, depends on it.
    private static readonly uint Salt = (uint)Random.Shared.Next() | 1;

    private uint Priority(int node)
    {
        uint h = _arena[node].Start ^ Salt;
        h ^= h >> 16; h *= 0x85ebca6b;
        h ^= h >> 13; h *= 0xc2b2ae35;
        h ^= h >> 16;
        return h;
    }

    public int Allocate()
    {
        if (_free == Nil)
        {
            // Batches grow with the tree: sparse trees waste little, busy ones rarely take the arena lock.
            int batch = Math.Clamp(Count / 2, MinBatch, MaxBatch);
            int first = _arena.Grab(batch);
            for (int i = batch - 1; i >= 0; i--)
            {
                _arena[first + i].Left = _free;
                _free = first + i;
            }
            _freeCount += batch;
        }
        int n = _free;
        _free = _arena[n].Left;
        _freeCount--;
        ref var node = ref _arena[n];
        node = default;
        node.Left = node.Right = Nil;
        return n;
    }

    private void Release(int n)
    {
        _arena[n].Flags = 0;
        _arena[n].Start = FreedStart;
        _arena[n].Left = _free;
        _free = n;
        _freeCount++;
    }

    /// <summary>The start table's slot for a start at <paramref name="x"/>: -1 off 4 KiB boundaries, past the window, or without a table.</summary>
    private int Slot(uint x) =>
        _starts is null || (x & ((1u << PageShift) - 1)) != 0 || x >= Geometry.SubtreeSize ? -1 : (int)(x >> PageShift);

    /// <summary>The node starting exactly at <paramref name="x"/> when the start table knows it, else -1.</summary>
    private int StartingAt(uint x)
    {
        int slot = Slot(x);
        if (slot < 0) return Nil;
        int n = _starts![slot] - 1;
        return n >= 0 && _arena[n].Start == x ? n : Nil;
    }

    /// <summary>Remember that <paramref name="node"/> starts where it does.</summary>
    private void NoteStart(int node)
    {
        int slot = Slot(_arena[node].Start);
        if (slot >= 0) _starts![slot] = node + 1;
    }

    /// <summary>Give a linked node a new start (a front trim): same place in the order, new hint.</summary>
    public void MoveStart(int node, uint start)
    {
        _arena[node].Start = start;
        NoteStart(node);
    }

    /// <summary>Largest start ≤ x, or -1.</summary>
    public int Floor(uint x)
    {
        int hit = StartingAt(x);
        if (hit >= 0) return hit;
        int t = _root, best = Nil;
        while (t != Nil)
        {
            ref var n = ref _arena[t];
            if (n.Start <= x) { best = t; t = n.Right; }
            else t = n.Left;
        }
        return best;
    }

    /// <summary>Largest start &lt; x, or -1.</summary>
    public int Lower(uint x)
    {
        int t = _root, best = Nil;
        while (t != Nil)
        {
            ref var n = ref _arena[t];
            if (n.Start < x) { best = t; t = n.Right; }
            else t = n.Left;
        }
        return best;
    }

    /// <summary>Smallest start ≥ x, or -1.</summary>
    public int Ceiling(uint x)
    {
        int hit = StartingAt(x);
        if (hit >= 0) return hit;
        int t = _root, best = Nil;
        while (t != Nil)
        {
            ref var n = ref _arena[t];
            if (n.Start >= x) { best = t; t = n.Left; }
            else t = n.Right;
        }
        return best;
    }

    /// <summary>The first node overlapping [<paramref name="pos"/>, <paramref name="end"/>), or -1.</summary>
    public int FirstOverlapping(uint pos, uint end)
    {
        int n = Floor(pos);
        if (n >= 0 && _arena[n].End > pos) return n;
        n = Ceiling(pos);
        return n >= 0 && _arena[n].Start < end ? n : Nil;
    }

    /// <summary>Link a node whose start no other node has.</summary>
    public void Link(int node)
    {
        Split(_root, _arena[node].Start, out int l, out int r);
        _root = Merge(Merge(l, node), r);
        Count++;
        if (_starts is null && Count >= _startsFrom) BuildStarts();
        else NoteStart(node);
    }

    private void BuildStarts()
    {
        _starts = new int[(int)(Geometry.SubtreeSize >> PageShift)];
        var noter = new StartNoter();
        ForEachInOrder(ref noter);
    }

    /// <summary>Unlink and free the node that starts at its start.</summary>
    public void Delete(int node)
    {
        uint s = _arena[node].Start;
        Split(_root, s, out int l, out int r);
        Split(r, s + 1, out int m, out int r2);
        _root = Merge(l, r2);
        if (m != Nil)
        {
            Release(m);
            Count--;
            if (Count < _startsUntil) _starts = null;
        }
    }

    // Split into (< key) and (≥ key).
    private void Split(int t, uint key, out int l, out int r)
    {
        if (t == Nil) { l = r = Nil; return; }
        ref var n = ref _arena[t];
        if (n.Start < key)
        {
            Split(n.Right, key, out int a, out int b);
            _arena[t].Right = a;
            l = t;
            r = b;
        }
        else
        {
            Split(n.Left, key, out int a, out int b);
            _arena[t].Left = b;
            l = a;
            r = t;
        }
    }

    private int Merge(int a, int b)
    {
        if (a == Nil) return b;
        if (b == Nil) return a;
        if (Priority(a) >= Priority(b))
        {
            _arena[a].Right = Merge(_arena[a].Right, b);
            return a;
        }
        _arena[b].Left = Merge(a, _arena[b].Left);
        return b;
    }

    /// <summary>Index a logged key (the new extent wins over whatever it overlaps).</summary>
    public void Insert(in KeyRecord key)
    {
        uint rel = (uint)(key.Offset & (Geometry.SubtreeSize - 1));
        int n = ExactMatch(rel, rel + key.Length);
        if (n < 0)
        {
            Carve(rel, rel + key.Length);
            n = Allocate();
            _arena[n].Start = rel;
            Link(n);
        }
        ref var node = ref _arena[n];
        node.Length = key.Length;
        node.Segment = key.Segment;
        node.SegOffset = key.SegmentOffset;
        node.Gen = (uint)key.Generation;
        node.Flags = key.Flags & KeyRecord.KnownFlags;
    }

    /// <summary>Drop whatever the index holds for a key's range (replay of a reclaimed key).</summary>
    public void Forget(in KeyRecord key)
    {
        uint rel = (uint)(key.Offset & (Geometry.SubtreeSize - 1));
        Carve(rel, rel + key.Length);
    }

    /// <summary>
    /// Rewriting exactly the extent of an existing key (the common case of a block rewritten in
    /// place) needs no change to the tree's shape: returns that node for the caller to overwrite,
    /// or -1.
    /// </summary>
    public int ExactMatch(uint s, uint e)
    {
        int f = Floor(s);
        if (f < 0) return -1;
        ref var n = ref _arena[f];
        return n.Start == s && n.End == e ? f : -1;
    }

    /// <summary>
    /// Make room for a new extent [s, e): trim, split or delete what overlaps it. The new extent
    /// always wins. Placeholders (EMPTY) are only ever trimmed at the back or deleted, so a miss
    /// fill still lines up with the data the backing returned for it.
    /// </summary>
    public void Carve(uint s, uint e)
    {
        int p = Lower(s);
        if (p != Nil)
        {
            ref var pn = ref _arena[p];
            if (pn.End > s)
            {
                if (pn.End > e && !pn.IsEmpty)
                {
                    int tail = Allocate();
                    ref var pn2 = ref _arena[p]; // arena chunks never move; re-take for clarity
                    ref var tn = ref _arena[tail];
                    tn = pn2;
                    tn.Left = tn.Right = Nil;
                    uint cut = e - pn2.Start;
                    tn.Start = e;
                    tn.Length = pn2.End - e;
                    if (pn2.HasData) tn.SegOffset += cut;
                    pn2.Length = s - pn2.Start;
                    Link(tail);
                }
                else
                {
                    pn.Length = s - pn.Start;
                }
            }
        }
        while (true)
        {
            int c = Ceiling(s);
            if (c == Nil) break;
            ref var cn = ref _arena[c];
            if (cn.Start >= e) break;
            if (cn.End <= e || cn.IsEmpty)
            {
                Delete(c);
                continue;
            }
            uint delta = e - cn.Start;
            cn.Length -= delta;
            if (cn.HasData) cn.SegOffset += delta;
            MoveStart(c, e);
            break;
        }
    }

    /// <summary>Delete every node for which <paramref name="stale"/> holds, at most <paramref name="max"/>.</summary>
    public int Purge(Func<KeyNode, bool> stale, int max)
    {
        // One in-order pass finds them (a walk from the root per node made a sweep n·log n cache
        // misses); the deletes come after it, as they reshape the tree the pass walks.
        int limit = Math.Max(0, Math.Min(max, Count));
        if (limit == 0) return 0;
        var collect = new StaleNodes(stale, System.Buffers.ArrayPool<int>.Shared.Rent(limit), limit);
        ForEachInOrder(ref collect);
        for (int i = 0; i < collect.Count; i++) Delete(collect.Found[i]);
        System.Buffers.ArrayPool<int>.Shared.Return(collect.Found);
        return collect.Count;
    }

    private interface INodeVisitor
    {
        /// <summary>Returns true to stop the walk.</summary>
        bool Visit(KeyTree tree, int node);
    }

    private struct StaleNodes(Func<KeyNode, bool> stale, int[] found, int limit) : INodeVisitor
    {
        public readonly int[] Found = found;
        public int Count;

        public bool Visit(KeyTree tree, int node)
        {
            if (stale(tree._arena[node])) Found[Count++] = node;
            return Count == limit;
        }
    }

    private struct StartNoter : INodeVisitor
    {
        public readonly bool Visit(KeyTree tree, int node)
        {
            tree.NoteStart(node);
            return false;
        }
    }

    /// <summary>Visit nodes in start order until the visitor says stop; the tree must not change meanwhile.</summary>
    private void ForEachInOrder<T>(ref T visitor) where T : struct, INodeVisitor
    {
        // A treap's depth is a small multiple of log n; the stack grows should one be deeper.
        var pool = System.Buffers.ArrayPool<int>.Shared;
        var stack = pool.Rent(128);
        int depth = 0, t = _root;
        try
        {
            while (t != Nil || depth > 0)
            {
                while (t != Nil)
                {
                    if (depth == stack.Length)
                    {
                        var bigger = pool.Rent(stack.Length * 2);
                        stack.AsSpan().CopyTo(bigger);
                        pool.Return(stack);
                        stack = bigger;
                    }
                    stack[depth++] = t;
                    t = _arena[t].Left;
                }
                t = stack[--depth];
                if (visitor.Visit(this, t)) return;
                t = _arena[t].Right;
            }
        }
        finally
        {
            pool.Return(stack);
        }
    }

    public void Clear()
    {
        while (_root != Nil) Delete(_root);
    }
}
