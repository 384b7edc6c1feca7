using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Get-, Add-, Set- and Remove-PCacheBacking's core against a real daemon.</summary>
public sealed class BackingOperationTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    [Fact]
    public void AddReturnsANumericBackingWithItsNbdUri()
    {
        var cache = daemon.NewCache();
        string path = daemon.SparseFile(128L << 20);
        var sink = new RecordingSink();
        BackingOperations.Add(daemon.Client(), sink, new AddBackingRequest(path, 16L << 20, cache.CacheId, GcPercent: 60, Queues: 2));
        sink.AssertNoErrors();
        var b = sink.Single<Backing>();
        Assert.Equal(path, b.Path);
        Assert.Equal(cache.CacheId, b.CacheId);
        Assert.Equal(BackingStates.Running, b.State);
        Assert.Equal(128L << 20, b.Size);
        Assert.Equal(16L << 20, b.CacheSize);
        Assert.Equal(16, b.CacheSegments);
        Assert.InRange(b.CacheUsedRatio, 0.0, 1.0);
        Assert.Equal(60, b.GcPercent);
        Assert.Equal(2, b.Queues);
        Assert.Equal(0, b.DirtyBytes);
        Assert.Equal($"pcache{b.BackingId}", b.Export);
        Assert.StartsWith($"nbd+unix:///pcache{b.BackingId}?socket=", b.Uri);
        Assert.Equal(daemon.SocketPath, b.SocketPath);
        Assert.Equal(path, Assert.Single(sink.ShouldProcessCalls).Target);
    }

    [Fact]
    public void AddingTheSameBackingAgainReturnsItAndChangesNothing()
    {
        var cache = daemon.NewCache();
        var first = daemon.NewBacking(cache, cacheSize: 16L << 20);
        var sink = new RecordingSink();
        BackingOperations.Add(daemon.Client(), sink, new AddBackingRequest(first.Path, 16L << 20, cache.CacheId, GcPercent: 70));
        sink.AssertNoErrors();
        Assert.Equal(first.BackingId, sink.Single<Backing>().BackingId);
        Assert.Empty(sink.ShouldProcessCalls);
        Assert.Contains(sink.Verbose, v => v.Contains("already attached", StringComparison.Ordinal));
    }

    [Fact]
    public void AddingItWithOtherSettingsIsAConflictThatNamesThem()
    {
        var cache = daemon.NewCache();
        var first = daemon.NewBacking(cache, cacheSize: 16L << 20);
        var sink = new RecordingSink();
        BackingOperations.Add(daemon.Client(), sink, new AddBackingRequest(first.Path, 32L << 20, cache.CacheId, GcPercent: 40));
        var e = sink.SingleError(ErrorTranslator.BackingConflictId);
        Assert.Equal("ResourceExists", e.Category);
        Assert.Equal(first.BackingId, Assert.IsType<Backing>(e.Target).BackingId);
        Assert.Contains("CacheSize is 16 MiB, not 32 MiB", e.Message);
        Assert.Contains("GcPercent is 70, not 40", e.Message);
        Assert.Contains("Remove-PCacheBacking", e.RecommendedAction);
        Assert.Empty(sink.Objects);
        Assert.Empty(sink.ShouldProcessCalls);
    }

    [Fact]
    public void AddingToACacheThatIsNotStartedIsNotFound()
    {
        var sink = new RecordingSink();
        string path = daemon.SparseFile(16L << 20);
        BackingOperations.Add(daemon.Client(), sink, new AddBackingRequest(path, 4L << 20, CacheId: 777));
        // The target is what was not found (the cache id), not the path the command worked on.
        Assert.Equal(777, sink.SingleError(ErrorTranslator.CacheNotFoundId).Target);
    }

    [Fact]
    public void WhatIfAddsNothing()
    {
        var cache = daemon.NewCache();
        string path = daemon.SparseFile(16L << 20);
        var sink = new RecordingSink(shouldProcess: false);
        BackingOperations.Add(daemon.Client(), sink, new AddBackingRequest(path, 4L << 20, cache.CacheId));
        Assert.Empty(sink.Objects);
        var check = new RecordingSink();
        BackingOperations.Get(daemon.Client(), check, null, [cache.CacheId], null);
        Assert.Empty(check.Objects);
    }

    [Fact]
    public void GetFiltersByCacheIdAndPathAndReportsWhatIsMissing()
    {
        var cache = daemon.NewCache();
        var a = daemon.NewBacking(cache);
        var b = daemon.NewBacking(cache);
        var other = daemon.NewBacking(daemon.NewCache());

        var byCache = new RecordingSink();
        BackingOperations.Get(daemon.Client(), byCache, null, [cache.CacheId], null);
        Assert.Equal([a.BackingId, b.BackingId], byCache.All<Backing>().Select(x => x.BackingId).Order());

        var byPath = new RecordingSink();
        BackingOperations.Get(daemon.Client(), byPath, null, null, [Path.Combine(Path.GetDirectoryName(a.Path)!, "backing-*.img")]);
        Assert.Superset(new HashSet<int> { a.BackingId, b.BackingId, other.BackingId }, byPath.All<Backing>().Select(x => x.BackingId).ToHashSet());

        var missing = new RecordingSink();
        BackingOperations.Get(daemon.Client(), missing, [a.BackingId, other.BackingId, 9999], [cache.CacheId, 8888], null);
        Assert.Equal(a.BackingId, missing.Single<Backing>().BackingId);
        Assert.Equal(
            new[] { (ErrorTranslator.CacheNotFoundId, (object)8888), (ErrorTranslator.BackingNotFoundId, other.BackingId), (ErrorTranslator.BackingNotFoundId, 9999) },
            missing.Errors.Select(e => (e.ErrorId, e.Target!)));
    }

    [Fact]
    public void SetChangesGcPercentOnceAndThenHasNothingToDo()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var change = new RecordingSink();
        BackingOperations.Set(daemon.Client(), change, backing.BackingId, new BackingSettings(GcPercent: 50), wait: false, passThru: true);
        change.AssertNoErrors();
        Assert.Equal(50, change.Single<Backing>().GcPercent);
        Assert.Contains("from 70 to 50", Assert.Single(change.ShouldProcessCalls).Action);

        var again = new RecordingSink();
        BackingOperations.Set(daemon.Client(), again, backing.BackingId, new BackingSettings(GcPercent: 50), wait: false, passThru: false);
        again.AssertNoErrors();
        Assert.Empty(again.ShouldProcessCalls);
        Assert.Empty(again.Objects);

        var whatIf = new RecordingSink(shouldProcess: false);
        BackingOperations.Set(daemon.Client(), whatIf, backing.BackingId, new BackingSettings(GcPercent: 10), wait: false, passThru: true);
        Assert.Empty(whatIf.Objects);
        var now = new RecordingSink();
        BackingOperations.Get(daemon.Client(), now, [backing.BackingId], null, null);
        Assert.Equal(50, now.Single<Backing>().GcPercent);
    }

    [Fact]
    public void SetChangesTheModeAndAdmissionOnceAndWaitReturnsWithNothingDirty()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var change = new RecordingSink();
        BackingOperations.Set(daemon.Client(), change, backing.BackingId,
            new BackingSettings(Mode: "WriteThrough", SequentialCutoff: 4L << 20, ReadAdmission: 2), wait: true, passThru: true);
        change.AssertNoErrors();
        var changed = change.Single<Backing>();
        Assert.True((changed.Mode, changed.SequentialCutoff, changed.ReadAdmission, changed.Draining) == ("writethrough", 4L << 20, 2, false));
        string action = Assert.Single(change.ShouldProcessCalls).Action;
        Assert.Contains("Mode from writeback to writethrough", action);
        Assert.Contains("ReadAdmission from 0 to 2", action);

        var again = new RecordingSink();
        BackingOperations.Set(daemon.Client(), again, backing.BackingId, new BackingSettings(Mode: "writethrough", ReadAdmission: 2), wait: false, passThru: false);
        again.AssertNoErrors();
        Assert.Empty(again.ShouldProcessCalls);

        var plan = AddBackingPlan.For(new AddBackingRequest(backing.Path, 16L << 20, backing.CacheId, Mode: "writeback"),
            [new BackingEntry { BackingPath = backing.Path, CacheId = backing.CacheId, State = BackingStates.Running, Mode = "writethrough", CacheSize = 16L << 20 }]);
        Assert.Equal(AddBackingDecision.Conflict, plan.Decision);
        Assert.Contains("Mode is writethrough, not writeback", plan.Differences);
    }

    [Fact]
    public void SetOnAMissingBackingIsNotFound()
    {
        var sink = new RecordingSink();
        BackingOperations.Set(daemon.Client(), sink, 9876, new BackingSettings(GcPercent: 50), wait: false, passThru: true);
        Assert.Equal(9876, sink.SingleError(ErrorTranslator.BackingNotFoundId).Target);
    }

    [Fact]
    public void RemoveWritesEveryDirtyByteBackWithProgress()
    {
        var cache = daemon.NewCache();
        using var disk = new FailingDisk(daemon.Box.Dir);
        var backing = daemon.NewBacking(cache, path: disk.DiskPath);
        disk.Failing = true;
        NbdIo.Write(backing, 2 << 20);

        // Write-back cannot progress until the first progress report lets the disk work again.
        var sink = new RecordingSink { OnProgress = _ => disk.Failing = false };
        RemoveBacking.Run(daemon.Client(), sink, backing.BackingId, force: false, passThru: true);
        sink.AssertNoErrors();
        var removed = sink.Single<RemovedBacking>();
        Assert.Equal(backing.BackingId, removed.BackingId);
        Assert.Equal(cache.CacheId, removed.CacheId);
        Assert.True(removed.WrittenBackBytes >= 2 << 20);
        Assert.Equal(0, removed.DiscardedDirtyBytes);
        Assert.Contains("Write back", Assert.Single(sink.ShouldProcessCalls).Action);
        Assert.Contains(sink.Progress, p => !p.Completed && p.Status.Contains("dirty left", StringComparison.Ordinal));
        Assert.True(sink.Progress[^1].Completed);
        Assert.All(sink.Progress, p => Assert.Equal(ProgressReport.RemoveBackingActivity, p.ActivityId));

        var gone = new RecordingSink();
        BackingOperations.Get(daemon.Client(), gone, [backing.BackingId], null, null);
        gone.SingleError(ErrorTranslator.BackingNotFoundId);
    }

    [Fact]
    public void CtrlCStopsARemoveAndTheBackingStaysAttached()
    {
        var cache = daemon.NewCache();
        using var disk = new FailingDisk(daemon.Box.Dir);
        var backing = daemon.NewBacking(cache, path: disk.DiskPath);
        disk.Failing = true;
        NbdIo.Write(backing, 1 << 20);

        using var ctrlC = new CancellationTokenSource();
        var sink = new RecordingSink(stopping: ctrlC.Token) { OnProgress = _ => ctrlC.Cancel() };
        Assert.ThrowsAny<OperationCanceledException>(() => RemoveBacking.Run(daemon.Client(), sink, backing.BackingId, force: false, passThru: true));
        Assert.Empty(sink.Objects);

        var after = new RecordingSink();
        BackingOperations.Get(daemon.Client(), after, [backing.BackingId], null, null);
        var still = after.Single<Backing>();
        Assert.Equal(BackingStates.Running, still.State);
        Assert.True(still.DirtyBytes > 0);

        disk.Failing = false;
        var remove = new RecordingSink();
        RemoveBacking.Run(daemon.Client(), remove, backing.BackingId, force: false, passThru: false);
        remove.AssertNoErrors();
    }

    [Fact]
    public void WhatIfRemovesNothingAndAMissingBackingIsNotFound()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var whatIf = new RecordingSink(shouldProcess: false);
        RemoveBacking.Run(daemon.Client(), whatIf, backing.BackingId, force: false, passThru: true);
        Assert.Empty(whatIf.Objects);
        Assert.Contains(backing.Path, Assert.Single(whatIf.ShouldProcessCalls).Target);
        var check = new RecordingSink();
        BackingOperations.Get(daemon.Client(), check, [backing.BackingId], null, null);
        check.Single<Backing>();

        var missing = new RecordingSink();
        RemoveBacking.Run(daemon.Client(), missing, 5555, force: false, passThru: false);
        Assert.Equal(5555, missing.SingleError(ErrorTranslator.BackingNotFoundId).Target);
    }

    [Fact]
    public void ForceAsksBeforeDiscardingTheDirtyDataOfABackingThatCannotBeReached()
    {
        var cache = daemon.NewCache();
        Backing backing;
        using (var disk = new FailingDisk(daemon.Box.Dir))
        {
            backing = daemon.NewBacking(cache, path: disk.DiskPath);
            disk.Failing = true; // write-back cannot clean anything: the data stays dirty
            NbdIo.Write(backing, 1 << 20);
            var stop = new RecordingSink();
            CacheOperations.Stop(daemon.Client(), stop, cache.CacheId, force: true, passThru: false);
            stop.AssertNoErrors();
        } // the disk goes away with its nbdkit and nbdfuse

        var start = new RecordingSink();
        CacheOperations.Start(daemon.Client(), start, new CacheStartRequest(cache.Path));
        start.AssertNoErrors();
        var unreachable = Find(backing.BackingId);
        Assert.Equal(BackingStates.Unavailable, unreachable.State);
        Assert.True(unreachable.DirtyBytes > 0, "the dirty data must survive the restart");

        // "No" at the prompt: nothing is discarded and the backing stays recorded.
        var no = new RecordingSink { ContinueAnswer = false };
        RemoveBacking.Run(daemon.Client(), no, backing.BackingId, force: true, passThru: true);
        no.AssertNoErrors();
        Assert.Contains("will be lost", Assert.Single(no.ShouldContinueCalls).Query);
        Assert.Empty(no.Objects);
        Assert.Equal(unreachable.DirtyBytes, Find(backing.BackingId).DirtyBytes);

        var yes = new RecordingSink();
        RemoveBacking.Run(daemon.Client(), yes, backing.BackingId, force: true, passThru: true);
        yes.AssertNoErrors();
        Assert.Single(yes.ShouldContinueCalls);
        Assert.True(yes.Single<RemovedBacking>().DiscardedDirtyBytes > 0);
    }

    private Backing Find(int backingId)
    {
        var sink = new RecordingSink();
        BackingOperations.Get(daemon.Client(), sink, [backingId], null, null);
        return sink.Single<Backing>();
    }
}
