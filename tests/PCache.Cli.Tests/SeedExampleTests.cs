using System.Text.Json;
using PCache.Client;

namespace PCache.Cli.Tests;

/// <summary>pcache-utils' own example, as written, with a file in /dev/shm standing in for /dev/pmem1.</summary>
public sealed class SeedExampleTests
{
    /// <summary>
    /// The seed's "--cache-size 50G" scaled to the test's 1 GiB pmem file: 50M. The engine wants
    /// a few segments per CPU, so a very wide machine needs a little more.
    /// </summary>
    internal static string SmallCache => Environment.ProcessorCount + 6 <= 50 ? "50M" : $"{Environment.ProcessorCount + 8}M";

    [Fact]
    public void SeedExampleWorksAsWritten()
    {
        Tools.Require("nbdinfo");
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        string pmem = box.PmemPath();
        string backing = box.SparseFile("vdh.img", 2L << 30);

        // The file that stands in for pmem has to exist first: --size creates it.
        var created = daemon.Cli("cache-start", "--path", pmem, "--size", "1G", "--format", "--force");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.True(daemon.Cli("cache-stop", "--cache-id", "0").ExitCode == 0);

        // Now exactly the seed's three commands.
        var start = daemon.Json("cache-start", "--path", pmem, "--format", "--force");
        Assert.True(start.GetProperty("formatted").GetBoolean());
        daemon.Json("backing-start", "--path", backing, "--cache-size", SmallCache, "--queues", "16");
        var list = daemon.Cli("backing-list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal("", list.Stderr);

        var array = JsonDocument.Parse(list.Stdout).RootElement;
        Assert.Equal(JsonValueKind.Array, array.ValueKind);
        var b = Assert.Single(array.EnumerateArray());
        foreach (var field in new[] { "backing_id", "backing_path", "cache_segs", "cache_gc_percent", "cache_used_segs", "logic_dev", "size", "dirty_bytes", "mode", "state" })
            Assert.True(b.TryGetProperty(field, out _), $"backing-list lacks {field}: {b}");
        Assert.Equal(0, b.GetProperty("backing_id").GetInt32());
        Assert.Equal(backing, b.GetProperty("backing_path").GetString());
        Assert.Equal(70, b.GetProperty("cache_gc_percent").GetInt32());
        Assert.True(b.GetProperty("cache_segs").GetInt32() >= 50);
        Assert.Equal(2L << 30, b.GetProperty("size").GetInt64());
        Assert.Equal("writeback", b.GetProperty("mode").GetString());
        Assert.Equal("running", b.GetProperty("state").GetString());
        Assert.Equal(16, b.GetProperty("queues").GetInt32());
        string uri = b.GetProperty("logic_dev").GetString()!;
        Assert.Equal(box.Uri(0), uri);

        var info = Tools.Run("nbdinfo", uri);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("export-size: 2147483648", info.Stdout);
        Assert.Contains(backing, info.Stdout); // the description is the backing path

        var caches = daemon.Json("cache-list");
        var cache = Assert.Single(caches.EnumerateArray());
        foreach (var field in new[] { "magic", "version", "flags", "segment_num", "cache_id", "path" })
            Assert.True(cache.TryGetProperty(field, out _), $"cache-list lacks {field}: {cache}");
        Assert.Equal(pmem, cache.GetProperty("path").GetString());
    }

    [Fact]
    public void CacheStartOnAMissingPathWithoutSizeFailsClearly()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        string pmem = box.PmemPath();
        var r = daemon.Cli("cache-start", "--path", pmem, "--format", "--force");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("does not exist", r.Stderr);
        Assert.Contains("--size", r.Stderr);
        Assert.Contains("[not_found]", r.Stderr);
        Assert.Equal("", r.Stdout);
        Assert.False(File.Exists(pmem));
    }

    [Fact]
    public void FormatWithoutForceRefusesADeviceHoldingData()
    {
        Tools.Require("mkfs.ext4");
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);

        // A PCache device with a backing on it.
        string pmem = box.PmemPath();
        daemon.Json("cache-start", "--path", pmem, "--size", "256M");
        daemon.Json("backing-start", "--path", box.SparseFile("b.img", 64 << 20), "--cache-size", SmallCache);
        daemon.Json("cache-stop", "--cache-id", "0");
        var again = daemon.Cli("cache-start", "--path", pmem, "--format");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("a PCache cache device", again.Stderr);
        Assert.Contains("--force", again.Stderr);
        Assert.Contains("[conflict]", again.Stderr);
        // Refused means untouched: it still opens with its backing.
        var reopened = daemon.Json("cache-start", "--path", pmem);
        Assert.Equal(1, reopened.GetProperty("backings").GetArrayLength());
        daemon.Json("cache-stop", "--cache-id", "0");

        // A filesystem.
        string ext4 = box.PmemPath();
        using (var f = new FileStream(ext4, FileMode.CreateNew)) f.SetLength(64 << 20);
        Tools.Check("mkfs.ext4", "-q", "-F", ext4);
        var fs = daemon.Cli("cache-start", "--path", ext4, "--format");
        Assert.Equal(1, fs.ExitCode);
        Assert.Contains("ext2/ext3/ext4 filesystem signature", fs.Stderr);
        // Without --format it is not a cache device either, and says so.
        var plain = daemon.Cli("cache-start", "--path", ext4);
        Assert.Equal(1, plain.ExitCode);
        Assert.Contains("not a PCache cache device", plain.Stderr);
        // --force formats it.
        Assert.True(daemon.Json("cache-start", "--path", ext4, "--format", "--force").GetProperty("formatted").GetBoolean());
    }

    [Fact]
    public void CacheSizeBeyondTheFreeSpaceNamesWhatIsFree()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        var r = daemon.Cli("backing-start", "--path", box.SparseFile("b.img", 1L << 40), "--cache-size", "50G");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("[no_space]", r.Stderr);
        Assert.Contains("free", r.Stderr);
        Assert.Contains("50 GiB", r.Stderr);
        Assert.Empty(daemon.Backings());
    }

    [Fact]
    public void TheSameDeviceIsNeverCachedTwice()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        string pmem = box.PmemPath();
        daemon.Json("cache-start", "--path", pmem, "--size", "1G");
        string backing = box.SparseFile("b.img", 64 << 20);
        daemon.Json("backing-start", "--path", backing, "--cache-size", SmallCache);
        string alias = Path.Combine(box.Dir, "alias.img");
        File.CreateSymbolicLink(alias, backing);
        foreach (var (path, expected) in new[] { (backing, "already cached as backing 0"), (alias, "same device as backing 0"), (pmem, "cache device 0") })
        {
            var r = daemon.Cli("backing-start", "--path", path, "--cache-size", SmallCache);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(expected, r.Stderr);
            Assert.Contains("[conflict]", r.Stderr);
        }
        Assert.Single(daemon.Backings());
    }

    [Fact]
    public void BackingSetAndStatShowTheEngineCounters()
    {
        Tools.Require("qemu-io");
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        daemon.Json("backing-start", "--path", box.SparseFile("b.img", 256 << 20), "--cache-size", SmallCache);
        Tools.Check("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 1M", "-c", "read -P 0x11 0 1M", "-c", "read 8M 1M", box.Uri());

        var set = daemon.Json("backing-set", "--backing-id", "0", "--gc-percent", "50");
        Assert.Equal(50, set.GetProperty("cache_gc_percent").GetInt32());
        Assert.Equal(50, daemon.Backings().Single().CacheGcPercent);

        var stat = daemon.Stat(0);
        Assert.Equal("running", stat.State);
        Assert.True(stat.Counters["write_requests"] >= 1);
        Assert.True(stat.Counters["write_bytes"] >= 1 << 20);
        Assert.True(stat.Counters["read_requests"] >= 2);
        Assert.True(stat.Counters["read_hit_bytes"] >= 1 << 20);
        Assert.True(stat.Counters["read_miss_bytes"] >= 1 << 20);
        Assert.InRange(stat.ReadHitRatio, 0.01, 0.99);

        var all = daemon.Json("stat").Deserialize(ControlJsonContext.Default.StatResult)!;
        Assert.Equal(1, all.Daemon.Caches);
        Assert.Single(all.Backings);
        daemon.Json("stat", "--backing-id", "0", "--reset");
        Assert.Equal(0, daemon.Stat(0).Counters["write_requests"]);
    }
}
