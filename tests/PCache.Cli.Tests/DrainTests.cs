using System.Diagnostics;
using System.Security.Cryptography;

namespace PCache.Cli.Tests;

/// <summary>backing-stop writes every dirty byte back, even from a cache that is full of them.</summary>
public sealed class DrainTests
{
    [Fact]
    public async Task ACacheFullOfDirtyDataDrainsThroughBackingStop()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FailingBacking(box, "128M");
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
        disk.Failing = true;

        // Twice the cache, sequentially, reporting each acknowledged MiB; nothing can be written
        // back, so the writer ends up waiting on a cache full of dirty data.
        string script = Path.Combine(box.Dir, "fill.py");
        File.WriteAllText(script, Tools.PatternPy + """
            import sys
            for i in range(100):
                h.pwrite(pattern(i, 1 << 20), i << 20)
                print(i, flush=True)
            h.flush()
            """);
        using var writer = Process.Start(Tools.StartInfo("nbdsh", ["-u", box.Uri(), "-c", $"exec(open('{script}').read())"]))!;
        writer.StandardInput.Close();
        var acknowledged = new List<int>();
        var reading = Task.Run(() =>
        {
            while (writer.StandardOutput.ReadLine() is { } line) lock (acknowledged) acknowledged.Add(int.Parse(line));
        });
        var stderr = writer.StandardError.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (daemon.Stat(0).Counters["writer_waits"] == 0)
        {
            if (writer.HasExited) Assert.Fail($"the writer finished although nothing could be written back: {await stderr}");
            Assert.True(DateTime.UtcNow < deadline, "the cache never filled up");
            Thread.Sleep(100);
        }
        var full = daemon.Backings().Single();
        Assert.True(full.DirtyBytes > full.CacheSize / 2, $"{full.DirtyBytes} dirty in a {full.CacheSize}-byte cache");

        // backing-stop while full: the export goes (the writer gets an error), the device heals,
        // and the drain finishes. The writer is still connected, so without --force the daemon
        // would refuse (backing_in_use).
        using var stop = Process.Start(Tools.StartInfo(PcacheBinary.Path, ["backing-stop", "--backing-id", "0", "--force"],
            new Dictionary<string, string?> { ["PCACHE_SOCKET"] = box.SocketPath }))!;
        stop.StandardInput.Close();
        var stopOut = stop.StandardOutput.ReadToEndAsync();
        var stopErr = stop.StandardError.ReadToEndAsync();
        disk.Failing = false;
        Assert.True(stop.WaitForExit(TimeSpan.FromMinutes(2)), "backing-stop did not finish");
        string stopErrors = await stopErr;
        Assert.True(stop.ExitCode == 0, $"backing-stop failed: {stopErrors}\n{daemon.Log}");
        Assert.Contains("writing back", stopErrors);
        Assert.Contains("all dirty data written back", stopErrors);
        Assert.Contains("\"written_back_bytes\"", await stopOut);
        Assert.True(writer.WaitForExit(TimeSpan.FromMinutes(1)));
        await reading;
        Assert.Empty(daemon.Backings());

        // Every acknowledged write is on the backing device itself.
        Assert.NotEmpty(acknowledged);
        using var f = File.OpenRead(disk.DiskPath);
        var actual = new byte[1 << 20];
        foreach (int i in acknowledged)
        {
            f.Position = (long)i << 20;
            f.ReadExactly(actual);
            Assert.True(RestartTests.Pattern(i, 1 << 20).AsSpan().SequenceEqual(actual), $"MiB {i} was acknowledged but is not on the backing device");
        }
    }

    [Fact]
    public void BackingStopLeavesTheBackingFileHoldingEveryByte()
    {
        Tools.Require("nbdcopy");
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        string backing = box.SparseFile("backing.img", 192 << 20);
        daemon.Json("backing-start", "--path", backing, "--cache-size", SeedExampleTests.SmallCache);

        string source = Path.Combine(box.Dir, "source.img");
        var data = new byte[192 << 20];
        new Random(42).NextBytes(data);
        File.WriteAllBytes(source, data);
        Tools.Check("nbdcopy", source, box.Uri());

        var stop = daemon.Cli("backing-stop", "--backing-id", "0");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Contains("all dirty data written back", stop.Stderr);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(File.ReadAllBytes(backing)));
    }
}
