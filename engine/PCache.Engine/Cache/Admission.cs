namespace PCache.Engine.Cache;

/// <summary>
/// Detects sequential streams the way bcache does: a request that starts where a recent one
/// ended continues that stream. A few streams are tracked at once so interleaved sequential
/// readers are each seen; the oldest slot is recycled. Fixed storage, no allocation per request.
/// </summary>
internal sealed class SequentialDetector
{
    private const int Slots = 16;
    private readonly long[] _end = new long[Slots];
    private readonly long[] _run = new long[Slots];
    private int _next;

    /// <summary>Bytes of the stream this request belongs to, the request included.</summary>
    public long Observe(long offset, int length)
    {
        lock (_end)
        {
            for (int i = 0; i < Slots; i++)
            {
                if (_end[i] == offset && _run[i] > 0)
                {
                    _end[i] = offset + length;
                    return _run[i] += length;
                }
            }
            int slot = _next;
            _next = (_next + 1) % Slots;
            _end[slot] = offset + length;
            return _run[slot] = length;
        }
    }
}

/// <summary>
/// Read-miss fill admission: a 64 KiB block is copied into the cache only after it missed
/// <see cref="Threshold"/> times before, so data read once (a backup, a scan) does not push out
/// data read often. A lossy fixed table: a collision only forgets a count.
/// </summary>
internal sealed class MissAdmission
{
    public const int MaxThreshold = 15;
    private const int BlockShift = 16;
    private readonly ulong[] _table = new ulong[4096];

    /// <summary>Earlier misses a block needs before a miss fills it; 0 admits every miss.</summary>
    public int Threshold { get; set; }

    public bool Admit(long offset)
    {
        int threshold = Threshold;
        if (threshold <= 0) return true;
        ulong block = (ulong)offset >> BlockShift;
        int slot = (int)((block * 0x9E3779B97F4A7C15UL) >> 52);
        ulong e = Volatile.Read(ref _table[slot]);
        ulong count = (e >> 4) == block ? e & 15 : 0;
        if ((int)count >= threshold) return true;
        Volatile.Write(ref _table[slot], (block << 4) | (count + 1));
        return false;
    }
}
