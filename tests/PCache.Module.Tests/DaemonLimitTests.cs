using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>
/// The running daemon accepts exactly what the cmdlets' [ValidateRange] lets through: each limit
/// is probed on both sides of the boundary with the client (the cmdlets would refuse the outside
/// values before sending them).
/// </summary>
public sealed class DaemonLimitTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    [Fact]
    public void GcPercentBoundaries()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var client = daemon.Client();
        Assert.Equal(Limits.MaxGcPercent, Set(client, backing.BackingId, Limits.MaxGcPercent).CacheGcPercent);
        Assert.Equal(Limits.MinGcPercent, Set(client, backing.BackingId, Limits.MinGcPercent).CacheGcPercent);
        AssertInvalid(() => Set(client, backing.BackingId, Limits.MaxGcPercent + 1));
        AssertInvalid(() => Set(client, backing.BackingId, Limits.MinGcPercent - 1));
    }

    [Fact]
    public void QueuesBoundaries()
    {
        var cache = daemon.NewCache(128L << 20);
        var client = daemon.Client();
        Assert.Equal(Limits.MaxQueues, Start(client, cache, Limits.MaxQueues).Queues);
        Assert.Equal(Limits.MinQueues, Start(client, cache, Limits.MinQueues).Queues);
        AssertInvalid(() => Start(client, cache, Limits.MaxQueues + 1));
        AssertInvalid(() => Start(client, cache, Limits.MinQueues - 1));
    }

    [Fact]
    public void CacheDeviceSizeAndSegmentSizeBoundaries()
    {
        var client = daemon.Client();
        var smallest = Cache(client, Limits.MinCacheDeviceSize, Limits.MinSegmentSize);
        Assert.Equal(Limits.MinCacheDeviceSize, smallest.Cache.Size);
        AssertInvalid(() => Cache(client, Limits.MinCacheDeviceSize - 1, null));
        AssertInvalid(() => Cache(client, 64L << 20, Limits.MinSegmentSize / 2));
        AssertInvalid(() => Cache(client, 64L << 20, Limits.MaxSegmentSize * 2));
        Assert.Equal(Limits.MaxSegmentSize, Cache(client, Limits.MaxSegmentSize * 5, Limits.MaxSegmentSize).Cache.SegmentSize);
    }

    private static BackingEntry Set(PCacheClient client, int id, int gc) =>
        client.SetBackingAsync(new BackingSetArgs { BackingId = id, GcPercent = gc }).GetAwaiter().GetResult();

    private BackingEntry Start(PCacheClient client, Cache cache, int queues) =>
        client.StartBackingAsync(new BackingStartArgs { Path = daemon.SparseFile(8L << 20), CacheSize = 8L << 20, CacheId = cache.CacheId, Queues = queues })
            .GetAwaiter().GetResult();

    private CacheStartResult Cache(PCacheClient client, long size, long? segment) =>
        client.StartCacheAsync(new CacheStartArgs { Path = daemon.Box.PmemPath(), Size = size, SegmentSize = segment }).GetAwaiter().GetResult();

    private static void AssertInvalid(Action call) =>
        Assert.Equal(ErrorCodes.InvalidArgument, Assert.Throws<PCacheException>(call).Code);
}
