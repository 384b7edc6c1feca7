namespace PCache.Cli.Tests;

/// <summary>
/// A backing replaced at the same path is refused on re-attach, and the dirty data the cache
/// holds for the original stays there. Write-back is made to fail (nbdkit's error filter behind
/// nbdfuse) so that the cache certainly holds dirty data when the daemon stops.
/// </summary>
public sealed class IdentityTests
{
    private const string WriteScript = Tools.PatternPy + """
        h.pwrite(pattern(5, 1 << 20), 0)
        h.flush()
        """;

    [Fact]
    public void AReplacedBackingIsRefusedAndItsDirtyDataStaysInTheCache()
    {
        Tools.Require("nbdsh");
        Tools.Require("nbdinfo");
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        using var disk = new FailingBacking(box);
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem, "--size", "1G", "--format", "--force");
            daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
            disk.Failing = true;
            var w = Tools.Nbdsh(box.Uri(), WriteScript);
            Assert.True(w.ExitCode == 0, w.ToString());
            Assert.True(daemon.Backings().Single().DirtyBytes >= 1 << 20);
            Assert.Equal(0, daemon.Terminate());
        }

        // Another file of the same size at the same path.
        disk.Unmount();
        using (var f = new FileStream(disk.DiskPath, FileMode.CreateNew)) f.SetLength(64 << 20);

        using (var daemon = new TestDaemon(box))
        {
            var start = daemon.Cli("cache-start", "--path", pmem);
            Assert.True(start.ExitCode == 0, start.ToString());
            Assert.Contains("identity mismatch", start.Stderr);
            Assert.Contains("refused", start.Stderr);

            var b = Assert.Single(daemon.Backings());
            Assert.Equal("refused", b.State);
            Assert.True(b.DirtyBytes >= 1 << 20, $"dirty bytes {b.DirtyBytes}");
            Assert.Null(b.LogicDev);
            Assert.Contains("identity mismatch", b.Error);
            Assert.Contains("stay safe in the cache", b.Error);
            daemon.WaitForLog("backing 0 (" + disk.DiskPath + ") refused: identity mismatch");

            Assert.NotEqual(0, Tools.Run("nbdinfo", box.Uri()).ExitCode); // not exported

            // Neither writing back to the impostor nor re-attaching it is allowed...
            var stop = daemon.Cli("backing-stop", "--backing-id", "0");
            Assert.Equal(1, stop.ExitCode);
            Assert.Contains("--force", stop.Stderr);
            var again = daemon.Cli("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
            Assert.Equal(1, again.ExitCode);
            Assert.Contains("[identity_mismatch]", again.Stderr);
            Assert.True(daemon.Backings().Single().DirtyBytes >= 1 << 20);
            Assert.Equal(new byte[4096], File.ReadAllBytes(disk.DiskPath)[..4096]);

            // ...the data is only dropped when the admin says so.
            var forced = daemon.Cli("backing-stop", "--backing-id", "0", "--force");
            Assert.True(forced.ExitCode == 0, forced.ToString());
            Assert.Contains("discarded", forced.Stderr);
            Assert.Empty(daemon.Backings());
        }
    }

    [Fact]
    public async Task CtrlCOnBackingStopLeavesTheBackingAttachedAndALaterStopDrainsIt()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FailingBacking(box);
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
        disk.Failing = true;
        var w = Tools.Nbdsh(box.Uri(), WriteScript);
        Assert.True(w.ExitCode == 0, w.ToString());

        // The drain cannot finish while the backing fails; Ctrl+C once it has begun.
        using var stop = System.Diagnostics.Process.Start(Tools.StartInfo(PcacheBinary.Path, ["backing-stop", "--backing-id", "0"],
            new Dictionary<string, string?> { ["PCACHE_SOCKET"] = box.SocketPath }))!;
        stop.StandardInput.Close();
        var stdout = stop.StandardOutput.ReadToEndAsync();
        string? first = stop.StandardError.ReadLine();
        Assert.NotNull(first);
        Assert.Contains("writing back", first);
        Tools.Signal(stop.Id, Tools.SIGINT);
        string rest = stop.StandardError.ReadToEnd();
        Assert.True(stop.WaitForExit(TimeSpan.FromMinutes(1)));
        Assert.Equal(130, stop.ExitCode);
        Assert.Contains("stays attached", rest);
        Assert.Equal("", await stdout);

        var b = daemon.Backings().Single();
        Assert.Equal("running", b.State);
        Assert.Equal(box.Uri(0), b.LogicDev);
        Assert.True(b.DirtyBytes >= 1 << 20);
        var read = Tools.Nbdsh(box.Uri(), Tools.PatternPy + "assert h.pread(1 << 20, 0) == pattern(5, 1 << 20)\n");
        Assert.True(read.ExitCode == 0, read.ToString());

        // Once the device works again, backing-stop writes everything back.
        disk.Failing = false;
        var done = daemon.Cli("backing-stop", "--backing-id", "0");
        Assert.True(done.ExitCode == 0, done.ToString());
        Assert.Empty(daemon.Backings());
        using var f = File.OpenRead(disk.DiskPath);
        var actual = new byte[1 << 20];
        f.ReadExactly(actual);
        Assert.Equal(RestartTests.Pattern(5, 1 << 20), actual);
    }
}
