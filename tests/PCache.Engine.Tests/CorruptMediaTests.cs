using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// Random mutations of every metadata structure: opening must either refuse with a
/// <see cref="MediaException"/> naming the structure, or open and serve only data some write put
/// there — never crash, hang or touch memory outside the device.
/// </summary>
public class CorruptMediaTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;
    private const int SegShift = 20;

    private sealed record Target(string Name, long Offset, int Length, Action<Span<byte>>? Reseal);

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
        long version = 1;
        for (int i = 0; i < 12000; i++)
        {
            long lba = rng.Next(0, 1024);
            int n = rng.Next(1, 9);
            long v = version++;
            var data = new byte[n * S];
            for (int k = 0; k < n; k++)
            {
                SectorModel.Fill(data.AsSpan(k * S, S), v, lba + k);
                if (!written.TryGetValue(lba + k, out var set)) written[lba + k] = set = new HashSet<long> { 0 };
                set.Add(v);
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
        CheckOpen(pmem, overlay, written, "pristine", mustOpen: true);
        int refused = 0, opened = 0;
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
            if (CheckOpen(pmem, overlay, written, $"mutation {m} of {t.Name} (resealed {reseal})", mustOpen: false)) opened++;
            else refused++;
            pmem.Rollback();
            overlay.Reset();
        }
        output.WriteLine($"{mutations} mutations: {refused} refused with a media error, {opened} opened and served written data only");
        Assert.True(refused > mutations / 20, "mutations must actually hit checked structures");
    }

    /// <summary>True when it opened (and served only written data), false when refused.</summary>
    private static bool CheckOpen(JournaledPmem pmem, OverlayBackingDevice disk, Dictionary<long, HashSet<long>> written, string what, bool mustOpen)
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
                var buf = new byte[64 * S];
                foreach (var chunk in written.Keys.Order().Chunk(64))
                {
                    foreach (long lba in chunk)
                    {
                        if (lba * S + S > cache.Size) continue;
                        cache.Read(lba * S, buf.AsSpan(0, S));
                        long v = SectorModel.Identify(buf.AsSpan(0, S), lba);
                        if (mustOpen) Assert.Equal(written[lba].Max(), v);
                        else Assert.True(v >= 0 && written[lba].Contains(v), $"{what}: sector {lba} reads {(v < 0 ? "data no write produced" : $"version {v} never written there")}");
                    }
                }
            }
            finally
            {
                cache.Abandon();
            }
            return true;
        });
        Assert.True(task.Wait(TimeSpan.FromSeconds(20)), $"{what}: open or read hung");
        return task.Result;
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
            list.Add(new($"dirty_tail replica {r}", Geometry.DirtyTailReplica(0, r), Geometry.TailRecordSize, s => Crc.Seal(s)));
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
        for (int guard = 0; guard < 100_000; guard++)
        {
            long at = cache.Pool.DataOffset(pos.Segment) + pos.Offset;
            var room = pmem.Span(at, cache.Pool.DataSize - (int)pos.Offset);
            var kind = Kset.Inspect(room, out int n, out uint next);
            if (kind == Kset.Kind.Invalid) break;
            int size = kind == Kset.Kind.Last ? Kset.HeaderSize : Kset.SizeOf(n);
            int keys = n;
            Action<Span<byte>>? reseal = cache.DataCrc ? s => Crc.Seal(s) : null;
            list.Add(new($"kset {pos}{(kind == Kset.Kind.Last ? " LAST" : $" ({keys} keys)")}", at, size, reseal));
            pos = kind == Kset.Kind.Last ? new LogPosition(next, 0) : pos with { Offset = pos.Offset + (uint)size };
        }
        return list;
    }
}
