using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;
using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// A power cut at every persistence step of one GC pass (crash-simulating pmem, memory disk):
/// after replay each range must read its latest flushed version, never an overwritten one.
/// </summary>
public class GcCrashPointTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;

    private static void WaitFor(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"gave up waiting: {what}");
            Thread.Sleep(5);
        }
    }

    private static byte[] Data(long version, long offset, int length)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i += S) SectorModel.Fill(b.AsSpan(i, S), version, (offset + i) / S);
        return b;
    }

    private static void Expect(BackingCache cache, long offset, int length, long version, string what)
    {
        var buf = new byte[length];
        cache.Read(offset, buf);
        for (int i = 0; i < length; i += S)
        {
            long got = SectorModel.Identify(buf.AsSpan(i, S), (offset + i) / S);
            if (got != version) throw new Xunit.Sdk.XunitException($"{what}: sector {(offset + i) / S} reads version {got}, expected {version}");
        }
    }

    [Fact]
    public void Cut_at_every_gc_step_replays_the_latest_flushed_version_OnCrashSimPmem_GatedMemoryBacking()
    {
        int completed = 0;
        for (int cutAt = 0; cutAt < 8 && completed == 0; cutAt++)
        {
            var (cut, media, reopened) = Scenario(cutAt, forge: null);
            using (media)
            {
                if (!cut) completed++;
                try
                {
                    string what = $"cut after {cutAt} stores{(cut ? "" : " (GC had passed the kset)")}";
                    ExpectLatest(reopened, what);
                    output.WriteLine($"{what}: latest versions read back");
                }
                finally
                {
                    reopened.Abandon();
                }
            }
        }
        Assert.Equal(1, completed);
    }

    [Fact]
    public void Replay_takes_a_key_of_a_reclaimed_segment_as_a_tombstone_OnCrashSimPmem_GatedMemoryBacking()
    {
        // The image an earlier build's GC order left: Y's new generation durable, key_tail not moved.
        var (_, media, reopened) = Scenario(1, forge: BumpGeneration);
        using (media)
        {
            try
            {
                ExpectLatest(reopened, "reclaimed segment before key_tail moved");
            }
            finally
            {
                reopened.Abandon();
            }
        }
    }

    [Fact]
    public void Replay_refuses_a_stale_key_that_was_never_written_back_OnCrashSimPmem()
    {
        // No crash leaves a reclaimed segment under a key past dirty_tail: that is corrupt media.
        var e = Assert.Throws<MediaException>(() => Scenario(0, forge: BumpGeneration));
        Assert.Contains("stale", e.Message);
        Assert.Contains("kset", e.Structure);
    }

    private static void ExpectLatest(BackingCache cache, string what)
    {
        int data = cache.Pool.DataSize;
        Expect(cache, 0, 4096, 2, what);
        Expect(cache, 4L << 20, data - 4096, 3, what);
        Expect(cache, 8192, data - 4096, 4, what);
    }

    private static void BumpGeneration(PmemRegion pmem, BackingCache cache, uint segment)
    {
        long at = Geometry.SegmentBase(Rig.SegShift, cache.Pool.PhysicalId(segment)) + Geometry.SegmentGenOffset;
        Span<byte> rec = stackalloc byte[Geometry.SegmentGenSize];
        int latest = Replica.Latest(pmem.Span(at, 16), pmem.Span(at + 16, 16));
        byte seq = Replica.Seq(pmem.Span(at + latest * 16, 16));
        SegmentHeader.EncodeGen(rec, cache.Pool.Generation(segment) + 1);
        Replica.Seal(rec, (byte)(seq + 1));
        pmem.Store(at + (1 - latest) * 16, rec);
        pmem.Fence();
    }

    /// <summary>
    /// One kset (subtree 0) holds A = version 1 of block 0 in segment X, then filler F2 and B =
    /// version 2 of block 0 at the very end of segment Y, so B holds Y's last reference. X's last
    /// reference is F1, in the kset of subtree 1, which reaches the log after it and is never
    /// written back (the disk fails writes there), so X stays live across the cut. The first
    /// kset is written back, GC reclaims it, and the power is cut after <paramref name="cutAt"/>
    /// stores; <paramref name="forge"/> may then edit the media (given Y) before it reopens.
    /// </summary>
    private static (bool cut, CrashSimMedia media, BackingCache reopened) Scenario(int cutAt, Action<PmemRegion, BackingCache, uint>? forge)
    {
        var media = new CrashSimMedia(Geometry.SegmentsOffset + (8L << Rig.SegShift));
        try
        {
            var disk = new MemoryBackingDevice(16 << 20);
            var gate = new GatedBackingDevice(disk) { FailFromMiB = 0 };
            var device = CacheDevice.Format(media.Attach(), Rig.SegShift);
            var cache = device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << Rig.SegShift, GcPercent = 0 }, gate);
            int data = cache.Pool.DataSize;
            CpuPin.Run(0, () =>
            {
                WaitFor(() => cache.Log.HasSpare, "the spare log segment");
                cache.Write(0, Data(1, 0, 4096));                            // A  -> X
                cache.Write(4L << 20, Data(3, 4L << 20, data - 4096));        // F1 -> rest of X
                cache.Write(8192, Data(4, 8192, data - 4096));                // F2 -> Y
                cache.Write(0, Data(2, 0, 4096));                             // B  -> end of Y
                cache.Flush();
            });
            var first = FirstKset(cache, out int keys);
            Assert.True(keys == 3 && first[0].Offset == 0 && first[2].Offset == 0 && first[0].Segment != first[2].Segment,
                "precondition: A and B share the first kset and live in different segments");
            var k1 = cache.Tails.KeyTail with { Offset = cache.Tails.KeyTail.Offset + (uint)Kset.SizeOf(3) };

            // From here the only stores are write-back's dirty_tail for the first kset, then GC's.
            media.CutAfterStores(cutAt);
            gate.FailFromMiB = 4;
            WaitFor(() => media.IsCut || (cache.Tails.DirtyTail == k1 && cache.Tails.KeyTail == k1), "GC of the first kset or the cut");
            bool cut = media.IsCut;

            media.Cut();
            var survivor = disk.PowerCut(new Random(cutAt));
            cache.Abandon();
            media.Recover(new Random(cutAt));
            var pmem = media.Attach();
            forge?.Invoke(pmem, cache, first[2].Segment);
            return (cut, media, CacheDevice.Open(pmem).Attach(0, new GatedBackingDevice(survivor) { FailFromMiB = 4 }));
        }
        catch
        {
            media.Dispose();
            throw;
        }
    }

    private static KeyRecord[] FirstKset(BackingCache cache, out int keys)
    {
        var pos = cache.Tails.KeyTail;
        long at = cache.Pool.DataOffset(pos.Segment) + pos.Offset;
        var room = cache.Pmem.Span(at, cache.Pool.DataSize - (int)pos.Offset);
        Assert.Equal(Kset.Kind.Keys, Kset.Inspect(room, out keys, out _));
        var list = new KeyRecord[keys];
        for (int i = 0; i < keys; i++) list[i] = cache.KeyAt(room, i, pos, at);
        return list;
    }
}
