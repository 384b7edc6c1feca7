using System.Buffers.Binary;
using PCache.Engine.Cache;

namespace PCache.Engine.Tests;

/// <summary>
/// What each 512-byte sector may hold. Every write stamps each sector with its version and LBA
/// plus a derived pattern, so a read tells exactly which write it came from (version 0 = zeroes).
/// </summary>
internal sealed class SectorModel
{
    public const int Sector = 512;
    private readonly long[] _durable;          // version guaranteed to survive a crash
    private readonly long[] _latest;           // what a read must return while running
    private readonly Dictionary<long, List<long>> _later = new(); // versions after durable (any of them may survive)
    private readonly bool[] _touched; // a flag per sector, not a set: the checks walk it in LBA order after every cut
    public long NextVersion = 1;

    public SectorModel(long sectors)
    {
        _durable = new long[sectors];
        _latest = new long[sectors];
        _touched = new bool[sectors];
        Sectors = sectors;
    }

    public long Sectors { get; }

    public IEnumerable<long> Touched
    {
        get
        {
            for (long s = 0; s < Sectors; s++)
                if (_touched[s]) yield return s;
        }
    }

    public long Latest(long lba) => _latest[lba];

    public static void Fill(Span<byte> sector, long version, long lba)
    {
        if (version == 0) { sector.Clear(); return; }
        ulong x = (ulong)version * 0x9E3779B97F4A7C15 ^ (ulong)lba * 0xC2B2AE3D27D4EB4F;
        for (int i = 0; i < Sector; i += 8)
        {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(sector[i..], x);
        }
        BinaryPrimitives.WriteInt64LittleEndian(sector, version);
        BinaryPrimitives.WriteInt64LittleEndian(sector[8..], lba);
    }

    /// <summary>Which version a sector holds, or -1 if it holds something no write produced.</summary>
    public static long Identify(ReadOnlySpan<byte> sector, long lba)
    {
        long v = BinaryPrimitives.ReadInt64LittleEndian(sector);
        if (v == 0 && sector.IndexOfAnyExcept((byte)0) < 0) return 0;
        if (v <= 0 || BinaryPrimitives.ReadInt64LittleEndian(sector[8..]) != lba) return -1;
        // The same sequence as Fill, compared word by word as it is generated (this runs for every
        // touched sector after every simulated cut, so it must not build a second copy).
        ulong x = (ulong)v * 0x9E3779B97F4A7C15 ^ (ulong)lba * 0xC2B2AE3D27D4EB4F;
        for (int i = 0; i < Sector; i += 8)
        {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            if (i >= 16 && BinaryPrimitives.ReadUInt64LittleEndian(sector[i..]) != x) return -1;
        }
        return v;
    }

    public byte[] MakeWrite(long lba, int sectors, out long version)
    {
        version = NextVersion++;
        var data = new byte[sectors * Sector];
        for (int i = 0; i < sectors; i++) Fill(data.AsSpan(i * Sector, Sector), version, lba + i);
        return data;
    }

    /// <summary>Record a write (version 0 for zeroes/discards); durable at once when <paramref name="durable"/>.</summary>
    public void Wrote(long lba, int sectors, long version, bool durable)
    {
        for (long s = lba; s < lba + sectors; s++)
        {
            _touched[s] = true;
            _latest[s] = version;
            if (durable)
            {
                _durable[s] = version;
                _later.Remove(s);
            }
            else
            {
                if (!_later.TryGetValue(s, out var l)) _later[s] = l = new List<long>();
                l.Add(version);
            }
        }
    }

    /// <summary>A completed FLUSH: everything acknowledged so far is durable.</summary>
    public void Flushed()
    {
        foreach (var s in _later.Keys) _durable[s] = _latest[s];
        _later.Clear();
    }

    public bool Allowed(long lba, long observed) =>
        observed == _durable[lba] || (_later.TryGetValue(lba, out var l) && l.Contains(observed));

    public string Describe(long lba) =>
        $"durable {_durable[lba]}, later [{string.Join(",", _later.GetValueOrDefault(lba) ?? new List<long>())}], latest {_latest[lba]}";

    /// <summary>After a crash was checked, what survived is the new durable state.</summary>
    public void Settle(long lba, long observed)
    {
        _durable[lba] = observed;
        _latest[lba] = observed;
        _later.Remove(lba);
    }

    /// <summary>
    /// After a drain: the disk alone holds, for every touched sector, the version the cache served
    /// at the last check (the backing is complete once the cache says nothing is dirty).
    /// </summary>
    public void VerifyBacking(byte[] image, string context)
    {
        foreach (long lba in Touched) CheckBacking(image.AsSpan((int)(lba * Sector), Sector), lba, context);
    }

    /// <summary>As <see cref="VerifyBacking(byte[], string)"/>, reading the disk's durable image in place, run by run.</summary>
    public void VerifyBacking(Backing.MemoryBackingDevice disk, string context)
    {
        var buf = new byte[256 * Sector];
        foreach (var (first, n) in TouchedRuns())
        {
            disk.ReadDurable(first * Sector, buf.AsSpan(0, n * Sector));
            for (int k = 0; k < n; k++) CheckBacking(buf.AsSpan(k * Sector, Sector), first + k, context);
        }
    }

    private void CheckBacking(ReadOnlySpan<byte> sector, long lba, string context)
    {
        long v = Identify(sector, lba);
        if (v != _durable[lba])
            throw new Xunit.Sdk.XunitException($"{context}: after a drain the backing holds version {v} of sector {lba}, the cache served {_durable[lba]}");
    }

    /// <summary>The touched sectors in LBA order, as runs of at most 256 contiguous sectors.</summary>
    private IEnumerable<(long First, int Count)> TouchedRuns()
    {
        long s = 0;
        while (s < Sectors)
        {
            if (!_touched[s]) { s++; continue; }
            long first = s;
            while (s < Sectors && _touched[s] && s - first < 256) s++;
            yield return (first, (int)(s - first));
        }
    }

    /// <summary>Read the whole touched set through the cache (in runs) and check it against the model.</summary>
    public void VerifyAfterCrash(BackingCache cache, string context)
    {
        var buf = new byte[256 * Sector];
        foreach (var (first, n) in TouchedRuns())
        {
            cache.Read(first * Sector, buf.AsSpan(0, n * Sector));
            for (int k = 0; k < n; k++)
            {
                long lba = first + k;
                long v = Identify(buf.AsSpan(k * Sector, Sector), lba);
                if (v < 0) throw new Xunit.Sdk.XunitException($"{context}: sector {lba} holds data no write produced");
                if (!Allowed(lba, v)) throw new Xunit.Sdk.XunitException($"{context}: sector {lba} reads version {v}; allowed: {Describe(lba)}");
                Settle(lba, v);
            }
        }
    }
}
