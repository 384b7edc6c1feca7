using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Engine.Background;

/// <summary>
/// Reclaims the log behind dirty_tail (never past it) once used segments reach gc_percent, or at
/// once when a writer waits for space: each reclaimed key drops one reference on its data segment,
/// the last reference frees the segment. Eviction is therefore FIFO in log order and only ever
/// touches data that write-back already copied. Afterwards, index nodes of freed segments are swept.
/// </summary>
internal sealed class GarbageCollector : Worker
{
    private readonly BackingCache _cache;
    private bool _sweepNeeded;
    private int _sweepTree;
    private int _freedSinceSweep;

    public GarbageCollector(BackingCache cache) : base($"pcache{cache.Id}-gc")
    {
        _cache = cache;
        // One delegate for the cache's life: a lambda capturing the pool per sweep would be garbage on every pass.
        _stale = node => node.HasData && (uint)cache.Pool.Generation(node.Segment) != node.Gen;
    }

    private readonly Func<KeyNode, bool> _stale;

    protected override int Step()
    {
        if (Error is not null) return 5000;
        var pool = _cache.Pool;
        int freedBefore = pool.Free;
        int rounds = 0;
        try
        {
            while (NeedGc() && rounds++ < 4096 && !Stopping)
            {
                if (!CollectOne()) break;
            }
        }
        catch (MediaException e)
        {
            Error = $"GC stopped: {e.Message}";
            return 5000;
        }
        // A sweep visits every index node, so it waits until enough segments were reclaimed to
        // make it worth it; until then reads and writes drop stale nodes as they meet them.
        _freedSinceSweep += Math.Max(0, pool.Free - freedBefore);
        if (!_sweepNeeded && _freedSinceSweep >= Math.Max(4, pool.Count / 8))
        {
            _sweepNeeded = true;
            _freedSinceSweep = 0;
        }
        if (_sweepNeeded) Sweep();
        if (rounds >= 4096) return 0;
        return _sweepNeeded ? 10 : 1000;
    }

    private bool NeedGc()
    {
        var pool = _cache.Pool;
        if (_cache.Tails.KeyTail == _cache.Tails.DirtyTail) return false;
        if (pool.Waiters > 0) return true;
        return pool.Used >= (long)pool.Count * _cache.GcPercent / 100;
    }

    private bool CollectOne()
    {
        var pool = _cache.Pool;
        var tail = _cache.Tails.KeyTail;
        if (tail == _cache.Tails.DirtyTail) return false;
        long at = pool.DataOffset(tail.Segment) + tail.Offset;
        var room = _cache.Pmem.Span(at, pool.DataSize - (int)tail.Offset);
        var kind = Kset.Inspect(room, out int n, out uint next);
        if (kind == Kset.Kind.Invalid) throw new MediaException(Where(tail), at, "is invalid although it lies before dirty_tail");
        if (kind == Kset.Kind.Last)
        {
            if (next >= pool.Count) throw new MediaException(Where(tail), at, $"LAST kset names segment {next}");
            // Persist the new tail before the old log segment can be reused.
            _cache.Tails.SetKeyTail(new LogPosition(next, 0));
            pool.Release(tail.Segment);
            _cache.Stats.Increment(Counter.GcSegmentsFreed);
            return true;
        }
        // Decode (and validate) the whole kset before anything is persisted.
        Span<uint> drops = stackalloc uint[Kset.MaxKeys];
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            var key = _cache.KeyAt(room, i, tail, at);
            if (key.IsZero) continue;
            // Keys of an older generation were not counted at replay (their segment was already
            // reclaimed before a crash); dropping for them would free a segment in use. Replay
            // makes the same test, so its references and these releases balance.
            if (key.Generation != pool.Generation(key.Segment)) continue;
            drops[count++] = key.Segment;
        }
        // key_tail moves past the kset BEFORE any of its segments gets a new generation. The other
        // order has a crash point where replay starts at this kset again and finds some of its keys
        // stale: it would skip a newer key whose segment was just reclaimed and index an older key
        // of the same range whose segment still lives, serving overwritten data. In this order a
        // crash between the two steps leaves segments whose last key is behind key_tail: replay
        // counts no reference on them, so they are free, and no key that replay reads names them.
        _cache.Tails.SetKeyTail(tail with { Offset = tail.Offset + (uint)Kset.SizeOf(n) });
        for (int i = 0; i < count; i++)
        {
            if (pool.RefCount(drops[i]) == 1) _cache.Stats.Increment(Counter.GcSegmentsFreed);
            pool.DropRef(drops[i]);
        }
        _cache.Stats.Increment(Counter.GcKsets);
        return true;
    }

    /// <summary>Purge index nodes that point into reclaimed segments, a few per lock hold.</summary>
    private void Sweep()
    {
        int budget = 8;
        while (budget-- > 0 && !Stopping)
        {
            if (_sweepTree >= _cache.TreeCount)
            {
                _sweepTree = 0;
                _sweepNeeded = false;
                return;
            }
            var tree = _cache.Tree(_sweepTree++);
            if (tree.IsEmpty) continue;
            // Never wait for a subtree: its holder may itself be waiting for the segment GC frees.
            if (!tree.Lock.TryEnter())
            {
                _sweepTree--;
                return;
            }
            int removed;
            try
            {
                removed = tree.Purge(_stale, int.MaxValue);
            }
            finally
            {
                tree.Lock.Exit();
            }
            if (removed > 0) _cache.Stats.Add(Counter.StaleKeysPurged, removed);
        }
    }

    // Built only when a kset turns out bad: this runs once per kset, and a string each time is garbage per request.
    private string Where(LogPosition tail) => $"backing {_cache.Id} kset {tail}";
}
