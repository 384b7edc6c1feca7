using System.Diagnostics;
using System.Text.RegularExpressions;

namespace PCache.Cli.Tests;

/// <summary>
/// Stopping with requests still inside the engine on a slow or hung backing (issue 8, defect 3):
/// the stop waits a bounded time, fails what is left cleanly, and never unmaps pmem under a
/// request, so the daemon neither crashes nor hangs. The hung disk is nbdkit's pause filter.
/// </summary>
public sealed partial class StopUnderLoadTests
{
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(60);

    /// <summary>An nbdsh client reading a range the cache does not hold (so it waits on the backing).</summary>
    internal static Process StartReader(Sandbox box, long offset, bool prefetch = false, int length = 1 << 20)
    {
        string op = prefetch ? $"h.cache({length}, {offset})" : $"h.pread({length}, {offset})";
        var p = Process.Start(Tools.StartInfo("nbdsh", ["-u", box.Uri(), "-c", $"{op}\nprint('done', flush=True)"]))!;
        p.StandardInput.Close();
        return p;
    }

    internal static void WaitUntil(Func<bool> condition, string what, TestDaemon daemon)
    {
        var deadline = DateTime.UtcNow + Liveness;
        while (!condition())
        {
            Assert.False(daemon.HasExited, $"the daemon died while waiting until {what}:\n{daemon.Log}");
            Assert.True(DateTime.UtcNow < deadline, $"never saw {what} within {Liveness.TotalSeconds} s:\n{daemon.Log}");
            Thread.Sleep(50);
        }
    }

    private static void WriteAndFlush(Sandbox box, int seed, long offset, int length)
    {
        var w = Tools.Nbdsh(box.Uri(), Tools.PatternPy + $"h.pwrite(pattern({seed}, {length}), {offset})\nh.flush()\n");
        Assert.True(w.ExitCode == 0, w.ToString());
    }

    [GeneratedRegex(@"request\(s\) waiting longer than 1 s")]
    private static partial Regex StuckLine();

    [Fact]
    public void HungBackingReadsShowAsStuckThenCacheStopFailsThemAndTheDaemonLivesOn()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FaultyBacking(box);
        string pmem = box.PmemPath();
        using var daemon = new TestDaemon(box, "--stop-timeout", "1", "--stuck-after", "1");
        daemon.Json("cache-start", "--path", pmem, "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
        WriteAndFlush(box, 1, 0, 1 << 20);
        Assert.Equal(0, daemon.Stat(0).StuckRequests);

        disk.Pause();
        using var reader = StartReader(box, 32 << 20);
        using var prefetcher = StartReader(box, 40 << 20, prefetch: true);
        WaitUntil(() => daemon.Stat(0).InFlightRequests >= 2, "two requests inside the engine", daemon);

        // Visible: counted with the age of the oldest in stat, and logged once each.
        WaitUntil(() => daemon.Stat(0) is { StuckRequests: >= 2, OldestStuckSeconds: >= 1 }, "two stuck requests in stat", daemon);
        // One line per newly stuck request: the line that saw the second one counts both.
        daemon.WaitForLog("2 request(s) waiting longer than 1 s");
        int lines = StuckLine().Matches(daemon.Log).Count;
        Assert.InRange(lines, 1, 2);
        Thread.Sleep(2000); // several more looks by the watcher
        Assert.Equal(lines, StuckLine().Matches(daemon.Log).Count);

        // cache-stop gives the requests a second, then fails them; the mapping goes only when no
        // request can touch it any more.
        var stop = daemon.Cli("cache-stop", "--cache-id", "0");
        Assert.True(stop.ExitCode == 0, $"{stop}\n{daemon.Log}");
        Assert.Contains("request(s) still waiting on the backing device", daemon.Log);
        Assert.True(reader.WaitForExit(Liveness) && prefetcher.WaitForExit(Liveness), "an NBD client still hangs after cache-stop");
        Assert.NotEqual(0, reader.ExitCode);

        // The backing answers at last: the late reads come back into a stopped, unmapped cache.
        disk.Resume();
        disk.Pause(); // returns once every request nbdkit held has been answered
        disk.Resume();
        Thread.Sleep(500);
        Assert.False(daemon.HasExited, $"the daemon died when the late reads returned:\n{daemon.Log}");
        Assert.Contains("daemon", daemon.Cli("version").Stdout);

        // Write-back I/O the stop abandoned has returned too: the device is released for a new start.
        if (daemon.Log.Contains("was abandoned")) daemon.WaitForLog("the device is released");

        // Nothing was lost: the cache starts again with the flushed data.
        daemon.Json("cache-start", "--path", pmem);
        var r = Tools.Nbdsh(box.Uri(), Tools.PatternPy + "assert h.pread(1 << 20, 0) == pattern(1, 1 << 20)\n");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(0, daemon.Stat(0).StuckRequests);
        Assert.Equal(0, daemon.Terminate());
    }

    [Fact]
    public void SigtermWithReadsHungOnTheBackingExitsZero()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FaultyBacking(box);
        using var daemon = new TestDaemon(box, "--stop-timeout", "1");
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);

        disk.Pause();
        using var reader = StartReader(box, 8 << 20);
        using var prefetcher = StartReader(box, 16 << 20, prefetch: true);
        WaitUntil(() => daemon.Stat(0).InFlightRequests >= 2, "two requests inside the engine", daemon);

        Assert.Equal(0, daemon.Terminate()); // the backing is still hung
        Assert.Contains("request(s) still waiting on the backing device", daemon.Log);
        Assert.Contains("stopped", daemon.Log);
        Assert.True(reader.WaitForExit(Liveness), "the NBD client outlived the daemon");
        Assert.NotEqual(0, reader.ExitCode);
    }

    [Fact]
    public void BackingStopWithAReadInFlightOnASlowBackingWritesEverythingBack()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FaultyBacking(box, readDelay: "2");
        using var daemon = new TestDaemon(box, "--stop-timeout", "1");
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
        WriteAndFlush(box, 5, 4 << 20, 128 << 10);

        using var reader = StartReader(box, 32 << 20, length: 4096);
        WaitUntil(() => daemon.Stat(0).InFlightRequests >= 1, "a read inside the engine", daemon);
        // The reader is a connected NBD client: without --force the stop is refused (backing_in_use).
        var refused = daemon.Cli("backing-stop", "--backing-id", "0");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("[backing_in_use]", refused.Stderr);
        var stop = daemon.Cli("backing-stop", "--backing-id", "0", "--force");
        Assert.True(stop.ExitCode == 0, $"{stop}\n{daemon.Log}");
        Assert.Contains("all dirty data written back", stop.Stderr);
        Assert.True(reader.WaitForExit(Liveness), "the reader still hangs after backing-stop");
        Assert.Empty(daemon.Backings());

        using (var f = File.OpenRead(disk.DiskPath))
        {
            var actual = new byte[128 << 10];
            f.Position = 4 << 20;
            f.ReadExactly(actual); // every read of the slow disk takes 2 s: keep it short
            Assert.True(RestartTests.Pattern(5, 128 << 10).AsSpan().SequenceEqual(actual), "the written data is not on the backing");
        }
        Assert.False(daemon.HasExited, daemon.Log);
        Assert.Equal(0, daemon.Terminate());
    }
}
