using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Get-/Test-PCacheDaemon's core against a real daemon, and every operation without one.</summary>
public sealed class DaemonOperationTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    [Fact]
    public void GetDescribesTheRunningDaemon()
    {
        var sink = new RecordingSink();
        DaemonOperations.Get(daemon.Client(), sink);
        var d = sink.Single<DaemonInfo>();
        Assert.Equal(daemon.Info.Pid, d.Pid);
        Assert.Equal(daemon.SocketPath, d.SocketPath);
        Assert.Equal(ControlProtocol.Version, d.Protocol);
        Assert.False(string.IsNullOrEmpty(d.Version));
        Assert.Equal(Path.Combine(daemon.Box.Dir, "nbd.sock"), d.NbdSocketPath);
        Assert.Equal(DateTimeKind.Utc, d.StartedAt.Kind);
        Assert.True(d.UptimeSeconds >= 0);
    }

    [Fact]
    public void TestIsTrueWithADaemonAndFalseWithoutOneAndNeverAnError()
    {
        var up = new RecordingSink();
        DaemonOperations.Test(daemon.Client(), up);
        Assert.True(up.Single<bool>());

        var down = new RecordingSink();
        DaemonOperations.Test(Missing(), down);
        Assert.False(down.Single<bool>());
        down.AssertNoErrors();
        Assert.Contains(down.Verbose, v => v.Contains("not running", StringComparison.Ordinal));
    }

    public static TheoryData<string> Operations() =>
        ["Get-PCacheDaemon", "Get-PCacheCache", "Start-PCacheCache", "Stop-PCacheCache", "Get-PCacheBacking", "Add-PCacheBacking",
         "Remove-PCacheBacking", "Set-PCacheBacking", "Sync-PCacheBacking", "Get-PCacheStat", "Clear-PCacheStat"];

    /// <summary>Nothing can succeed without the daemon: a terminating error that names the socket and says how to start one.</summary>
    [Theory]
    [MemberData(nameof(Operations))]
    public void WithoutADaemonEveryOperationStopsWithDaemonNotRunning(string cmdlet)
    {
        var client = Missing();
        var sink = new RecordingSink();
        Action run = cmdlet switch
        {
            "Get-PCacheDaemon" => () => DaemonOperations.Get(client, sink),
            "Get-PCacheCache" => () => CacheOperations.Get(client, sink, null, null),
            "Start-PCacheCache" => () => CacheOperations.Start(client, sink, new CacheStartRequest("/dev/shm/x.pmem", 64L << 20)),
            "Stop-PCacheCache" => () => CacheOperations.Stop(client, sink, 0, false, false),
            "Get-PCacheBacking" => () => BackingOperations.Get(client, sink, null, null, null),
            "Add-PCacheBacking" => () => BackingOperations.Add(client, sink, new AddBackingRequest("/tmp/x.img", 1L << 20)),
            "Remove-PCacheBacking" => () => RemoveBacking.Run(client, sink, 0, false, false),
            "Set-PCacheBacking" => () => BackingOperations.Set(client, sink, 0, new BackingSettings(GcPercent: 50), wait: false, passThru: false),
            "Sync-PCacheBacking" => () => SyncBacking.Run(client, sink, 0, 0, false),
            "Get-PCacheStat" => () => StatOperations.Get(client, sink, null),
            "Clear-PCacheStat" => () => StatOperations.Clear(client, sink, null, false),
            _ => throw new ArgumentException(cmdlet),
        };
        var e = Assert.Throws<PCacheCommandException>(run).Error;
        Assert.Equal(ErrorTranslator.DaemonNotRunningId, e.ErrorId);
        Assert.True(e.Terminating);
        Assert.Equal(client.Socket.Path, e.Target);
        Assert.Contains("Start-PCacheDaemon", e.RecommendedAction);
        Assert.Empty(sink.Objects);
    }

    private static PCacheClient Missing() =>
        new(new SocketLocation($"/tmp/pcm-absent-{Guid.NewGuid().ToString("N")[..8]}.sock", SocketLocation.FromParameter));
}
