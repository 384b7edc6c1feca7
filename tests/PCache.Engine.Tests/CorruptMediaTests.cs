using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// Random mutations of every metadata structure: opening must either refuse with a
/// <see cref="MediaException"/> naming the structure, or open and serve the latest acknowledged
/// version of every block — never crash, hang or touch memory outside the device. Only where the
/// damage is indistinguishable from what a crash leaves (a kset past dirty_tail reads as the torn
/// end of the log) or moves dirty_tail forward (write-back then skips keys) may an older written
/// version come back. After the reads, the opened cache is written until its log switches
/// segment, stopped and reopened: damage that only bites at the next log switch (a tail with no
/// room for the linking kset) must not make the engine ruin the device itself.
/// </summary>
public class CorruptMediaTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;
    private const int SegShift = 20;

    private sealed record Target(string Name, long Offset, int Length, Action<Span<byte>>? Reseal, bool Strict = true);

    [Theory]
    [InlineData(false, 5000, 11)]
    [InlineData(true, 5000, 12)]
    public void Corrupt_structures_are_refused_or_served_correctly(bool dataCrc, int mutations, int seed)
    {
        var rng = new Random(seed);
        long backingSize = 4 << 20;
        using var pmem = new JournaledPmem(Geometry.SegmentsOffset + (8L << SegShift));
        var disk = new MemoryBackingDevice(backingSize);
        var device = CacheDevice.Format(pmem, SegShift);
        var cache = device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift, DataCrc = dataCrc, GcPercent = 50 }, disk);
        var written = new Dictionary<long, HashSet<long>>();
        var latest = new Dictionary<long, long>();
        long version = 1;
        for (int i = 0; i < 12400; i++)
        {
            // The last writes stay in the log (GC backs off), so there are always ksets to damage.
            if (i == 12000) cache.SetGcPercent(90);
            long lba = rng.Next(0, 1024);
            int n = rng.Next(1, 9);
            long v = version++;
            var data = new byte[n * S];
            for (int k = 0; k < n; k++)
            {
                SectorModel.Fill(data.AsSpan(k * S, S), v, lba + k);
                if (!written.TryGetValue(lba + k, out var set)) written[lba + k] = set = new HashSet<long> { 0 };
                set.Add(v);
                latest[lba + k] = v;
            }
            cache.Write(lba * S, data);
            if (i == 8000) Thread.Sleep(300); // let write-back and GC move the tails
        }
        cache.Stop();
        var image = disk.DurableImage();
        pmem.Forget();
        var targets = Targets(pmem, device.Superblock, cache);
        output.WriteLine($"{targets.Count} structures: " + string.Join(", ", targets.GroupBy(t => t.Name.Split(' ')[0]).Select(g => $"{g.Key}×{g.Count()}")));
        Assert.Contains(targets, t => t.Name.StartsWith("kset"));

        var overlay = new OverlayBackingDevice(image);
        CheckOpen(pmem, overlay, written, latest, "pristine", mustOpen: true, strict: true, writeAfter: true);
        int refused = 0, opened = 0, writePhases = 0;
        for (int m = 0; m < mutations; m++)
        {
            // Ksets are few but hold most of what replay trusts: aim at them half of the time.
            var ksets = targets.Where(x => x.Name.StartsWith("kset")).ToList();
            var t = rng.Next(2) == 0 ? ksets[rng.Next(ksets.Count)] : targets[rng.Next(targets.Count)];
            var span = pmem.Edit(t.Offset, t.Length);
            int edits = rng.Next(1, 4);
            for (int e = 0; e < edits; e++)
            {
                int at = rng.Next(t.Length);
                switch (rng.Next(3))
                {
                    case 0: span[at] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: span[at] = (byte)rng.Next(256); break;
                    default:
                        at &= ~3;
                        if (at + 4 <= t.Length) BitConverter.TryWriteBytes(span[at..], rng.Next(2) == 0 ? (uint)rng.Next(0, 64) : (uint)rng.Next());
                        break;
                }
            }
            bool reseal = t.Reseal is not null && rng.Next(2) == 0;
            if (reseal) t.Reseal!(span);
            // Writing until the log switches costs thousands of keys: done after every forged tail
            // (where a bad position bites at the switch) and every 128th other mutation.
            bool writeAfter = (reseal && t.Name.Contains("_tail")) || m % 128 == 0;
            if (CheckOpen(pmem, overlay, written, latest, $"mutation {m} of {t.Name} (resealed {reseal})", mustOpen: false, strict: t.Strict, writeAfter))
            {
                opened++;
                if (writeAfter) writePhases++;
            }
            else refused++;
            pmem.Rollback();
            overlay.Reset();
        }
        output.WriteLine($"{mutations} mutations: {refused} refused with a media error, {opened} opened and served acknowledged data (the latest unless the damage looks like a crash), {writePhases} of them also written past a log switch and reopened");
        Assert.True(refused > mutations / 20, "mutations must actually hit checked structures");
    }

    /// <summary>True when it opened (and served only written data), false when refused.</summary>
    private static bool CheckOpen(JournaledPmem pmem, OverlayBackingDevice disk, Dictionary<long, HashSet<long>> written,
        Dictionary<long, long> latest, string what, bool mustOpen, bool strict, bool writeAfter)
    {
        var task = Task.Run(() =>
        {
            CacheDevice dev;
            try
            {
                dev = CacheDevice.Open(pmem);
            }
            catch (MediaException e)
            {
                Assert.False(mustOpen, $"{what}: {e.Message}");
                Assert.Contains(" at offset ", e.Message);
                return false;
            }
            if (dev.StoredBackings.Count == 0) return false; // the backing's record no longer says it is in use
            BackingCache cache;
            try
            {
                cache = dev.Attach(dev.StoredBackings[0].BackingId, disk);
            }
            catch (MediaException e)
            {
                Assert.False(mustOpen, $"{what}: {e.Message}");
                return false;
            }
            catch (IOException e) when (!mustOpen && e.Message.Contains("smaller than"))
            {
                return false; // a forged size larger than the disk is refused at attach
            }
            try
            {
                Verify(cache, written, latest, what, strict);
                if (!writeAfter) return true;
                WriteUntilTheLogSwitches(cache);
                cache.Stop();
            }
            finally
            {
                cache.Abandon();
            }
            // The engine accepted this media and wrote to it: it must open again and still serve it.
            BackingCache again;
            try
            {
                again = CacheDevice.Open(pmem).Attach(0, disk);
            }
            catch (MediaException e)
            {
                throw new Xunit.Sdk.XunitException($"{what}: opened and written, then refused on reopen: {e.Message}");
            }
            try
            {
                Verify(again, written, latest, what + ", after writes and a reopen", strict);
            }
            finally
            {
                again.Abandon();
            }
            return true;
        });
        Assert.True(task.Wait(TimeSpan.FromSeconds(20)), $"{what}: open or read hung");
        return task.Result;
    }

    private static void Verify(BackingCache cache, Dictionary<long, HashSet<long>> written, Dictionary<long, long> latest, string what, bool strict)
    {
        var buf = new byte[S];
        foreach (long lba in written.Keys.Order())
        {
            if (lba * S + S > cache.Size) continue;
            cache.Read(lba * S, buf);
            long v = SectorModel.Identify(buf, lba);
            if (strict) Assert.True(v == latest[lba], $"{what}: sector {lba} reads {(v < 0 ? "data no write produced" : $"version {v}")}, not the latest acknowledged {latest[lba]}");
            else Assert.True(v >= 0 && written[lba].Contains(v), $"{what}: sector {lba} reads {(v < 0 ? "data no write produced" : $"version {v} never written there")}");
        }
    }

    /// <summary>Discard sectors nobody reads (keys but no data) until key_head moves to another log segment.</summary>
    private static void WriteUntilTheLogSwitches(BackingCache cache)
    {
        uint start = cache.Log.Head.Segment;
        long first = 4096L * S;
        for (int i = 0; i < 40_000 && cache.Log.Head.Segment == start; i++)
        {
            long at = first + (i % 2048) * (long)S;
            if (at + S > cache.Size) at = first;
            cache.Discard(at, S);
        }
        cache.Flush();
    }

    private static List<Target> Targets(JournaledPmem pmem, Superblock sb, BackingCache cache)
    {
        var list = new List<Target>
        {
            new("superblock", Geometry.SuperblockOffset, Geometry.SuperblockSize, s => Crc.Seal(s)),
            new("backing_info replica 0", Geometry.BackingInfoReplica(0, 0), Geometry.BackingInfoSize, s => Crc.Seal(s)),
            new("backing_info replica 1", Geometry.BackingInfoReplica(0, 1), Geometry.BackingInfoSize, s => Crc.Seal(s)),
        };
        for (int r = 0; r < 2; r++)
        {
            list.Add(new($"key_tail replica {r}", Geometry.KeyTailReplica(0, r), Geometry.TailRecordSize, s => Crc.Seal(s)));
            // dirty_tail forged forward makes write-back skip keys that GC then reclaims.
            list.Add(new($"dirty_tail replica {r}", Geometry.DirtyTailReplica(0, r), Geometry.TailRecordSize, s => Crc.Seal(s), Strict: false));
        }
        for (uint seg = 0; seg < cache.Pool.Count; seg++)
        {
            long b = Geometry.SegmentBase(SegShift, cache.Pool.PhysicalId(seg));
            list.Add(new($"segment_info {seg}", b, Geometry.SegmentInfoSize, s => Crc.Seal(s)));
            list.Add(new($"segment_gen {seg}", b + Geometry.SegmentGenOffset, Geometry.SegmentGenSize, s => Crc.Seal(s)));
        }
        // Every kset from key_tail to the end of the log; forged ones (resealed) only where a data
        // CRC can tell them apart from real ones.
        var pos = cache.Tails.KeyTail;
        bool pastDirtyTail = false;
        for (int guard = 0; guard < 100_000; guard++)
        {
            if (pos == cache.Tails.DirtyTail) pastDirtyTail = true;
            long at = cache.Pool.DataOffset(pos.Segment) + pos.Offset;
            var room = pmem.Span(at, cache.Pool.DataSize - (int)pos.Offset);
            var kind = Kset.Inspect(room, out int n, out uint next);
            if (kind == Kset.Kind.Invalid) break;
            int size = kind == Kset.Kind.Last ? Kset.HeaderSize : Kset.SizeOf(n);
            int keys = n;
            Action<Span<byte>>? reseal = cache.DataCrc ? s => Crc.Seal(s) : null;
            list.Add(new($"kset {pos}{(kind == Kset.Kind.Last ? " LAST" : $" ({keys} keys)")}{(pastDirtyTail ? " past dirty_tail" : "")}", at, size, reseal, Strict: !pastDirtyTail));
            pos = kind == Kset.Kind.Last ? new LogPosition(next, 0) : pos with { Offset = pos.Offset + (uint)size };
        }
        return list;
    }
}
