using PCache.Engine.Cache;

namespace PCache.Engine.Tests;

/// <summary>The latency histograms behind stat's percentiles and the metrics endpoint's histogram families.</summary>
public sealed class LatencyHistogramTests
{
    [Fact]
    public void EveryLatencyFallsInTheBucketWhoseBoundsHoldItAndBucketsAreAtMostAQuarterWide()
    {
        Assert.Equal(0, LatencyHistogram.BucketOf(0));
        Assert.Equal(0, LatencyHistogram.BucketOf(1023));
        Assert.Equal(LatencyHistogram.BucketCount - 1, LatencyHistogram.BucketOf(1L << 37));
        Assert.Equal(LatencyHistogram.BucketCount - 1, LatencyHistogram.BucketOf(long.MaxValue));
        long previous = 0;
        for (int b = 0; b < LatencyHistogram.BucketCount - 1; b++)
        {
            long upper = LatencyHistogram.UpperBound(b);
            Assert.True(upper > previous, $"bucket {b}: bounds must grow");
            if (b > 0) Assert.True(upper - previous <= previous / 4, $"bucket {b} [{previous}, {upper}) is wider than a quarter of its lower bound");
            Assert.Equal(b, LatencyHistogram.BucketOf(previous == 0 ? 0 : previous));
            Assert.Equal(b, LatencyHistogram.BucketOf(upper - 1));
            previous = upper;
        }
        Assert.Equal(1L << 37, previous);
    }

    [Fact]
    public void PercentilesComeFromTheBucketsAndOverstateByAtMostAQuarter()
    {
        var h = new LatencyHistogram();
        // 1000 requests: 1..1000 µs.
        for (int i = 1; i <= 1000; i++) h.Record(i * 1000L);
        var s = h.Snapshot();
        Assert.Equal(1000, s.Count);
        Assert.Equal(Enumerable.Range(1, 1000).Sum(i => i * 1000L), s.SumNanoseconds);
        foreach (var (q, truth) in new[] { (0.5, 500_000L), (0.99, 990_000L), (0.999, 999_000L) })
        {
            long p = s.PercentileNanoseconds(q);
            Assert.InRange(p, truth, truth + truth / 4);
        }
        Assert.Equal(0, LatencySnapshot.Empty().PercentileNanoseconds(0.5));
    }

    [Fact]
    public void RecordingAllocatesNothing()
    {
        var h = new LatencyHistogram();
        var set = new RequestLatencies();
        h.Record(1);
        set.RecordTicks(LatencyOp.Write, 1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            h.Record(i * 7919L);
            h.RecordTicks(i);
            set.RecordTicks((LatencyOp)(i % RequestLatencies.Ops.Length), i * 131L);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void ConcurrentRecordsAreAllCountedAndResetClearsThem()
    {
        var h = new LatencyHistogram();
        const int threads = 4, each = 50_000;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int i = 0; i < each; i++) h.Record(2048 + t);
        });
        var s = h.Snapshot();
        Assert.Equal(threads * each, s.Count);
        Assert.Equal(threads * each, s.Buckets[LatencyHistogram.BucketOf(2048)]);
        h.Reset();
        Assert.Equal(0, h.Snapshot().Count);
        Assert.Equal(0, h.Snapshot().SumNanoseconds);
    }
}
