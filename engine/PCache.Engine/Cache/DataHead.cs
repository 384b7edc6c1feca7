namespace PCache.Engine.Cache;

/// <summary>
/// A bump allocator over one data segment. There are several, picked by CPU, so concurrent writers
/// rarely meet. An allocation never crosses a segment: near the end it is cut short and the
/// caller asks again for the rest.
/// </summary>
internal sealed class DataHead
{
    private readonly object _lock = new();
    private int _segment = -1;
    private uint _offset;

    public readonly record struct Space(uint Segment, uint Offset, uint Length, ulong Generation);

    /// <summary>
    /// Up to <paramref name="want"/> bytes, with one segment reference taken for the key that will
    /// own them. <paramref name="wait"/> false (read-miss fills) never blocks on a busy head or a
    /// full cache. Length 0 means no space.
    /// </summary>
    public Space Allocate(SegmentPool pool, uint want, bool wait)
    {
        if (wait) Monitor.Enter(_lock);
        else if (!Monitor.TryEnter(_lock)) return default;
        try
        {
            if (_segment < 0)
            {
                int s = pool.Allocate(forLog: false, wait);
                if (s < 0) return default;
                _segment = s;
                _offset = 0;
                pool.AddRef((uint)s); // the head's own reference, dropped when it moves on
            }
            uint seg = (uint)_segment;
            uint room = (uint)pool.DataSize - _offset;
            uint got = Math.Min(want, room);
            var space = new Space(seg, _offset, got, pool.Generation(seg));
            pool.AddRef(seg);
            _offset += got;
            if (_offset == pool.DataSize)
            {
                _segment = -1;
                pool.DropRef(seg);
            }
            return space;
        }
        finally
        {
            Monitor.Exit(_lock);
        }
    }

    /// <summary>Give up the current segment (cache stopping).</summary>
    public void Retire(SegmentPool pool)
    {
        lock (_lock)
        {
            if (_segment < 0) return;
            int s = _segment;
            _segment = -1;
            pool.DropRef((uint)s);
        }
    }
}
