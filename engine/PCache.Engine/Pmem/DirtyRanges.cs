namespace PCache.Engine.Pmem;

/// <summary>
/// Page-aligned ranges of a non-DAX mapping written since they were last synced. Writes land in a
/// few sequential streams (one per data head, plus the key log), so neighbours are merged as they
/// arrive and a small fixed table holds them all; when it is full the new range is merged into the
/// nearest one, which only makes a sync cover a few clean pages more (syncing more is always safe).
/// Not thread-safe: <see cref="BatchedSync"/> holds its lock around every call.
/// </summary>
internal sealed class DirtyRanges
{
    public const long PageSize = 4096;
    private readonly long[] _start;
    private readonly long[] _end;
    private int _count;

    public DirtyRanges(int capacity)
    {
        _start = new long[capacity];
        _end = new long[capacity];
    }

    public int Count => _count;

    public bool IsEmpty => _count == 0;

    public void Add(long offset, long length)
    {
        long start = offset & ~(PageSize - 1);
        long end = (offset + length + PageSize - 1) & ~(PageSize - 1);
        // Newest first: a stream's next write almost always extends the range it wrote last.
        for (int i = _count - 1; i >= 0; i--)
        {
            if (start <= _end[i] && end >= _start[i])
            {
                _start[i] = Math.Min(_start[i], start);
                _end[i] = Math.Max(_end[i], end);
                return;
            }
        }
        if (_count < _start.Length)
        {
            _start[_count] = start;
            _end[_count] = end;
            _count++;
            return;
        }
        int best = 0;
        long bestGap = long.MaxValue;
        for (int i = 0; i < _count; i++)
        {
            long gap = start > _end[i] ? start - _end[i] : _start[i] - end;
            if (gap < bestGap) { bestGap = gap; best = i; }
        }
        _start[best] = Math.Min(_start[best], start);
        _end[best] = Math.Max(_end[best], end);
    }

    /// <summary>Move every range into <paramref name="into"/> (as many as this table holds) and clear; returns the count.</summary>
    public int TakeAll(DirtyRanges into)
    {
        int n = _count;
        Array.Copy(_start, into._start, n);
        Array.Copy(_end, into._end, n);
        into._count = n;
        _count = 0;
        return n;
    }

    public long Start(int i) => _start[i];

    public long Length(int i) => _end[i] - _start[i];

    public void Clear() => _count = 0;
}
