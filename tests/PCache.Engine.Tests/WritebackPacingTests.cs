using PCache.Engine.Backing;
using PCache.Engine.Background;
using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Engine.Tests;

/// <summary>
/// Write-back pacing on the real engine, with the pacer's clock moved by the test (a stand-in
/// for waiting real seconds): every assertion is about what was or was not written back after
/// the pacer looked again, never about how fast anything ran.
/// </summary>
public class WritebackPacingTests
{
    private const int K64 = 64 << 10;

    private sealed class TestClock
    {
        private long _now = Environment.TickCount64 + 1_000_000;
        public long Now => Interlocked.Read(ref _now);
        public void Advance(long ms) => Interlocked.Add(ref _now, ms);
    }

    private static Rig PacedRig(WritebackPacing pacing, out TestClock clock, int segments = 16)
    {
        var rig = new Rig(segments, backingSize: 64 << 20, pacing: pacing);
        var c = clock = new TestClock();
        rig.Cache.Pacer.Clock = () => c.Now;
        return rig;
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"gave up waiting: {what}");
            Thread.Sleep(5);
        }
    }

    /// <summary>Let the pacer decide <paramref name="n"/> more times (each a complete look after this call).</summary>
    private static void Decisions(Rig rig, int n = 2)
    {
        long target = rig.Cache.Pacer.Decisions + n;
        WaitFor(() => rig.Cache.Pacer.Decisions >= target, $"{n} more pacing decisions");
    }

    private static byte[] Pattern(int length, byte seed)
    {
        var b = new byte[length];
        for (int i = 0; i < b.Length; i++) b[i] = (byte)(seed + i * 7);
        return b;
    }

    /// <summary>One write in a kset of its own (so write-back moves in steps of exactly one write).</summary>
    private static void WriteKset(Rig rig, long offset, byte[] data)
    {
        rig.Cache.Write(offset, data);
        rig.Cache.Flush();
    }

    private static bool OnBacking(Rig rig, long offset, byte[] data)
    {
        var b = new byte[data.Length];
        rig.Backing.Read(offset, b);
        return b.AsSpan().SequenceEqual(data);
    }

    private static void KeepBusy(Rig rig) => rig.Cache.Read(0, new byte[4096]);

    private static long Counter(Rig rig, string name) => rig.Cache.GetStatus().Counters[name];

    [Fact]
    public void Busy_export_below_the_watermark_keeps_data_dirty_until_the_export_goes_idle()
    {
        using var rig = PacedRig(WritebackPacing.Default, out var clock);
        var a = Pattern(4 * K64, 1);
        WriteKset(rig, 0, a);
        Decisions(rig, 3);
        Assert.Equal(PacingState.WaitingBusy, rig.Cache.Pacer.State);
        Assert.Equal("waiting-busy", rig.Cache.GetStatus().Pacing.State);
        Assert.Equal(a.Length, rig.Cache.DirtyBytes);
        Assert.False(OnBacking(rig, 0, a));

        clock.Advance(WritebackPacer.BusyWindowMs + 500); // no request for 1.5 s
        WaitFor(() => rig.Cache.DirtyBytes == 0, "write-back once the export is idle");
        Assert.True(OnBacking(rig, 0, a));
        Assert.True(Counter(rig, "writeback_idle_ksets") >= 1);
        Assert.True(Counter(rig, "writeback_busy_wait_ms") >= WritebackPacer.BusyWindowMs + 500);
        WaitFor(() => rig.Cache.Pacer.State == PacingState.Idle, "pacing idle");
    }

    [Fact]
    public void Above_the_watermark_write_back_runs_while_busy_down_to_the_watermark()
    {
        using var rig = PacedRig(new WritebackPacing { WatermarkPercent = 5, MaxAgeSeconds = 0 }, out _);
        long capacity = (long)rig.Cache.Pool.Count * rig.Cache.Pool.DataSize;
        for (int i = 0; i < 32; i++) WriteKset(rig, (long)i * K64, Pattern(K64, (byte)i));
        WaitFor(() => rig.Cache.DirtyBytes * 100 < 5 * capacity, "write-back down to the watermark");
        Decisions(rig, 3);
        // Still busy (the clock stands still) and below the watermark: the rest stays dirty.
        Assert.Equal(PacingState.WaitingBusy, rig.Cache.Pacer.State);
        Assert.True(rig.Cache.DirtyBytes > 0);
        Assert.True(Counter(rig, "writeback_watermark_ksets") >= 1);
        Assert.True(OnBacking(rig, 0, Pattern(K64, 0)));           // the oldest went first (log order)
        Assert.False(OnBacking(rig, 31L * K64, Pattern(K64, 31))); // the newest is still only in the cache
    }

    [Fact]
    public void Data_older_than_the_max_age_is_written_back_while_busy_and_younger_data_stays()
    {
        using var rig = PacedRig(new WritebackPacing { WatermarkPercent = 100, MaxAgeSeconds = 5 }, out var clock);
        var a = Pattern(K64, 3);
        var b = Pattern(K64, 4);
        WriteKset(rig, 0, a);
        Decisions(rig);
        // Busy all along: a read every 0.9 s of clock time, seen by the pacer before the next step.
        for (int i = 0; i < 5; i++)
        {
            clock.Advance(900);
            KeepBusy(rig);
            Decisions(rig);
        }
        Assert.Equal(PacingState.WaitingBusy, rig.Cache.Pacer.State); // 4.5 s old: not yet
        Assert.False(OnBacking(rig, 0, a));
        WriteKset(rig, 1 << 20, b);
        Decisions(rig);

        clock.Advance(900); // A is 5.4 s old, B 0.9 s
        KeepBusy(rig);
        WaitFor(() => OnBacking(rig, 0, a), "the old data written back");
        Decisions(rig, 3);
        Assert.Equal(PacingState.WaitingBusy, rig.Cache.Pacer.State);
        Assert.Equal(b.Length, rig.Cache.DirtyBytes);
        Assert.False(OnBacking(rig, 1 << 20, b));
        Assert.Equal(1, Counter(rig, "writeback_age_ksets"));
        double age = rig.Cache.GetStatus().Pacing.OldestDirtySeconds;
        Assert.InRange(age, 0.9, 1.0);
    }

    [Fact]
    public void Rate_limit_bounds_the_bytes_written_back_per_second_of_clock_time()
    {
        const long rate = K64; // one write per second
        using var rig = PacedRig(new WritebackPacing { WatermarkPercent = 100, MaxAgeSeconds = 0, RateBytesPerSecond = rate }, out var clock);
        for (int i = 0; i < 12; i++) WriteKset(rig, (long)i * K64, Pattern(K64, (byte)(i + 10)));
        Decisions(rig); // the pacer has seen the writes at this clock time
        clock.Advance(WritebackPacer.BusyWindowMs + 1); // idle: write-back may run, within the rate
        Decisions(rig, 3);
        long written = Counter(rig, "writeback_bytes");
        Assert.Equal(PacingState.RateLimited, rig.Cache.Pacer.State);
        // At most a second's credit plus the kset that overdrew it.
        Assert.InRange(written, 1, rate + K64);
        for (int second = 1; second <= 4; second++)
        {
            clock.Advance(1000);
            long before = written;
            WaitFor(() => Counter(rig, "writeback_bytes") > before, "progress at the limited rate");
            Decisions(rig, 3);
            written = Counter(rig, "writeback_bytes");
            Assert.InRange(written, before + 1, rate * (second + 1) + K64);
            Assert.Equal(PacingState.RateLimited, rig.Cache.Pacer.State);
        }
        Assert.True(rig.Cache.DirtyBytes > 0);
        Assert.True(Counter(rig, "writeback_rate_limited_ms") >= 4000);

        rig.Cache.SetPacing(rig.Cache.Pacing with { RateBytesPerSecond = 0 });
        WaitFor(() => rig.Cache.DirtyBytes == 0, "write-back at full speed once the limit is lifted");
        for (int i = 0; i < 12; i++) Assert.True(OnBacking(rig, (long)i * K64, Pattern(K64, (byte)(i + 10))));
    }

    [Fact]
    public async Task A_full_cache_never_waits_for_pacing_and_a_drain_ignores_it()
    {
        // The strictest pacing there is, an export that never goes idle and a clock that never moves:
        // only the space rules can make write-back run, and they must.
        using var rig = PacedRig(new WritebackPacing { WatermarkPercent = 100, MaxAgeSeconds = 0, RateBytesPerSecond = 1024 }, out _, segments: 12);
        long capacity = (long)rig.Cache.Pool.Count * rig.Cache.Pool.DataSize;
        var writer = Task.Run(() =>
        {
            var rng = new Random(7);
            var data = new byte[256 << 10];
            for (long done = 0; done < 3 * capacity; done += data.Length)
            {
                rng.NextBytes(data);
                rig.Cache.Write(rng.Next(0, 128) * (long)data.Length, data);
            }
        });
        await writer.WaitAsync(TimeSpan.FromSeconds(120)); // a TimeoutException fails the test: writes of three times the cache size finish
        Assert.True(Counter(rig, "writeback_urgent_ksets") > 0);

        await Task.Run(() => rig.Cache.Drain()).WaitAsync(TimeSpan.FromSeconds(120)); // a drain finishes under the strictest pacing
        Assert.Equal(0, rig.Cache.DirtyBytes);
    }

    [Fact]
    public void Pacing_settings_are_validated_and_survive_a_restart()
    {
        using var rig = new Rig(segments: 12, backingSize: 8 << 20);
        var set = new WritebackPacing { WatermarkPercent = 35, MaxAgeSeconds = 600, RateBytesPerSecond = 50L << 20 };
        rig.Cache.SetPacing(set);
        foreach (var bad in new[]
        {
            set with { WatermarkPercent = 101 }, set with { WatermarkPercent = -1 }, set with { MaxAgeSeconds = 65536 },
            set with { RateBytesPerSecond = 1000 }, set with { RateBytesPerSecond = -1024 }, set with { RateBytesPerSecond = WritebackPacing.RateMax + 1024 },
        })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => rig.Cache.SetPacing(bad));
            Assert.Contains("--writeback-", e.Message);
        }
        Assert.Equal(set, rig.Cache.Pacing);
        rig.Restart();
        Assert.Equal(set, rig.Cache.Pacing);
        var status = rig.Cache.GetStatus().Pacing;
        Assert.Equal((35, 600, 50L << 20), (status.Watermark, status.MaxAgeSeconds, status.RateLimit));

        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.Create(
            new BackingOptions { Path = "mem:2", CacheSize = 8L << Rig.SegShift, Pacing = set with { WatermarkPercent = 200 } }, new MemoryBackingDevice(1 << 20)));
        Assert.Contains("--writeback-watermark", e2.Message);
    }
}
