using PCache.Engine.Cache;

namespace PCache.Engine.Tests;

public class RequestPathTests
{
    private const int S = SectorModel.Sector;

    [Fact]
    public void Writes_overlapping_at_every_offset_read_back_like_a_plain_disk()
    {
        using var rig = new Rig(segments: 12, backingSize: 16 << 20);
        var model = new SectorModel((16 << 20) / S);
        var rng = new Random(1);
        for (int i = 0; i < 3000; i++)
        {
            long lba = rng.Next(0, (int)model.Sectors - 256);
            int n = rng.Next(1, 256);
            switch (rng.Next(10))
            {
                case 0:
                    rig.Cache.Discard(lba * S, n * S);
                    model.Wrote(lba, n, 0, false);
                    break;
                case 1:
                    rig.Cache.WriteZeroes(lba * S, n * S, noHole: rng.Next(2) == 0);
                    model.Wrote(lba, n, 0, false);
                    break;
                case 2:
                    rig.Cache.Flush();
                    break;
                default:
                    var data = model.MakeWrite(lba, n, out long v);
                    rig.Cache.Write(lba * S, data, fua: rng.Next(8) == 0);
                    model.Wrote(lba, n, v, false);
                    break;
            }
            if (i % 7 == 0)
            {
                long rl = rng.Next(0, (int)model.Sectors - 256);
                int rn = rng.Next(1, 256);
                var buf = new byte[rn * S];
                rig.Cache.Read(rl * S, buf);
                for (int k = 0; k < rn; k++)
                    Assert.Equal(model.Latest(rl + k), SectorModel.Identify(buf.AsSpan(k * S, S), rl + k));
            }
        }
        var status = rig.Cache.GetStatus();
        Assert.True(status.Counters["write_requests"] > 0);
        Assert.True(status.IndexKeys > 0);
    }

    [Fact]
    public void Graceful_restart_replays_the_log_and_serves_the_same_bytes()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20, dataCrc: true);
        var model = new SectorModel((8 << 20) / S);
        var rng = new Random(2);
        for (int i = 0; i < 500; i++)
        {
            long lba = rng.Next(0, (int)model.Sectors - 64);
            int n = rng.Next(1, 64);
            var data = model.MakeWrite(lba, n, out long v);
            rig.Cache.Write(lba * S, data);
            model.Wrote(lba, n, v, false);
        }
        rig.Restart();
        Assert.True(rig.Cache.ReplayKeys > 0);
        var buf = new byte[S];
        foreach (var lba in model.Touched)
        {
            rig.Cache.Read(lba * S, buf);
            Assert.Equal(model.Latest(lba), SectorModel.Identify(buf, lba));
        }
    }

    [Fact]
    public void Writing_three_times_the_cache_without_flush_loses_nothing()
    {
        // Eviction check: nbdkit's cache filter fails this; dirty data must never be dropped.
        using var rig = new Rig(segments: 8, backingSize: 32 << 20);
        long capacity = 8L << 20;
        var model = new SectorModel((32 << 20) / S);
        var rng = new Random(3);
        long written = 0;
        while (written < 3 * capacity)
        {
            long lba = rng.Next(0, (int)model.Sectors - 128) & ~7;
            var data = model.MakeWrite(lba, 128, out long v);
            rig.Cache.Write(lba * S, data);
            model.Wrote(lba, 128, v, false);
            written += data.Length;
        }
        var buf = new byte[S];
        foreach (var lba in model.Touched)
        {
            rig.Cache.Read(lba * S, buf);
            Assert.Equal(model.Latest(lba), SectorModel.Identify(buf, lba));
        }
        var st = rig.Cache.GetStatus();
        Assert.True(st.Counters["writeback_bytes"] > 0, "write-back ran");
        Assert.True(st.Counters["gc_ksets"] > 0, "GC reclaimed");
        rig.Cache.Drain();
        var image = rig.Backing.DurableImage();
        foreach (var lba in model.Touched)
            Assert.Equal(model.Latest(lba), SectorModel.Identify(image.AsSpan((int)(lba * S), S), lba));
    }

    [Fact]
    public void Read_misses_are_cached_as_clean_keys_and_then_hit()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20);
        var seed = new byte[1 << 20];
        new Random(4).NextBytes(seed);
        rig.Backing.Write(0, seed);
        rig.Backing.Flush();
        var buf = new byte[1 << 20];
        rig.Cache.Read(0, buf);
        Assert.Equal(seed, buf);
        rig.Cache.Read(0, buf);
        Assert.Equal(seed, buf);
        var c = rig.Cache.GetStatus().Counters;
        Assert.Equal(1, c["read_misses"]);
        Assert.Equal(1, c["read_hits"]);
        Assert.Equal(1 << 20, c["read_hit_bytes"]);
        Assert.Equal(0, rig.Cache.DirtyBytes);
    }

    [Fact]
    public void Prefetch_fills_the_cache_so_the_next_read_is_a_hit()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20);
        // A fill never waits for the spare log segment (a read must not); on a cache that has just
        // started, GC or write-back may be preparing it at that moment. Have it ready first.
        Assert.True(rig.Cache.Log.EnsureRoom(wait: true));
        rig.Cache.Prefetch(0, 2 << 20);
        var buf = new byte[4096];
        rig.Cache.Read(1 << 20, buf);
        var c = rig.Cache.GetStatus().Counters;
        Assert.Equal(1, c["read_hits"]);
        Assert.Equal(2 << 20, c["prefetch_bytes"]);
    }

    [Fact]
    public void Discard_and_zeroes_read_as_zero_and_reach_the_backing_in_log_order()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20);
        var ones = Enumerable.Repeat((byte)0xAB, 1 << 20).ToArray();
        rig.Cache.Write(0, ones);
        rig.Cache.Discard(4096, 8192);
        rig.Cache.WriteZeroes(65536, 4096, noHole: true);
        var buf = new byte[1 << 20];
        rig.Cache.Read(0, buf);
        Assert.All(buf.AsSpan(4096, 8192).ToArray(), b => Assert.Equal(0, b));
        Assert.All(buf.AsSpan(65536, 4096).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(0xAB, buf[0]);
        Assert.Equal(0xAB, buf[12288]);
        rig.Cache.Drain();
        var image = rig.Backing.DurableImage();
        Assert.Equal(buf, image.AsSpan(0, 1 << 20).ToArray());
        Span<Extent> ext = stackalloc Extent[8];
        int n = rig.Cache.BlockStatus(0, 1 << 20, ext);
        Assert.Equal(new Extent(4096, 0), ext[0]);
        Assert.Equal(new Extent(8192, 3), ext[1]);
        Assert.True(n >= 4);
    }

    [Fact]
    public void Requests_outside_the_device_or_unaligned_are_refused()
    {
        using var rig = new Rig(segments: 8, backingSize: 4 << 20);
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Cache.Write((4 << 20) - 512, new byte[1024]));
        Assert.Throws<ArgumentException>(() => rig.Cache.Read(100, new byte[512]));
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Cache.Discard(-512, 512));
    }

    [Fact]
    public void Concurrent_writers_and_readers_on_overlapping_ranges_stay_consistent()
    {
        using var rig = new Rig(segments: 16, backingSize: 8 << 20);
        // Each thread owns every 4th KiB block, so the final content is known per block.
        int threads = 4;
        var last = new long[(8 << 20) / 4096];
        Parallel.For(0, threads, t =>
        {
            var rng = new Random(10 + t);
            var buf = new byte[4096];
            for (int i = 0; i < 4000; i++)
            {
                long block = rng.Next(0, last.Length / threads) * threads + t;
                long v = ((long)t << 40) | (long)i + 1;
                for (int k = 0; k < 8; k++) SectorModel.Fill(buf.AsSpan(k * S, S), v, block * 8 + k);
                rig.Cache.Write(block * 4096, buf);
                last[block] = v;
                if (i % 3 == 0) rig.Cache.Read(rng.Next(0, last.Length) * 4096L, new byte[4096]);
            }
        });
        var rb = new byte[4096];
        for (int b = 0; b < last.Length; b++)
        {
            rig.Cache.Read(b * 4096L, rb);
            for (int k = 0; k < 8; k++)
                Assert.Equal(last[b], SectorModel.Identify(rb.AsSpan(k * S, S), b * 8L + k));
        }
    }
}
