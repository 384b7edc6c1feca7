using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>What Start-PCacheDaemon and Stop-PCacheDaemon do, with the real engine.</summary>
public sealed class DaemonLauncherTests
{
    [Fact]
    public void StartsADetachedDaemonThatStopsOnSigterm()
    {
        using var box = new Sandbox("pcm");
        var d = DaemonLauncher.Start(PcacheBinary.Path, box.SocketPath, [], TimeSpan.FromSeconds(60));
        try
        {
            Assert.Equal(box.SocketPath, d.SocketPath);
            Assert.Equal(Path.Combine(box.Dir, DaemonLauncher.LogFileName), d.LogPath);
            Assert.True(DaemonLauncher.IsAlive(d.Pid));
            Assert.NotNull(DaemonLauncher.Find(box.SocketPath));
            // Its own session: a Ctrl+C in the shell that started it goes to another process group.
            string stat = File.ReadAllText($"/proc/{d.Pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            Assert.Equal(d.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), fields[3]); // session id = its pid
        }
        finally
        {
            DaemonLauncher.Stop(d.Pid, TimeSpan.FromSeconds(60));
        }
        Assert.False(DaemonLauncher.IsAlive(d.Pid));
        Assert.Null(DaemonLauncher.Find(box.SocketPath));
        Assert.Contains("stopped", File.ReadAllText(d.LogPath!));
    }

    [Fact]
    public void ASecondDaemonOnTheSameSocketIsRefused()
    {
        using var box = new Sandbox("pcm");
        var d = DaemonLauncher.Start(PcacheBinary.Path, box.SocketPath, [], TimeSpan.FromSeconds(60));
        try
        {
            var e = Assert.Throws<PCacheCommandException>(() => DaemonLauncher.Start(PcacheBinary.Path, box.SocketPath, [], TimeSpan.FromSeconds(60)));
            Assert.Equal(ErrorTranslator.DaemonStartFailedId, e.Error.ErrorId);
            Assert.Contains(d.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Error.Message);
        }
        finally
        {
            DaemonLauncher.Stop(d.Pid, TimeSpan.FromSeconds(60));
        }
    }

    [Fact]
    public void ADaemonThatFailsToStartIsReportedWithItsLog()
    {
        using var box = new Sandbox("pcm");
        var e = Assert.Throws<PCacheCommandException>(() =>
            DaemonLauncher.Start(PcacheBinary.Path, box.SocketPath, ["--nbd-listen", "not-an-address:x"], TimeSpan.FromSeconds(60))).Error;
        Assert.Equal(ErrorTranslator.DaemonStartFailedId, e.ErrorId);
        Assert.True(e.Terminating);
        Assert.Contains("--nbd-listen", e.Message);
    }

    [Fact]
    public void AMissingEngineIsReported()
    {
        using var box = new Sandbox("pcm");
        var e = Assert.Throws<PCacheCommandException>(() =>
            DaemonLauncher.Start(Path.Combine(box.Dir, "bin", "pcache"), box.SocketPath, [], TimeSpan.FromSeconds(5))).Error;
        Assert.Contains("./build.sh", e.Message);
    }

    [Fact]
    public void StopRefusesAProcessThatIsNotPcache()
    {
        var e = Assert.Throws<PCacheCommandException>(() => DaemonLauncher.Stop(Environment.ProcessId, TimeSpan.FromSeconds(1))).Error;
        Assert.Contains("not the pcache daemon", e.Message);
        Assert.True(DaemonLauncher.IsAlive(Environment.ProcessId));
    }
}
