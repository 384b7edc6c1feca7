using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>
/// Requests inside a backing's cache are counted so that a stop never pulls pmem out from under
/// one (issue 8, defect 3), and stuck ones can be reported. The blocked disk is a memory backing
/// whose reads wait on a gate: the stand-in for a disk that stopped answering.
/// </summary>
public class RequestTrackerTests
{
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(30);

    private sealed class GatedBacking(long size) : IBackingDevice
    {
        private readonly MemoryBackingDevice _inner = new(size);
        public readonly ManualResetEventSlim Open = new(true);
        public readonly SemaphoreSlim Entered = new(0);

        public string Path => _inner.Path;
        public long Size => _inner.Size;

        public void Read(long offset, Span<byte> destination)
        {
            Entered.Release();
            Open.Wait();
            _inner.Read(offset, destination);
        }

        public void Write(long offset, ReadOnlySpan<byte> source) => _inner.Write(offset, source);
        public void Flush() => _inner.Flush();
        public void Zero(long offset, long length, bool keepAllocated) => _inner.Zero(offset, length, keepAllocated);
        public void Dispose() => _inner.Dispose();
    }

    [Fact]
    public void AClosedTrackerRefusesNewRequestsAndWaitsForThoseInPmem()
    {
        var tracker = new RequestTracker();
        var inside = tracker.Enter();
        bool left = false;
        var closing = Task.Run(() => tracker.Close(Liveness, () => { }));
        // On a loaded machine the task may start late: the door is closed once Close has run at all.
        Assert.True(SpinWait.SpinUntil(() => tracker.Closed, Liveness), "close never started");
        Assert.False(closing.Wait(200), "close returned while a request was still in pmem");
        Assert.Throws<CacheStoppedException>(() => tracker.Enter());
        left = true;
        tracker.Exit(ref inside);
        Assert.True(closing.Wait(Liveness) && closing.Result && left);
    }

    [Fact]
    public void ARequestWaitingOnTheBackingDoesNotHoldCloseAndBacksOffWhenItReturns()
    {
        var tracker = new RequestTracker();
        var ticket = tracker.Enter();
        tracker.ToBacking(ref ticket);
        bool released = false;
        Assert.True(tracker.Close(TimeSpan.FromMilliseconds(100), () => released = true));
        Assert.False(released, "space waiters were woken although no request was in pmem");
        Assert.False(tracker.FromBacking(ref ticket));
        tracker.Exit(ref ticket);
        Assert.Equal(0, tracker.Census(TimeSpan.Zero, false).InFlight);
    }

    [Fact]
    public void ARequestStillInPmemAfterTheWaitGetsTheSpaceWaitersWoken()
    {
        var tracker = new RequestTracker();
        var ticket = tracker.Enter();
        bool released = false;
        Assert.False(tracker.Close(TimeSpan.FromMilliseconds(50), () => released = true));
        Assert.True(released);
        tracker.Exit(ref ticket);
    }

    [Fact]
    public void StuckRequestsAreCountedWithTheirAgeAndReportedOnce()
    {
        var tracker = new RequestTracker();
        var a = tracker.Enter();
        var b = tracker.Enter();
        Thread.Sleep(100);
        var census = tracker.Census(TimeSpan.FromMilliseconds(10), report: true);
        Assert.Equal((2, 2, 2), (census.InFlight, census.Stuck, census.NewlyStuck));
        Assert.True(census.OldestSeconds >= 0.09, census.ToString());
        Assert.Equal(0, tracker.Census(TimeSpan.FromMilliseconds(10), report: true).NewlyStuck);
        Assert.Equal(0, tracker.Census(TimeSpan.FromHours(1), report: true).Stuck);
        tracker.Exit(ref a);
        tracker.Exit(ref b);
        Assert.Equal((0, 0), (tracker.Census(TimeSpan.Zero, false).InFlight, tracker.Census(TimeSpan.Zero, false).Stuck));
    }

    [Fact]
    public void StoppingACacheWithAReadHungOnTheBackingFailsTheReadWhenItComesBack()
    {
        const int segShift = 20;
        using var pmem = new MemoryPmem(Geometry.SegmentsOffset + (64L << segShift));
        var backing = new GatedBacking(64 << 20);
        var device = CacheDevice.Format(pmem, segShift);
        var cache = device.Create(new BackingOptions { Path = "mem:gated", CacheSize = 32L << segShift }, backing);
        var data = new byte[4096];
        Random.Shared.NextBytes(data);
        cache.Write(0, data);
        cache.Flush();

        backing.Open.Reset();
        var reading = Task.Run(() => cache.Read(8 << 20, new byte[65536]));
        Assert.True(backing.Entered.Wait(Liveness), "the read never reached the backing");
        Assert.Equal(1, cache.Requests(TimeSpan.Zero).InFlight);

        Assert.True(cache.Stop(TimeSpan.FromMilliseconds(200)), "stop could not prove pmem quiet");
        Assert.Throws<CacheStoppedException>(() => cache.Write(0, data));
        Assert.False(reading.IsCompleted);
        backing.Open.Set();
        var e = Assert.ThrowsAny<Exception>(() => reading.Wait(Liveness));
        Assert.IsType<CacheStoppedException>(e.InnerException);
        Assert.Equal(0, cache.Requests(TimeSpan.Zero).InFlight);

        // The flushed write is still there after a reopen.
        var reopened = CacheDevice.Open(pmem).Attach(0, backing);
        var back = new byte[4096];
        reopened.Read(0, back);
        Assert.Equal(data, back);
        reopened.Stop();
    }
}
