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
    private readonly Dictionary<long, PendingLine> _pending = new();
    private readonly Dictionary<int, List<long>> _byThread = new();
    private int _incarnation;
    private bool _dead;
    private long _storesUntilCut = long.MaxValue;

    private sealed class PendingLine
    {
        public readonly byte[] Old = new byte[64];
        public int Owner;
    }

    public CrashSimMedia(long length)
    {
        Length = length;
        Base = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
        NativeMemory.Clear(Base, (nuint)length);
    }

    public byte* Base { get; }

    public long Length { get; }

    public bool IsCut { get { lock (_lock) return _dead; } }

    /// <summary>Number of stores accepted so far in this incarnation (for choosing cut points).</summary>
    public long StoreCount { get; private set; }

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
            foreach (var (line, p) in _pending)
            {
                if (rng.Next(2) == 0)
                {
                    int n = (int)Math.Min(64, Length - line);
                    p.Old.AsSpan(0, n).CopyTo(new Span<byte>(Base + line, n));
                    rolledBack++;
                }
            }
            _pending.Clear();
            _byThread.Clear();
            _dead = false;
            _storesUntilCut = long.MaxValue;
            StoreCount = 0;
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
            StoreCount++;
            long length = zero ? zeroLength : source.Length;
            int tid = Environment.CurrentManagedThreadId;
            if (!_byThread.TryGetValue(tid, out var mine)) _byThread[tid] = mine = new List<long>();
            for (long line = offset & ~63L; line < offset + length; line += 64)
            {
                if (!_pending.TryGetValue(line, out var p))
                {
                    p = new PendingLine();
                    int n = (int)Math.Min(64, Length - line);
                    new ReadOnlySpan<byte>(Base + line, n).CopyTo(p.Old);
                    _pending[line] = p;
                }
                p.Owner = tid;
                mine.Add(line);
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
            foreach (long line in mine)
            {
                if (_pending.TryGetValue(line, out var p) && p.Owner == tid) _pending.Remove(line);
            }
            mine.Clear();
        }
    }

    public void Dispose() => NativeMemory.AlignedFree(Base);
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
