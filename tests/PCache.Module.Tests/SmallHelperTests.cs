using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Completion quoting, the private socket location, drain progress and the format file's unit helpers.</summary>
public sealed class SmallHelperTests
{
    [Theory]
    [InlineData("/dev/sdb", "/dev/sdb")]
    [InlineData("/tmp/my disk.img", "'/tmp/my disk.img'")]
    [InlineData("/tmp/it's.img", "'/tmp/it''s.img'")]
    [InlineData("/tmp/$x", "'/tmp/$x'")]
    public void CompletionQuotesPathsPowerShellWouldSplitOrExpand(string path, string expected) =>
        Assert.Equal(expected, Completion.Quote(path));

    [Fact]
    public void CompletersReturnNothingWithoutADaemon()
    {
        var client = Completion.QuickClient($"/tmp/pcm-none-{Guid.NewGuid():N}.sock");
        Assert.Empty(Completion.BackingIds(client, "", null));
        Assert.Empty(Completion.CacheIds(client, ""));
        Assert.Empty(Completion.BackingPaths(client, ""));
        Assert.Empty(Completion.CachePaths(client, ""));
    }

    [Fact]
    public void APrivateDaemonNeverUsesTheSystemSocket()
    {
        Assert.Equal("/run/user/1000/pcache/pcache.sock", DaemonLauncher.PrivateSocketPath("/run/user/1000", 1000));
        Assert.Equal(Path.Combine(Path.GetTempPath(), "pcache-1000", "pcache.sock"), DaemonLauncher.PrivateSocketPath(null, 1000));
        Assert.Equal(Path.Combine(Path.GetTempPath(), "pcache-0", "pcache.sock"), DaemonLauncher.PrivateSocketPath("relative/dir", 0));
        Assert.NotEqual(ControlProtocol.DefaultSocketPath, DaemonLauncher.PrivateSocketPath());
    }

    [Theory]
    [InlineData(100, 100, false, 0)]
    [InlineData(100, 25, false, 75)]
    [InlineData(100, 0, true, 100)]
    [InlineData(0, 0, true, 100)]
    [InlineData(0, 0, false, 0)]
    public void DrainProgressCountsWhatWasWrittenBack(long initial, long left, bool done, int percent)
    {
        var p = RemoveBacking.Progress("x", new DrainProgress { InitialDirtyBytes = initial, DirtyBytes = left, Done = done });
        Assert.Equal(percent, p.PercentComplete);
        Assert.Equal(ProgressReport.RemoveBackingActivity, p.ActivityId);
        Assert.Contains(ByteSize.Format(left), p.Status);
    }

    [Fact]
    public void DrainProgressShowsAWriteBackError() =>
        Assert.Contains("EIO", RemoveBacking.Progress("x", new DrainProgress { InitialDirtyBytes = 10, DirtyBytes = 10, WritebackError = "EIO" }).Status);

    [Fact]
    public void UnitsAreBinaryAndInvariant()
    {
        Assert.Equal("1.5 GiB", Units.Bytes(3L << 29));
        Assert.Equal("12.5 %", Units.Percent(0.125));
        Assert.Equal("2 MiB/s", Units.Rate(2 << 20));
    }
}
