using System.Runtime.InteropServices;

namespace PCache.Engine.Pmem;

/// <summary>
/// Test stand-in for a power cut on pmem, modelled on what pmemcheck/pmreorder, Yat, Jaaru and
/// Yashme let a real machine do. The media keeps two images: what loads see, and what is durable
/// (every store some fence covered). A fence covers only the calling thread's stores, as an x86
/// store fence orders only the issuing CPU's non-temporal stores. At a power cut each unfenced
/// store may still reach the media: the whole store, none of it, or any subset of its aligned
/// 8-byte words (x86 promises no more than 8-byte atomicity), and a line may have been evicted
/// early. Which of these happens is drawn per cut from <see cref="Recover"/>'s random source, so
/// a seed replays the same outcome for the same sequence of stores.
/// <para>
/// With <see cref="Medium.Pages"/> it models a non-DAX mapping (a file on a disk, an SSD) instead:
/// fences do nothing, the kernel may write any dirty 4 KiB page back at any time, so at a cut every
/// page written since its last sync holds its synced content, its newest content, or (written back
/// early, then written again) any version in between, each page on its own. Only a sync of a range
/// (what <see cref="BatchedSync"/> issues) makes it durable.
/// </para>
/// </summary>
public sealed unsafe class CrashSimMedia : IDisposable
{
    private readonly object _lock = new();
    private readonly byte* _durable;    // what survives a cut of everything unfenced
    private readonly long* _durableSeq; // per 8-byte word: sequence number of the newest fenced store in it
    private readonly Dictionary<int, List<PendingStore>> _byThread = new();
    private readonly Dictionary<long, List<PendingStore>> _byPage = new(); // Medium.Pages: unsynced pieces per page
    private const long PageSize = DirtyRanges.PageSize;
    private long _seq;
    private int _incarnation;
    private bool _dead;
    private long _storesUntilCut = long.MaxValue;
    private long _eventsUntilCut = long.MaxValue;

    /// <summary>A store no fence has covered yet; <see cref="Data"/> is null for a zeroing store.</summary>
    private readonly record struct PendingStore(long Seq, long Offset, long Length, byte[]? Data);

    /// <summary>How the unfenced stores of one cut reach the media.</summary>
    public enum Outcome
    {
        /// <summary>Per 64-byte line: every unfenced store in the line persisted (evicted early) or none.</summary>
        Lines,
        /// <summary>Per aligned 8-byte word of every store: kept or dropped on its own (torn stores).</summary>
        Words,
        /// <summary>Per store: all of it or none, any subset of the stores.</summary>
        Stores,
        /// <summary>The stores in issue order up to a random point, none after it.</summary>
        Prefix,
        /// <summary>Nothing unfenced survives.</summary>
        None,
        /// <summary>Everything unfenced survives (all lines written back before the cut).</summary>
        All,
        /// <summary>Non-DAX: per 4 KiB page, every unsynced store in it persisted or none.</summary>
        Pages,
        /// <summary>Non-DAX: per 4 KiB page, the unsynced stores in it up to a random point (a page written back early).</summary>
        PageVersions,
    }

    /// <summary>What kind of cache device the media stands in for.</summary>
    public enum Medium
    {
        /// <summary>Persistent memory: stores durable at their thread's fence, torn at 8 bytes, lines evicted early.</summary>
        Pmem,
        /// <summary>A non-DAX mapping: 4 KiB pages persist in any order unless synced.</summary>
        Pages,
    }

    public CrashSimMedia(long length, Medium medium = Medium.Pmem)
    {
        Kind = medium;
        Length = length;
        Base = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
        NativeMemory.Clear(Base, (nuint)length);
        // Zeroed allocations: pages the test never touches are never faulted in.
        _durable = (byte*)NativeMemory.AllocZeroed((nuint)length);
        _durableSeq = (long*)NativeMemory.AllocZeroed((nuint)((length + 7) / 8), sizeof(long));
    }

    public byte* Base { get; }

    public long Length { get; }

    public Medium Kind { get; }

    /// <summary>Syncs issued to a <see cref="Medium.Pages"/> media (every incarnation).</summary>
    public long Syncs { get { lock (_lock) return _syncs; } }
    private long _syncs;

    public bool IsCut { get { lock (_lock) return _dead; } }

    /// <summary>Stores issued since the media was created (every incarnation).</summary>
    public long Stores { get { lock (_lock) return _seq; } }

    /// <summary>The outcome the last <see cref="Recover"/> drew.</summary>
    public Outcome LastOutcome { get; private set; }

    /// <summary>
    /// Called once, under the media's lock, at the instant the power fails (by <see cref="Cut"/> or
    /// by a countdown), so a disk on the same power loses its cache at the same instant.
    /// </summary>
    public Action? PowerFailed;

    /// <summary>A region for the current incarnation of the media.</summary>
    public PmemRegion Attach()
    {
        lock (_lock) return new CrashSimPmem(this, _incarnation);
    }

    /// <summary>Cut the power by itself after this many more stores (fences not counted).</summary>
    public void CutAfterStores(long stores)
    {
        lock (_lock) _storesUntilCut = stores;
    }

    /// <summary>
    /// Cut the power by itself after this many more stores and fences: the cut can fall between a
    /// store and the fence that would have made it durable.
    /// </summary>
    public void CutAfterEvents(long events)
    {
        lock (_lock) _eventsUntilCut = events;
    }

    /// <summary>Cut the power now: every later store of this incarnation is lost.</summary>
    public void Cut()
    {
        lock (_lock) Die();
    }

    private void Die()
    {
        if (_dead) return;
        _dead = true;
        PowerFailed?.Invoke();
    }

    /// <summary>
    /// After a cut (and after the engine that used the media has stopped touching it): draw how
    /// the unfenced stores reach the media, apply that, and power the media back on. Returns how
    /// many 8-byte words of unfenced stores were lost.
    /// </summary>
    public int Recover(Random rng)
    {
        lock (_lock)
        {
            if (!_dead) throw new InvalidOperationException("recover without a power cut");
            if (Kind == Medium.Pages) return RecoverPages(rng);
            // Line eviction and tearing are where real bugs hide: draw them twice as often.
            int draw = rng.Next(8);
            var outcome = (Outcome)(draw >= 6 ? draw - 6 : draw);
            LastOutcome = outcome;
            ulong salt = (ulong)rng.NextInt64();
            var pending = new List<PendingStore>();
            foreach (var stores in _byThread.Values) pending.AddRange(stores);
            pending.Sort((a, b) => a.Seq.CompareTo(b.Seq));
            long prefixEnd = pending.Count == 0 ? 0 : rng.Next(pending.Count + 1);

            // Loads saw every store; put each touched word back to its durable content first.
            foreach (var p in pending)
            {
                long from = p.Offset & ~7L, to = Math.Min(Length, (p.Offset + p.Length + 7) & ~7L);
                Buffer.MemoryCopy(_durable + from, Base + from, to - from, to - from);
            }
            int lost = 0;
            for (int i = 0; i < pending.Count; i++)
            {
                var p = pending[i];
                bool storeKept = outcome switch
                {
                    Outcome.Stores => (Mix(salt ^ (ulong)p.Seq) & 1) == 0,
                    Outcome.Prefix => i < prefixEnd,
                    Outcome.All => true,
                    _ => false,
                };
                for (long w = p.Offset & ~7L; w < p.Offset + p.Length; w += 8)
                {
                    bool keep = outcome switch
                    {
                        Outcome.Lines => (Mix(salt ^ (ulong)(w >> 6)) & 1) == 0,
                        Outcome.Words => (Mix(salt ^ (ulong)p.Seq * 0x9E3779B97F4A7C15 ^ (ulong)w) & 1) == 0,
                        _ => storeKept,
                    };
                    if (keep) Persist(p, w, Base);
                    else lost++;
                }
            }
            // What survived is the new durable state.
            foreach (var p in pending)
            {
                long from = p.Offset & ~7L, to = Math.Min(Length, (p.Offset + p.Length + 7) & ~7L);
                Buffer.MemoryCopy(Base + from, _durable + from, to - from, to - from);
            }
            _byThread.Clear();
            _dead = false;
            _storesUntilCut = _eventsUntilCut = long.MaxValue;
            _incarnation++;
            return lost;
        }
    }

    private int RecoverPages(Random rng)
    {
        // Half the cuts decide per page whole, half per page version: early write-back is where
        // ordering bugs of a non-DAX medium hide.
        int draw = rng.Next(6);
        var outcome = draw switch { 0 or 1 => Outcome.Pages, 2 or 3 => Outcome.PageVersions, 4 => Outcome.None, _ => Outcome.All };
        LastOutcome = outcome;
        ulong salt = (ulong)rng.NextInt64();
        var pending = new List<(PendingStore Store, bool Keep)>();
        foreach (var (page, stores) in _byPage)
        {
            ulong h = Mix(salt ^ (ulong)page);
            int upTo = outcome switch
            {
                Outcome.Pages => (h & 1) == 0 ? stores.Count : 0,
                Outcome.PageVersions => (int)(h % (ulong)(stores.Count + 1)),
                Outcome.All => stores.Count,
                _ => 0,
            };
            for (int i = 0; i < stores.Count; i++) pending.Add((stores[i], i < upTo));
        }
        pending.Sort((a, b) => a.Store.Seq.CompareTo(b.Store.Seq));
        foreach (var (p, _) in pending)
            Buffer.MemoryCopy(_durable + p.Offset, Base + p.Offset, p.Length, p.Length);
        int lost = 0;
        foreach (var (p, keep) in pending)
        {
            if (keep) MakeDurable(p);
            else lost += (int)((p.Length + 7) / 8);
        }
        foreach (var (p, _) in pending)
            Buffer.MemoryCopy(_durable + p.Offset, Base + p.Offset, p.Length, p.Length);
        _byPage.Clear();
        _dead = false;
        _storesUntilCut = _eventsUntilCut = long.MaxValue;
        _incarnation++;
        return lost;
    }

    /// <summary>Copy the part of store <paramref name="p"/> that lies in the 8-byte word at <paramref name="word"/> into <paramref name="image"/>.</summary>
    private void Persist(in PendingStore p, long word, byte* image)
    {
        if (p.Seq < _durableSeq[word >> 3]) return; // a newer store to this word was fenced: it wins
        long from = Math.Max(word, p.Offset), to = Math.Min(word + 8, p.Offset + p.Length);
        if (p.Data is null) new Span<byte>(image + from, (int)(to - from)).Clear();
        else p.Data.AsSpan((int)(from - p.Offset), (int)(to - from)).CopyTo(new Span<byte>(image + from, (int)(to - from)));
    }

    /// <summary>
    /// A fence covered <paramref name="p"/>: copy it into the durable image, in runs of words, except
    /// where another thread's newer store to the same word was fenced first.
    /// </summary>
    private void MakeDurable(in PendingStore p)
    {
        long end = p.Offset + p.Length, w = p.Offset & ~7L;
        while (w < end)
        {
            long run = w;
            while (run < end && p.Seq >= _durableSeq[run >> 3])
            {
                _durableSeq[run >> 3] = p.Seq;
                run += 8;
            }
            if (run > w)
            {
                long from = Math.Max(w, p.Offset), to = Math.Min(run, end);
                var dst = new Span<byte>(_durable + from, checked((int)(to - from)));
                if (p.Data is null) dst.Clear();
                else p.Data.AsSpan((int)(from - p.Offset), dst.Length).CopyTo(dst);
            }
            while (run < end && p.Seq < _durableSeq[run >> 3]) run += 8;
            w = run;
        }
    }

    private static ulong Mix(ulong x)
    {
        x ^= x >> 33; x *= 0xFF51AFD7ED558CCD;
        x ^= x >> 33; x *= 0xC4CEB9FE1A85EC53;
        return x ^ (x >> 33);
    }

    /// <summary>Counts a store or fence towards a pending cut; true when the power is (now) off.</summary>
    private bool Dead(int incarnation, bool isStore)
    {
        if (_dead || incarnation != _incarnation) return true;
        if ((isStore && --_storesUntilCut < 0) || --_eventsUntilCut < 0) Die();
        return _dead;
    }

    internal void Store(int incarnation, long offset, ReadOnlySpan<byte> source, bool zero, long zeroLength)
    {
        lock (_lock)
        {
            if (Dead(incarnation, isStore: true)) return;
            long length = zero ? zeroLength : source.Length;
            if (length == 0) return;
            if (Kind == Medium.Pages) AddPieces(++_seq, offset, length, zero ? default : source, zero);
            else
            {
                int tid = Environment.CurrentManagedThreadId;
                if (!_byThread.TryGetValue(tid, out var mine)) _byThread[tid] = mine = new List<PendingStore>();
                mine.Add(new PendingStore(++_seq, offset, length, zero ? null : source.ToArray()));
            }
            if (zero) new Span<byte>(Base + offset, checked((int)zeroLength)).Clear();
            else source.CopyTo(new Span<byte>(Base + offset, source.Length));
        }
    }

    /// <summary>A non-DAX store, cut at page boundaries: the kernel writes pages back one by one.</summary>
    private void AddPieces(long seq, long offset, long length, ReadOnlySpan<byte> source, bool zero)
    {
        long end = offset + length;
        for (long at = offset; at < end;)
        {
            long page = at / PageSize;
            long to = Math.Min(end, (page + 1) * PageSize);
            if (!_byPage.TryGetValue(page, out var list)) _byPage[page] = list = new List<PendingStore>();
            list.Add(new PendingStore(seq, at, to - at, zero ? null : source.Slice((int)(at - offset), (int)(to - at)).ToArray()));
            at = to;
        }
    }

    /// <summary>Non-DAX: a sync of these ranges (one event towards a cut); their pages become durable.</summary>
    internal void Sync(int incarnation, DirtyRanges ranges, int count)
    {
        lock (_lock)
        {
            if (Dead(incarnation, isStore: false)) return;
            _syncs++;
            for (int r = 0; r < count; r++)
            {
                long first = ranges.Start(r) / PageSize, end = (ranges.Start(r) + ranges.Length(r) + PageSize - 1) / PageSize;
                if (end - first <= _byPage.Count)
                {
                    for (long page = first; page < end; page++) SyncPage(page);
                }
                else
                {
                    foreach (long page in _byPage.Keys.Where(p => p >= first && p < end).ToArray()) SyncPage(page);
                }
            }
        }
    }

    private void SyncPage(long page)
    {
        if (!_byPage.Remove(page, out var stores)) return;
        foreach (var p in stores) MakeDurable(p);
    }

    internal void Fence(int incarnation)
    {
        lock (_lock)
        {
            if (Dead(incarnation, isStore: false)) return;
            int tid = Environment.CurrentManagedThreadId;
            if (!_byThread.TryGetValue(tid, out var mine)) return;
            foreach (var p in mine) MakeDurable(p);
            mine.Clear();
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(Base);
        NativeMemory.Free(_durable);
        NativeMemory.Free(_durableSeq);
    }
}

/// <summary>One incarnation's view of a <see cref="CrashSimMedia"/>.</summary>
public sealed unsafe class CrashSimPmem : PmemRegion
{
    private readonly CrashSimMedia _media;
    private readonly int _incarnation;
    private readonly BatchedSync? _batch; // Medium.Pages: the engine's real batching, syncing into the model

    internal CrashSimPmem(CrashSimMedia media, int incarnation) : base(media.Base, media.Length)
    {
        _media = media;
        _incarnation = incarnation;
        if (media.Kind == CrashSimMedia.Medium.Pages)
            _batch = new BatchedSync("crash-sim", (ranges, count) => _media.Sync(_incarnation, ranges, count));
    }

    public override string PersistMode => _batch is null ? "crash-sim" : "crash-sim-pages";

    public override void Store(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        _media.Store(_incarnation, offset, source, false, 0);
        _batch?.Mark(offset, source.Length);
    }

    public override void StoreZero(long offset, long length)
    {
        CheckRange(offset, length);
        _media.Store(_incarnation, offset, default, true, length);
        _batch?.Mark(offset, length);
    }

    public override void Fence()
    {
        if (_batch is null) _media.Fence(_incarnation);
        else _batch.Commit(_batch.Staged);
    }

    public override void Stage()
    {
        if (_batch is null) _media.Fence(_incarnation);
    }

    public override long Staged => _batch?.Staged ?? 0;

    public override void Commit(long upTo) => _batch?.Commit(upTo);

    public override long Syncs => _batch?.Syncs ?? 0;

    public override void Dispose() { }
}
