using System.Runtime.InteropServices;

namespace PCache.Engine.Pmem;

/// <summary>
/// Test stand-in for a power cut on pmem. The media remembers, per 64-byte line, what was on it
/// before any store that no fence has made durable yet (per thread, as on real hardware where a
/// store fence only orders the issuing CPU's stores). At a power cut every such line is
/// independently kept or rolled back at random; stores issued after the cut are lost.
/// </summary>
public sealed unsafe class CrashSimMedia : IDisposable
{
    private readonly object _lock = new();
    private readonly byte* _shadow;     // a pending line's content before its first unfenced store
    private readonly int[] _owner;      // thread id of the line's last unfenced store, 0 when durable
    private readonly Dictionary<int, List<int>> _byThread = new();
    private int _incarnation;
    private bool _dead;
    private long _storesUntilCut = long.MaxValue;

    public CrashSimMedia(long length)
    {
        Length = length;
        Base = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
        NativeMemory.Clear(Base, (nuint)length);
        _shadow = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
        _owner = new int[(length + 63) / 64];
    }

    public byte* Base { get; }

    public long Length { get; }

    public bool IsCut { get { lock (_lock) return _dead; } }

    /// <summary>A region for the current incarnation of the media.</summary>
    public PmemRegion Attach()
    {
        lock (_lock) return new CrashSimPmem(this, _incarnation);
    }

    /// <summary>Cut the power by itself after this many more stores.</summary>
    public void CutAfterStores(long stores)
    {
        lock (_lock) _storesUntilCut = stores;
    }

    /// <summary>Cut the power now: every later store of this incarnation is lost.</summary>
    public void Cut()
    {
        lock (_lock) _dead = true;
    }

    /// <summary>
    /// After a cut (and after the engine that used the media has stopped touching it): decide each
    /// unfenced line at random, then power the media back on. Returns how many lines were rolled back.
    /// </summary>
    public int Recover(Random rng)
    {
        lock (_lock)
        {
            if (!_dead) throw new InvalidOperationException("recover without a power cut");
            int rolledBack = 0;
            foreach (var lines in _byThread.Values)
            {
                foreach (int line in lines)
                {
                    if (_owner[line] == 0) continue;
                    _owner[line] = 0;
                    if (rng.Next(2) == 0)
                    {
                        long at = (long)line * 64;
                        long n = Math.Min(64, Length - at);
                        Buffer.MemoryCopy(_shadow + at, Base + at, n, n);
                        rolledBack++;
                    }
                }
            }
            _byThread.Clear();
            _dead = false;
            _storesUntilCut = long.MaxValue;
            _incarnation++;
            return rolledBack;
        }
    }

    internal void Store(int incarnation, long offset, ReadOnlySpan<byte> source, bool zero, long zeroLength)
    {
        lock (_lock)
        {
            if (_dead || incarnation != _incarnation) return;
            if (--_storesUntilCut < 0) { _dead = true; return; }
            long length = zero ? zeroLength : source.Length;
            int tid = Environment.CurrentManagedThreadId;
            if (!_byThread.TryGetValue(tid, out var mine)) _byThread[tid] = mine = new List<int>();
            for (long line = offset >> 6; line <= (offset + length - 1) >> 6; line++)
            {
                if (_owner[line] == 0)
                {
                    long at = line * 64;
                    long n = Math.Min(64, Length - at);
                    Buffer.MemoryCopy(Base + at, _shadow + at, n, n);
                }
                if (_owner[line] != tid)
                {
                    _owner[line] = tid;
                    mine.Add((int)line);
                }
            }
            if (zero) new Span<byte>(Base + offset, checked((int)zeroLength)).Clear();
            else source.CopyTo(new Span<byte>(Base + offset, source.Length));
        }
    }

    internal void Fence(int incarnation)
    {
        lock (_lock)
        {
            if (_dead || incarnation != _incarnation) return;
            int tid = Environment.CurrentManagedThreadId;
            if (!_byThread.TryGetValue(tid, out var mine)) return;
            foreach (int line in mine)
                if (_owner[line] == tid) _owner[line] = 0;
            mine.Clear();
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(Base);
        NativeMemory.AlignedFree(_shadow);
    }
}

/// <summary>One incarnation's view of a <see cref="CrashSimMedia"/>.</summary>
public sealed unsafe class CrashSimPmem : PmemRegion
{
    private readonly CrashSimMedia _media;
    private readonly int _incarnation;

    internal CrashSimPmem(CrashSimMedia media, int incarnation) : base(media.Base, media.Length)
    {
        _media = media;
        _incarnation = incarnation;
    }

    public override string PersistMode => "crash-sim";

    public override void Store(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        _media.Store(_incarnation, offset, source, false, 0);
    }

    public override void StoreZero(long offset, long length)
    {
        CheckRange(offset, length);
        _media.Store(_incarnation, offset, default, true, length);
    }

    public override void Fence() => _media.Fence(_incarnation);

    public override void Dispose() { }
}
