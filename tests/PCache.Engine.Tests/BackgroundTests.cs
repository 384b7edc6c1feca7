using PCache.Engine.Cache;

namespace PCache.Engine.Tests;

public class BackgroundTests
{
    private const int S = SectorModel.Sector;

    private static void WaitFor(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"gave up waiting: {what}");
            Thread.Sleep(10);
        }
    }

    [Fact]
    public void A_failing_backing_is_retried_and_reported_and_no_dirty_data_is_dropped()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20);
        var model = new SectorModel((8 << 20) / S);
        rig.Backing.Failing = true;
        var data = model.MakeWrite(0, 256, out long v);
        rig.Cache.Write(0, data);
        model.Wrote(0, 256, v, false);
        rig.Cache.Flush();
        WaitFor(() => rig.Cache.WritebackError is not null, "a write-back error to be reported");
        Assert.Contains("retrying", rig.Cache.WritebackError);
        Assert.True(rig.Cache.GetStatus().Counters["writeback_errors"] > 0);
        Assert.Equal(256 * S, rig.Cache.DirtyBytes);
        var buf = new byte[256 * S];
        rig.Cache.Read(0, buf); // served from pmem although the disk fails
        Assert.Equal(data, buf);

        rig.Backing.Failing = false;
        rig.Cache.Drain();
        Assert.Null(rig.Cache.WritebackError);
        Assert.Equal(0, rig.Cache.DirtyBytes);
        Assert.Equal(data, rig.Backing.DurableImage().AsSpan(0, data.Length).ToArray());
    }

    [Fact]
    public void Kset_reaches_the_log_within_about_a_second_without_any_flush()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20);
        rig.Cache.Write(0, new byte[4096]);
        Assert.Equal(1, rig.Cache.Log.PendingKeys);
        WaitFor(() => rig.Cache.Log.PendingKeys == 0, "the delayed kset close");
        WaitFor(() => rig.Cache.DirtyBytes == 0, "write-back of the closed kset");
    }

    [Fact]
    public void Gc_percent_zero_reclaims_everything_written_back_and_settings_persist()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20, gcPercent: 70);
        rig.Cache.SetGcPercent(0);
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Cache.SetGcPercent(91));
        for (int i = 0; i < 64; i++) rig.Cache.Write(i * 65536L, new byte[65536]);
        rig.Cache.Drain();
        WaitFor(() => rig.Cache.Tails.KeyTail == rig.Cache.Tails.DirtyTail, "GC to reach dirty_tail");
        Assert.True(rig.Cache.GetStatus().Counters["gc_ksets"] > 0);
        rig.Restart();
        Assert.Equal(0, rig.Cache.GcPercent);
    }

    [Fact]
    public void A_backing_with_dirty_data_cannot_be_removed_until_drained()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20);
        rig.Cache.Write(0, new byte[4096]);
        Assert.Throws<InvalidOperationException>(() => rig.Device.Remove(0));
        rig.Cache.Drain();
        rig.Device.Remove(0);
        Assert.Empty(rig.Device.StoredBackings);
        int free = rig.Device.FreeSegments;
        Assert.Equal((int)rig.Device.Superblock.SegmentCount, free);
    }
}

public class GenerationRestartTests
{
    private const int S = SectorModel.Sector;

    [Fact]
    public void Segments_reclaimed_in_the_first_run_after_format_replay_with_their_new_generation()
    {
        // Regression: a fresh backing's first generation update went to the replica that lost the
        // sequence tie, so a restart read the old generation and refused the device.
        using var rig = new Rig(segments: 8, backingSize: 32 << 20, gcPercent: 0);
        var model = new SectorModel((32 << 20) / S);
        var rng = new Random(9);
        for (int i = 0; i < 3000; i++)
        {
            long lba = rng.Next(0, (int)model.Sectors - 8) & ~7;
            var data = model.MakeWrite(lba, 8, out long v);
            rig.Cache.Write(lba * S, data);
            model.Wrote(lba, 8, v, false);
        }
        Assert.True(rig.Cache.GetStatus().Counters["gc_segments_freed"] > 0, "segments must have been reclaimed");
        rig.Restart();
        var buf = new byte[S];
        foreach (var lba in model.Touched)
        {
            rig.Cache.Read(lba * S, buf);
            Assert.Equal(model.Latest(lba), SectorModel.Identify(buf, lba));
        }
    }
}
