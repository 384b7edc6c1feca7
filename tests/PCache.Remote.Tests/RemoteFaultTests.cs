namespace PCache.Remote.Tests;

/// <summary>
/// A remote backing that fails, hangs or vanishes is not a crash and loses nothing: dirty data
/// stays in the cache, write-back retries and says why in stat, misses fail with EIO, and it all
/// resumes when the server answers again. nbdkit's error and delay filters make the faults.
/// </summary>
public sealed class RemoteFaultTests
{
    private static readonly string CacheSize = NbdBackingTests.CacheSize;

    [Fact]
    public void ServerKilled_DirtyDataStaysMissesFailEioAndWriteBackResumesWhenItReturns()
    {
        using var box = new Sandbox();
        string file = box.SparseFile("remote.img", 32 << 20);
        using var kit = RemoteServer.Nbdkit(box, "kit", "file", file);
        using var daemon = NbdBackingTests.StartDaemon(box);
        daemon.Json("backing-start", "--path", kit.Uri(), "--cache-size", CacheSize);

        kit.Kill();
        NbdBackingTests.QemuIo(box.Uri(), "write -P 0x22 4M 1M", "flush");
        var stat = Wait.Until(() => daemon.Stat(0), s => s.WritebackError is not null, "a write-back error in stat");
        Assert.True(stat.DirtyBytes >= 1 << 20, $"dirty {stat.DirtyBytes}");
        Assert.Equal("running", stat.State);

        var miss = Tools.Run("qemu-io", "-f", "raw", box.Uri(), "-c", "read 20M 4k");
        Assert.Contains("Input/output error", miss.Stdout + miss.Stderr);
        NbdBackingTests.QemuIo(box.Uri(), "read -P 0x22 4M 1M"); // hits still answer

        kit.Start();
        Wait.Until(() => daemon.Stat(0), s => s.DirtyBytes == 0 && s.WritebackError is null, "write-back after the server returned");
        var bytes = File.ReadAllBytes(file);
        Assert.All(bytes.AsSpan(4 << 20, 1 << 20).ToArray(), b => Assert.Equal(0x22, b));
        NbdBackingTests.QemuIo(box.Uri(), "read -P 0 20M 4k");
        Assert.False(daemon.HasExited);
    }

    [Fact]
    public void FailingWrites_AreRetriedReportedAndDrainedOnceTheServerHeals()
    {
        using var box = new Sandbox();
        string trigger = Path.Combine(box.Dir, "fail");
        File.WriteAllText(trigger, "");
        using var kit = RemoteServer.Nbdkit(box, "kit", "--filter=error", "memory", "32M", "error=EIO",
            "error-pwrite-rate=100%", $"error-pwrite-file={trigger}");
        using var daemon = NbdBackingTests.StartDaemon(box);
        daemon.Json("backing-start", "--path", kit.Uri(), "--cache-size", CacheSize);

        NbdBackingTests.QemuIo(box.Uri(), "write -P 0x33 0 1M", "flush");
        var stat = Wait.Until(() => daemon.Stat(0), s => s.WritebackError?.Contains("EIO") == true, "an EIO write-back error in stat");
        Assert.True(stat.DirtyBytes >= 1 << 20);
        Assert.True(stat.Counters["writeback_errors"] > 0);

        File.Delete(trigger);
        Wait.Until(() => daemon.Stat(0), s => s.DirtyBytes == 0 && s.WritebackError is null, "write-back after the errors stopped");
        NbdBackingTests.QemuIo(kit.Uri(), "read -P 0x33 0 1M");
    }

    [Fact]
    public void HungServer_RequestsTimeOutAndTheDaemonKeepsAnswering()
    {
        using var box = new Sandbox();
        // Writes take a minute at the server; the URI allows one second per request.
        using var kit = RemoteServer.Nbdkit(box, "kit", "--filter=delay", "memory", "32M", "wdelay=60");
        using var daemon = NbdBackingTests.StartDaemon(box);
        daemon.Json("backing-start", "--path", kit.Uri() + "&timeout=1", "--cache-size", CacheSize);

        NbdBackingTests.QemuIo(box.Uri(), "write -P 0x44 0 64k", "flush");
        var stat = Wait.Until(() => daemon.Stat(0), s => s.WritebackError?.Contains("no reply within 1 s") == true, "a timed-out write-back");
        Assert.True(stat.DirtyBytes >= 64 << 10);
        // The broken connection is replaced: a miss (reads are not delayed) and the hit still answer.
        NbdBackingTests.QemuIo(box.Uri(), "read -P 0 1M 64k", "read -P 0x44 0 64k");
        Assert.Equal("running", Assert.Single(daemon.Backings()).State);
    }
}
