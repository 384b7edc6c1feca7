using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Sync-PCacheBacking's core: wait for write-back with progress, bounded by -TimeoutSec, ended by Ctrl+C.</summary>
public sealed class SyncOperationTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    [Fact]
    public void SyncTimesOutWhileWriteBackFailsAndFinishesWhenItWorks()
    {
        var cache = daemon.NewCache();
        using var disk = new FailingDisk(daemon.Box.Dir);
        var backing = daemon.NewBacking(cache, path: disk.DiskPath);
        disk.Failing = true;
        NbdIo.Write(backing, 2 << 20);

        var stuck = new RecordingSink();
        SyncBacking.Run(daemon.Client(), stuck, backing.BackingId, timeoutSeconds: 1, passThru: true);
        var e = stuck.SingleError(ErrorTranslator.SyncTimeoutId);
        Assert.Equal(backing.BackingId, e.Target);
        Assert.Equal("OperationTimeout", e.Category);
        Assert.Empty(stuck.Objects);
        Assert.Contains(stuck.Progress, p => !p.Completed && p.Status.Contains("dirty left", StringComparison.Ordinal));
        Assert.True(stuck.Progress[^1].Completed);

        disk.Failing = false;
        var done = new RecordingSink();
        SyncBacking.Run(daemon.Client(), done, backing.BackingId, timeoutSeconds: 0, passThru: true);
        done.AssertNoErrors();
        var clean = done.Single<Backing>();
        Assert.Equal(0, clean.DirtyBytes);
        Assert.Equal(BackingStates.Running, clean.State);
        Assert.Contains("Write back", Assert.Single(done.ShouldProcessCalls).Action);

        var remove = new RecordingSink();
        RemoveBacking.Run(daemon.Client(), remove, backing.BackingId, false, false);
        remove.AssertNoErrors();
    }

    [Fact]
    public void CtrlCEndsASyncAtOnce()
    {
        var cache = daemon.NewCache();
        using var disk = new FailingDisk(daemon.Box.Dir);
        var backing = daemon.NewBacking(cache, path: disk.DiskPath);
        disk.Failing = true;
        NbdIo.Write(backing, 1 << 20);

        using var ctrlC = new CancellationTokenSource();
        var sink = new RecordingSink(stopping: ctrlC.Token) { OnProgress = _ => ctrlC.Cancel() };
        Assert.ThrowsAny<OperationCanceledException>(() => SyncBacking.Run(daemon.Client(), sink, backing.BackingId, 0, passThru: true));
        Assert.Empty(sink.Objects);
        Assert.DoesNotContain(sink.Progress, p => p.Completed);

        disk.Failing = false;
        var remove = new RecordingSink();
        RemoveBacking.Run(daemon.Client(), remove, backing.BackingId, false, false);
        remove.AssertNoErrors();
    }

    [Fact]
    public void ACleanBackingSyncsAtOnceAndWhatIfDoesNothing()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var whatIf = new RecordingSink(shouldProcess: false);
        SyncBacking.Run(daemon.Client(), whatIf, backing.BackingId, 0, passThru: true);
        Assert.Empty(whatIf.Objects);
        Assert.Empty(whatIf.Progress);

        var sink = new RecordingSink();
        SyncBacking.Run(daemon.Client(), sink, backing.BackingId, 0, passThru: true);
        sink.AssertNoErrors();
        Assert.Equal(backing.BackingId, sink.Single<Backing>().BackingId);
    }

    [Fact]
    public void SyncingAMissingBackingIsNotFound()
    {
        var sink = new RecordingSink();
        SyncBacking.Run(daemon.Client(), sink, 4321, 0, passThru: false);
        Assert.Equal(4321, sink.SingleError(ErrorTranslator.BackingNotFoundId).Target);
    }
}
