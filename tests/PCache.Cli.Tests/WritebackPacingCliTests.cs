using System.Text.Json;

namespace PCache.Cli.Tests;

/// <summary>
/// Write-back pacing through the real daemon: the options of backing-start and backing-set, the
/// config file, what stat shows, and the settings kept on the cache device across a restart.
/// </summary>
public sealed class WritebackPacingCliTests
{
    /// <summary>Four 64 KiB writes in four 4 MiB regions: four ksets, so a rate limit has something to hold back.</summary>
    private static readonly string[] FourKsets =
        ["-f", "raw", "-c", "write -P 0x11 0 64k", "-c", "write -P 0x22 8M 64k", "-c", "write -P 0x33 16M 64k", "-c", "write -P 0x44 24M 64k", "-c", "flush"];

    private static void WaitFor(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"gave up waiting: {what}");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void BackingStartAndSetTakeThePacingOptionsStatShowsThemAndARestartKeepsThem()
    {
        Tools.Require("qemu-io");
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        string backing = box.SparseFile("b.img", 256 << 20);
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem, "--size", "1G", "--format", "--force");
            var started = daemon.Json("backing-start", "--path", backing, "--cache-size", SeedExampleTests.SmallCache,
                "--writeback-watermark", "100", "--writeback-max-age", "0", "--writeback-rate", "1K");
            Assert.Equal(100, started.GetProperty("writeback_watermark").GetInt32());
            Assert.Equal(0, started.GetProperty("writeback_max_age").GetInt32());
            Assert.Equal(1024, started.GetProperty("writeback_rate").GetInt64());

            // 1 KiB/s and no other reason to run: once the export is idle write-back moves one
            // kset and then holds back, and stat says so.
            Tools.Check("qemu-io", [.. FourKsets, box.Uri()]);
            WaitFor(() => daemon.Stat(0).WritebackState == "rate-limited", "stat to show rate-limited");
            var stat = daemon.Stat(0);
            Assert.True(stat.DirtyBytes >= 3 * 65536, $"{stat.DirtyBytes} dirty bytes");
            Assert.Equal(100, stat.WritebackWatermark);
            Assert.Equal(1024, stat.WritebackRate);
            Assert.InRange(stat.DirtyPercent, 0.01, 100);
            Assert.True(stat.OldestDirtySeconds >= 0);
            Assert.True(stat.Counters["writeback_idle_ksets"] >= 1);
            Assert.True(stat.Counters.ContainsKey("writeback_rate_limited_ms"));
            var json = daemon.Json("stat", "--backing-id", "0");
            var row = json.GetProperty("backings")[0];
            foreach (var field in new[] { "writeback_state", "dirty_percent", "writeback_watermark", "writeback_max_age", "writeback_rate", "oldest_dirty_seconds", "writeback_bytes_per_second" })
                Assert.True(row.TryGetProperty(field, out _), $"stat lacks {field}: {row}");

            // Lifting the limit lets it finish; the other settings stay as they were.
            var set = daemon.Json("backing-set", "--backing-id", "0", "--writeback-rate", "0", "--writeback-max-age", "120");
            Assert.Equal(0, set.GetProperty("writeback_rate").GetInt64());
            Assert.Equal(120, set.GetProperty("writeback_max_age").GetInt32());
            Assert.Equal(100, set.GetProperty("writeback_watermark").GetInt32());
            WaitFor(() => daemon.Stat(0).DirtyBytes == 0, "write-back without the limit");
            Assert.Contains("write-back pacing set to", daemon.Log);
            Assert.Equal(0, daemon.Terminate());
        }
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem);
            var b = Assert.Single(daemon.Backings());
            Assert.Equal((100, 120, 0L), (b.WritebackWatermark, b.WritebackMaxAge, b.WritebackRate));
            Assert.Equal(0, daemon.Terminate());
        }
    }

    [Fact]
    public void DefaultsAreHalfTheCacheThirtySecondsAndNoRateLimitAndBadValuesChangeNothing()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        var b = daemon.Json("backing-start", "--path", box.SparseFile("b.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache);
        Assert.Equal(50, b.GetProperty("writeback_watermark").GetInt32());
        Assert.Equal(30, b.GetProperty("writeback_max_age").GetInt32());
        Assert.Equal(0, b.GetProperty("writeback_rate").GetInt64());

        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--writeback-watermark", "101"], "--writeback-watermark must be between 0 and 100, not 101"),
            (["--writeback-max-age", "65536"], "--writeback-max-age must be between 0 and 65535, not 65536"),
            (["--writeback-rate", "lots"], "--writeback-rate"),
            (["--writeback-rate", "1000"], "[invalid_argument]"),
            (["--gc-percent", "40", "--writeback-rate", "1000"], "multiple of 1024"),
        })
        {
            var r = daemon.Cli(["backing-set", "--backing-id", "0", .. args]);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains(expected, r.Stderr);
        }
        // A refused backing-set changes none of its settings, not even a valid one given with a bad one.
        var now = Assert.Single(daemon.Backings());
        Assert.Equal((70, 50, 30, 0L), (now.CacheGcPercent, now.WritebackWatermark, now.WritebackMaxAge, now.WritebackRate));

        var bad = daemon.Cli("backing-start", "--path", box.SparseFile("c.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache, "--writeback-rate", "1500");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("whole number of KiB/s", bad.Stderr);
        Assert.Single(daemon.Backings());
    }

    [Fact]
    public void TheConfigFileSetsPacingOfTheBackingsItCreates()
    {
        using var box = new Sandbox();
        string config = Path.Combine(box.Dir, "pcache.conf");
        File.WriteAllText(config, $$"""
            {
              "nbd_socket": "{{box.NbdSocketPath}}",
              "caches": [
                {
                  "path": "{{box.PmemPath()}}",
                  "size": "1G",
                  "backings": [
                    { "path": "{{box.SparseFile("b.img", 64 << 20)}}", "cache_size": "{{SeedExampleTests.SmallCache}}",
                      "writeback_watermark": 20, "writeback_max_age": 5, "writeback_rate": "64M" },
                  ],
                },
              ],
            }
            """);
        using var daemon = new TestDaemon(box, "--config", config);
        var b = Assert.Single(daemon.Backings());
        Assert.Equal((20, 5, 64L << 20), (b.WritebackWatermark, b.WritebackMaxAge, b.WritebackRate));
        var stat = daemon.Stat(0);
        Assert.Equal("idle", stat.WritebackState);
        Assert.Equal(0, stat.DirtyPercent);
    }
}
