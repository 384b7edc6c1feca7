using PCache.Core;

namespace PCache.Module.Tests;

public sealed class StatSamplerTests
{
    private static Stat At(int id, long readBytes, long writeBytes, long hitBytes = 0, long missBytes = 0, long writeRequests = 0) => new()
    {
        BackingId = id, ReadBytes = readBytes, WriteBytes = writeBytes, ReadHitBytes = hitBytes, ReadMissBytes = missBytes,
        WriteRequests = writeRequests, Timestamp = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), DirtyBytes = 42,
    };

    [Fact]
    public void TheFirstSnapshotOnlySetsTheBaseline() =>
        Assert.Empty(new StatSampler().Next([At(0, 100, 100)], 10));

    [Fact]
    public void RatesAreDeltasOverTheMeasuredInterval()
    {
        var sampler = new StatSampler();
        sampler.Next([At(0, 1000, 0, writeRequests: 10)], 10.0);
        var s = Assert.Single(sampler.Next([At(0, 5000, 8000, hitBytes: 3000, missBytes: 1000, writeRequests: 30)], 12.0));
        Assert.Equal(2.0, s.IntervalSeconds);
        Assert.Equal(2000.0, s.ReadBytesPerSecond);
        Assert.Equal(4000.0, s.WriteBytesPerSecond);
        Assert.Equal(10.0, s.WriteRequestsPerSecond);
        Assert.Equal(0.75, s.ReadHitRatio);
        Assert.Equal(42, s.DirtyBytes);
    }

    [Fact]
    public void ACounterThatWentDownWasClearedAndCountsFromZero()
    {
        var sampler = new StatSampler();
        sampler.Next([At(0, 10_000, 0)], 0);
        Assert.Equal(500.0, Assert.Single(sampler.Next([At(0, 1000, 0)], 2)).ReadBytesPerSecond);
    }

    [Fact]
    public void NoReadsMeansHitRatioZero()
    {
        var sampler = new StatSampler();
        sampler.Next([At(0, 0, 0)], 0);
        Assert.Equal(0.0, Assert.Single(sampler.Next([At(0, 0, 0)], 1)).ReadHitRatio);
    }

    [Fact]
    public void BackingsThatAppearStartWithABaselineAndOnesThatGoAreForgotten()
    {
        var sampler = new StatSampler();
        sampler.Next([At(0, 0, 0)], 0);
        Assert.Equal([0], sampler.Next([At(0, 1, 1), At(1, 5, 5)], 1).Select(s => s.BackingId));
        Assert.Equal([1], sampler.Next([At(1, 6, 6)], 2).Select(s => s.BackingId));
        Assert.Empty(sampler.Next([At(0, 9, 9)], 3));
    }
}
