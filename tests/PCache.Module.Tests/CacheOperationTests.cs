using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Get-, Start-, Initialize- and Stop-PCacheCache's core against a real daemon.</summary>
public sealed class CacheOperationTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    [Fact]
    public void StartCreatesAnEmulatedDeviceAndReturnsNumbers()
    {
        string path = daemon.Box.PmemPath();
        var sink = new RecordingSink();
        CacheOperations.Start(daemon.Client(), sink, new CacheStartRequest(path, 64L << 20, 1L << 20));
        sink.AssertNoErrors();
        var c = sink.Single<Cache>();
        Assert.Equal(path, c.Path);
        Assert.Equal(64L << 20, c.Size);
        Assert.Equal(1L << 20, c.SegmentSize);
        Assert.True(c.SegmentCount > 0);
        Assert.Equal(c.SegmentCount, c.FreeSegments);
        Assert.Equal(c.FreeSegments * c.SegmentSize, c.FreeBytes);
        Assert.Equal(0, c.UsedBytes);
        Assert.Equal(0.0, c.UsedRatio);
        Assert.Equal("memory", c.PersistMode);
        Assert.Equal(0, c.BackingCount);
        Assert.Equal(daemon.SocketPath, c.SocketPath);
        Assert.Equal(DateTimeKind.Utc, c.FormattedAt.Kind);
        Assert.Equal(path, Assert.Single(sink.ShouldProcessCalls).Target);
        Assert.Contains(sink.Warnings, w => w.Contains("lost at reboot", StringComparison.Ordinal));
        Assert.Contains(sink.Verbose, v => v.StartsWith("formatted", StringComparison.Ordinal));
    }

    [Fact]
    public void StartingAStartedCacheReturnsItWithoutAskingOrChanging()
    {
        var first = daemon.NewCache();
        var sink = new RecordingSink();
        CacheOperations.Start(daemon.Client(), sink, new CacheStartRequest(first.Path, 64L << 20));
        sink.AssertNoErrors();
        Assert.Equal(first.CacheId, sink.Single<Cache>().CacheId);
        Assert.Empty(sink.ShouldProcessCalls);
        Assert.Contains(sink.Verbose, v => v.Contains("already started", StringComparison.Ordinal));
    }

    [Fact]
    public void WhatIfStartsNothing()
    {
        string path = daemon.Box.PmemPath();
        var sink = new RecordingSink(shouldProcess: false);
        CacheOperations.Start(daemon.Client(), sink, new CacheStartRequest(path, 64L << 20));
        Assert.Empty(sink.Objects);
        Assert.Single(sink.ShouldProcessCalls);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void GetFiltersByIdAndWildcardAndReportsWhatIsMissing()
    {
        var a = daemon.NewCache();
        var b = daemon.NewCache();
        var byId = new RecordingSink();
        CacheOperations.Get(daemon.Client(), byId, [b.CacheId], null);
        Assert.Equal(b.Path, byId.Single<Cache>().Path);

        var byPattern = new RecordingSink();
        CacheOperations.Get(daemon.Client(), byPattern, null, ["/dev/shm/pcm-*"]);
        Assert.Contains(a.CacheId, byPattern.All<Cache>().Select(c => c.CacheId));
        Assert.Contains(b.CacheId, byPattern.All<Cache>().Select(c => c.CacheId));

        var missingId = new RecordingSink();
        CacheOperations.Get(daemon.Client(), missingId, [a.CacheId, 999], null);
        Assert.Equal(a.CacheId, missingId.Single<Cache>().CacheId);
        Assert.Equal(999, missingId.SingleError(ErrorTranslator.CacheNotFoundId).Target);

        // A literal path that names nothing is an error; a pattern that matches nothing is not.
        var missingPath = new RecordingSink();
        CacheOperations.Get(daemon.Client(), missingPath, null, ["/dev/shm/none.pmem", "/dev/shm/none-*"]);
        Assert.Empty(missingPath.Objects);
        Assert.Equal("/dev/shm/none.pmem", missingPath.SingleError(ErrorTranslator.CacheNotFoundId).Target);
    }

    [Fact]
    public void InitializeRefusesADeviceHoldingACacheUnlessForced()
    {
        var cache = daemon.NewCache();
        daemon.NewBacking(cache);
        var stop = new RecordingSink();
        CacheOperations.Stop(daemon.Client(), stop, cache.CacheId, force: true, passThru: false);
        stop.AssertNoErrors();

        var refused = new RecordingSink();
        CacheOperations.Initialize(daemon.Client(), refused, new CacheStartRequest(cache.Path), force: false);
        var e = refused.SingleError("PCacheConflict");
        Assert.Equal(cache.Path, e.Target);
        Assert.StartsWith("Add -Force", e.RecommendedAction);
        Assert.Contains("everything stored on it is lost", Assert.Single(refused.ShouldProcessCalls).Action);

        var formatted = new RecordingSink();
        CacheOperations.Initialize(daemon.Client(), formatted, new CacheStartRequest(cache.Path), force: true);
        formatted.AssertNoErrors();
        Assert.Equal(0, formatted.Single<Cache>().BackingCount);
    }

    [Fact]
    public void StopRefusesDirtyDataUnlessForced()
    {
        var cache = daemon.NewCache();
        using var disk = new FailingDisk(daemon.Box.Dir);
        var backing = daemon.NewBacking(cache, path: disk.DiskPath);
        disk.Failing = true;
        NbdIo.Write(backing, 1 << 20);

        var refused = new RecordingSink();
        CacheOperations.Stop(daemon.Client(), refused, cache.CacheId, force: false, passThru: true);
        var e = refused.SingleError(ErrorTranslator.CacheHasDirtyDataId);
        Assert.Equal(cache.CacheId, e.Target);
        Assert.Contains("Sync-PCacheBacking", e.RecommendedAction);
        Assert.Contains("-Force", e.RecommendedAction);
        Assert.Empty(refused.ShouldProcessCalls);
        Assert.Empty(refused.Objects);

        var whatIf = new RecordingSink(shouldProcess: false);
        CacheOperations.Stop(daemon.Client(), whatIf, cache.CacheId, force: true, passThru: true);
        var (target, action) = Assert.Single(whatIf.ShouldProcessCalls);
        Assert.Contains(cache.Path, target);
        Assert.Contains(backing.Export, action);
        Assert.Contains("dirty data stays only in the cache device", action);
        Assert.Empty(whatIf.Objects);

        var forced = new RecordingSink();
        CacheOperations.Stop(daemon.Client(), forced, cache.CacheId, force: true, passThru: true);
        forced.AssertNoErrors();
        var stopped = forced.Single<StoppedCache>();
        Assert.Equal([backing.BackingId], stopped.StoppedBackingIds);
        Assert.True(stopped.DirtyBytesKept >= 1 << 20);

        var gone = new RecordingSink();
        CacheOperations.Get(daemon.Client(), gone, [cache.CacheId], null);
        gone.SingleError(ErrorTranslator.CacheNotFoundId);
    }

    [Fact]
    public void StoppingACacheThatIsNotStartedIsNotFound()
    {
        var sink = new RecordingSink();
        CacheOperations.Stop(daemon.Client(), sink, 4242, force: false, passThru: false);
        Assert.Equal(4242, sink.SingleError(ErrorTranslator.CacheNotFoundId).Target);
    }
}
