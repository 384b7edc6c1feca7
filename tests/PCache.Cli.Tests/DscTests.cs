using System.Text.Json;

namespace PCache.Cli.Tests;

/// <summary>
/// `pcache dsc cache|backing get|set|test|export`, as DSC v3 runs it from packaging/dsc: the
/// instance JSON on stdin, state JSON lines on stdout, the manifests' exit codes.
/// </summary>
public sealed class DscTests
{
    /// <summary>Bytes of the backing's cache share (the engine needs a few segments per CPU).</summary>
    private static long SmallCache => (Environment.ProcessorCount + 6 <= 50 ? 50L : Environment.ProcessorCount + 8) << 20;

    private static Result Dsc(TestDaemon daemon, string resource, string op, string? stdin) =>
        Tools.Run(PcacheBinary.Path, ["dsc", resource, op], new Dictionary<string, string?> { ["PCACHE_SOCKET"] = daemon.Box.SocketPath }, stdin: stdin ?? "");

    /// <summary>Run an operation that must succeed; its stdout's JSON lines.</summary>
    private static List<JsonElement> Ok(TestDaemon daemon, string resource, string op, string? stdin)
    {
        var r = Dsc(daemon, resource, op, stdin);
        Assert.True(r.ExitCode == 0, $"pcache dsc {resource} {op} failed: {r}\n--- daemon log:\n{daemon.Log}");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    private static string Backing(string path, int gcPercent) =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["path"] = path, ["cacheId"] = 0, ["cacheSize"] = SmallCache, ["gcPercent"] = gcPercent });

    private static string CacheInstance(string path) =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["path"] = path, ["size"] = 256L << 20 });

    [Fact]
    public void GetOfAMissingBackingSaysItDoesNotExist()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        string path = box.SparseFile("b.img", 64 << 20);
        var state = Ok(daemon, "backing", "get", $$"""{"path":"{{path}}"}""").Single();
        Assert.False(state.GetProperty("_exist").GetBoolean());
        Assert.Equal(path, state.GetProperty("path").GetString());
        var cache = Ok(daemon, "cache", "get", $$"""{"path":"{{box.PmemPath()}}"}""").Single();
        Assert.False(cache.GetProperty("_exist").GetBoolean());
    }

    [Fact]
    public void SetConvergesTestOnlyReportsAndASecondSetChangesNothing()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        string pmem = box.PmemPath();
        string path = box.SparseFile("b.img", 64 << 20);

        // The cache: test says not there, set starts it (creating the file), a second set is a no-op.
        var before = Ok(daemon, "cache", "test", CacheInstance(pmem));
        Assert.False(before[0].GetProperty("_inDesiredState").GetBoolean());
        Assert.Equal(["_exist"], before[1].EnumerateArray().Select(e => e.GetString()));
        var cache = Ok(daemon, "cache", "set", CacheInstance(pmem)).Single();
        Assert.True(cache.GetProperty("_exist").GetBoolean());
        Assert.Equal(0, cache.GetProperty("cacheId").GetInt32());
        Assert.Equal(cache.ToString(), Ok(daemon, "cache", "set", CacheInstance(pmem)).Single().ToString());
        Assert.True(Ok(daemon, "cache", "test", CacheInstance(pmem))[0].GetProperty("_inDesiredState").GetBoolean());

        // The backing: set attaches it; test is in desired state.
        var set = Ok(daemon, "backing", "set", Backing(path, 60)).Single();
        Assert.True(set.GetProperty("_exist").GetBoolean());
        Assert.Equal(60, set.GetProperty("gcPercent").GetInt32());
        Assert.Equal("running", set.GetProperty("state").GetString());
        int id = set.GetProperty("backingId").GetInt32();
        Assert.Equal(60, daemon.Backings().Single().CacheGcPercent);
        var test = Ok(daemon, "backing", "test", Backing(path, 60));
        Assert.True(test[0].GetProperty("_inDesiredState").GetBoolean());
        Assert.Equal(0, test[1].GetArrayLength());

        // Changed out of band: test reports the drift and changes nothing.
        daemon.Json("backing-set", "--backing-id", id.ToString(), "--gc-percent", "40");
        test = Ok(daemon, "backing", "test", Backing(path, 60));
        Assert.False(test[0].GetProperty("_inDesiredState").GetBoolean());
        Assert.Equal(40, test[0].GetProperty("gcPercent").GetInt32());
        Assert.Equal(["gcPercent"], test[1].EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(40, daemon.Backings().Single().CacheGcPercent);

        // set converges; a second set changes nothing and prints the same state.
        var converged = Ok(daemon, "backing", "set", Backing(path, 60)).Single();
        Assert.Equal(60, converged.GetProperty("gcPercent").GetInt32());
        Assert.Equal(60, daemon.Backings().Single().CacheGcPercent);
        var again = Ok(daemon, "backing", "set", Backing(path, 60)).Single();
        Assert.Equal(converged.ToString(), again.ToString());
        Assert.Equal(id, daemon.Backings().Single().BackingId);
        Assert.True(Ok(daemon, "backing", "test", Backing(path, 60))[0].GetProperty("_inDesiredState").GetBoolean());

        // export lists every instance, one JSON line each.
        var caches = Ok(daemon, "cache", "export", null);
        Assert.Equal(pmem, caches.Single().GetProperty("path").GetString());
        var backings = Ok(daemon, "backing", "export", null);
        Assert.Equal(path, backings.Single().GetProperty("path").GetString());
        Assert.Equal(60, backings.Single().GetProperty("gcPercent").GetInt32());

        // A different cacheSize cannot be reached in place: exit 4, nothing changed.
        var bigger = Dsc(daemon, "backing", "set", JsonSerializer.Serialize(new Dictionary<string, object> { ["path"] = path, ["cacheSize"] = SmallCache * 2 }));
        Assert.True(bigger.ExitCode == 4, bigger.ToString());
        Assert.Contains("cacheSize", bigger.Stderr);
        Assert.Equal(id, daemon.Backings().Single().BackingId);

        // _exist false: the backing is written back and removed, then the cache stops; both idempotent.
        string absent = $$"""{"path":"{{path}}","_exist":false}""";
        Assert.False(Ok(daemon, "backing", "set", absent).Single().GetProperty("_exist").GetBoolean());
        Assert.Empty(daemon.Backings());
        Assert.False(Ok(daemon, "backing", "set", absent).Single().GetProperty("_exist").GetBoolean());
        Assert.True(Ok(daemon, "backing", "test", absent)[0].GetProperty("_inDesiredState").GetBoolean());
        string stopped = $$"""{"path":"{{pmem}}","_exist":false}""";
        Assert.False(Ok(daemon, "cache", "set", stopped).Single().GetProperty("_exist").GetBoolean());
        Assert.Equal(0, daemon.Json("cache-list").GetArrayLength());
        Assert.Empty(Ok(daemon, "cache", "export", null));
    }

    [Fact]
    public void StoppingACacheWithDirtyDataNeedsAllowDirtyStop()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FailingBacking(box); // write-back fails, so the dirty data stays
        using var daemon = new TestDaemon(box);
        string pmem = box.PmemPath();
        Ok(daemon, "cache", "set", CacheInstance(pmem));
        Ok(daemon, "backing", "set", Backing(disk.DiskPath, 70));
        disk.Failing = true;
        var write = Tools.Nbdsh(box.Uri(), "h.pwrite(b'\\x5a' * 1048576, 0)\nh.flush()\n");
        Assert.True(write.ExitCode == 0, write.ToString());
        Assert.True(daemon.Backings().Single().DirtyBytes >= 1 << 20);

        var refused = Dsc(daemon, "cache", "set", $$"""{"path":"{{pmem}}","_exist":false}""");
        Assert.True(refused.ExitCode == 4, refused.ToString());
        Assert.Contains("allowDirtyStop", refused.Stderr);
        Assert.Equal(1, daemon.Json("cache-list").GetArrayLength());

        var state = Ok(daemon, "cache", "set", $$"""{"path":"{{pmem}}","_exist":false,"allowDirtyStop":true}""").Single();
        Assert.False(state.GetProperty("_exist").GetBoolean());
        Assert.Equal(0, daemon.Json("cache-list").GetArrayLength());
    }

    [Fact]
    public void TheCacheModeAndAdmissionConvergeInPlace()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        string path = box.SparseFile("b.img", 64 << 20);
        Ok(daemon, "cache", "set", CacheInstance(box.PmemPath()));
        string Desired(string mode) => JsonSerializer.Serialize(new Dictionary<string, object>
            { ["path"] = path, ["cacheSize"] = SmallCache, ["mode"] = mode, ["sequentialCutoff"] = 4L << 20, ["readAdmission"] = 1 });
        var set = Ok(daemon, "backing", "set", Desired("writethrough")).Single();
        Assert.Equal("writethrough", set.GetProperty("mode").GetString());
        int id = set.GetProperty("backingId").GetInt32();

        daemon.Json("backing-set", "--backing-id", id.ToString(), "--mode", "writeback", "--read-admission", "0");
        var test = Ok(daemon, "backing", "test", Desired("writethrough"));
        Assert.False(test[0].GetProperty("_inDesiredState").GetBoolean());
        Assert.Equal(["mode", "readAdmission"], test[1].EnumerateArray().Select(e => e.GetString()));

        var converged = Ok(daemon, "backing", "set", Desired("writethrough")).Single();
        Assert.Equal(id, converged.GetProperty("backingId").GetInt32()); // changed in place, not re-attached
        var b = daemon.Backings().Single();
        Assert.True((b.Mode, b.SequentialCutoff, b.ReadAdmission) == ("writethrough", 4L << 20, 1), $"{b.Mode} {b.SequentialCutoff} {b.ReadAdmission}");
        Assert.True(Ok(daemon, "backing", "test", Desired("writethrough"))[0].GetProperty("_inDesiredState").GetBoolean());
    }

    [Theory]
    [InlineData("backing", "get", "{not json", "not a valid PCache/Backing instance")]
    [InlineData("backing", "set", "", "no input")]
    [InlineData("backing", "test", """{"gcPercent":50}""", "needs \"path\"")]
    [InlineData("backing", "set", """{"path":"/tmp/x","gcPercent":95}""", "\"gcPercent\" is 95")]
    [InlineData("backing", "get", """{"path":"/tmp/x","colour":"red"}""", "'colour'")]
    [InlineData("backing", "set", """{"path":"/tmp/x","mode":"fast"}""", "\"mode\" must be one of")]
    [InlineData("backing", "set", """{"path":"/tmp/x","readAdmission":16}""", "\"readAdmission\" is 16")]
    [InlineData("cache", "get", """{"path":42}""", "not a valid PCache/Cache instance")]
    public void BadInputIsRefusedWithExitCode2(string resource, string op, string stdin, string message)
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        var r = Dsc(daemon, resource, op, stdin);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(message, r.Stderr);
        Assert.Equal("", r.Stdout);
        Assert.Empty(daemon.Backings());
    }

    [Fact]
    public void NoDaemonIsExitCode3()
    {
        using var box = new Sandbox();
        var r = Tools.Run(PcacheBinary.Path, ["dsc", "backing", "get"], new Dictionary<string, string?> { ["PCACHE_SOCKET"] = box.SocketPath },
            stdin: """{"path":"/dev/sdb"}""");
        Assert.True(r.ExitCode == 3, r.ToString());
        Assert.Contains("not running", r.Stderr);
    }

    [Fact]
    public void WritebackPacingIsSetTestedAndChangedInPlace()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        string path = box.SparseFile("b.img", 64 << 20);
        string Paced(int watermark, int maxAge, long rate) => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["path"] = path, ["cacheSize"] = SmallCache, ["writebackWatermark"] = watermark, ["writebackMaxAge"] = maxAge, ["writebackRate"] = rate,
        });

        var set = Ok(daemon, "backing", "set", Paced(30, 10, 1L << 20)).Single();
        Assert.Equal((30, 10, 1L << 20), (set.GetProperty("writebackWatermark").GetInt32(), set.GetProperty("writebackMaxAge").GetInt32(), set.GetProperty("writebackRate").GetInt64()));
        int id = set.GetProperty("backingId").GetInt32();
        Assert.True(Ok(daemon, "backing", "test", Paced(30, 10, 1L << 20))[0].GetProperty("_inDesiredState").GetBoolean());

        // Drift out of band: test names exactly what differs, set converges in place (same backing).
        daemon.Json("backing-set", "--backing-id", id.ToString(), "--writeback-watermark", "80", "--writeback-rate", "0");
        var test = Ok(daemon, "backing", "test", Paced(30, 10, 1L << 20));
        Assert.False(test[0].GetProperty("_inDesiredState").GetBoolean());
        Assert.Equal(["writebackWatermark", "writebackRate"], test[1].EnumerateArray().Select(e => e.GetString()));
        var converged = Ok(daemon, "backing", "set", Paced(30, 10, 1L << 20)).Single();
        Assert.Equal(30, converged.GetProperty("writebackWatermark").GetInt32());
        var b = daemon.Backings().Single();
        Assert.Equal((id, 30, 10, 1L << 20), (b.BackingId, b.WritebackWatermark, b.WritebackMaxAge, b.WritebackRate));
        Assert.Equal(30, Ok(daemon, "backing", "export", null).Single().GetProperty("writebackWatermark").GetInt32());

        // Out of range: invalid input (exit 2), nothing changed.
        var bad = Dsc(daemon, "backing", "set", Paced(101, 10, 1L << 20));
        Assert.True(bad.ExitCode == 2, bad.ToString());
        Assert.Contains("writebackWatermark", bad.Stderr);
        Assert.Equal(30, daemon.Backings().Single().WritebackWatermark);
    }
}
