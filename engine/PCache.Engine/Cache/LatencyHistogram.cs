using System.Diagnostics;
using System.Numerics;

namespace PCache.Engine.Cache;

/// <summary>
/// Request latencies in fixed log-linear buckets, HDR style: four per power of two of nanoseconds
/// from 1.024 µs up to 2^37 ns (137 s), one below and one above. A bucket is at most a quarter of
/// its lower bound wide, so a percentile read from the buckets is within 25 % of the truth over
/// nine decades, in 110 counters. Recording is two Interlocked adds on the calling CPU's stripe:
/// no lock, no allocation, any thread.
/// </summary>
public sealed class LatencyHistogram
{
    public const int SubBucketsPerPowerOfTwo = 4;
    public const int MinShift = 10;   // 2^10 ns = 1.024 µs: below it, one bucket
    public const int MaxShift = 37;   // 2^37 ns ≈ 137 s: above it, one bucket
    public const int BucketCount = 1 + (MaxShift - MinShift) * SubBucketsPerPowerOfTwo + 1;

    private const int SumCell = BucketCount;
    private const int Stride = ((BucketCount + 1 + 7) & ~7) + 8; // whole cache lines, plus one line of padding

    // Stopwatch ticks are nanoseconds on Linux; elsewhere convert.
    private static readonly double NanosecondsPerTick = 1e9 / Stopwatch.Frequency;
    private static readonly bool TicksAreNanoseconds = Stopwatch.Frequency == 1_000_000_000;

    private readonly long[] _cells;
    private readonly int _mask;

    public LatencyHistogram()
    {
        int stripes = 1;
        while (stripes < Environment.ProcessorCount) stripes <<= 1;
        _mask = stripes - 1;
        _cells = new long[stripes * Stride];
    }

    /// <summary>Record one latency given in <see cref="Stopwatch"/> ticks.</summary>
    public void RecordTicks(long ticks) =>
        Record(TicksAreNanoseconds ? ticks : (long)(ticks * NanosecondsPerTick));

    /// <summary>Record one latency in nanoseconds (negative values count as 0).</summary>
    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0) nanoseconds = 0;
        int stripe = (Thread.GetCurrentProcessorId() & _mask) * Stride;
        Interlocked.Increment(ref _cells[stripe + BucketOf(nanoseconds)]);
        Interlocked.Add(ref _cells[stripe + SumCell], nanoseconds);
    }

    /// <summary>The bucket a latency falls in: 0 below 1.024 µs, <see cref="BucketCount"/>-1 from 2^37 ns on.</summary>
    public static int BucketOf(long nanoseconds)
    {
        if (nanoseconds < 1L << MinShift) return 0;
        int log2 = 63 - BitOperations.LeadingZeroCount((ulong)nanoseconds);
        if (log2 >= MaxShift) return BucketCount - 1;
        int sub = (int)(nanoseconds >> (log2 - 2)) & (SubBucketsPerPowerOfTwo - 1);
        return 1 + (log2 - MinShift) * SubBucketsPerPowerOfTwo + sub;
    }

    /// <summary>The bucket's exclusive upper bound in nanoseconds; <see cref="long.MaxValue"/> for the last one.</summary>
    public static long UpperBound(int bucket)
    {
        if (bucket <= 0) return 1L << MinShift;
        if (bucket >= BucketCount - 1) return long.MaxValue;
        int log2 = MinShift + (bucket - 1) / SubBucketsPerPowerOfTwo;
        int sub = (bucket - 1) % SubBucketsPerPowerOfTwo;
        return (long)(SubBucketsPerPowerOfTwo + sub + 1) << (log2 - 2);
    }

    /// <summary>The buckets and the sum, added up over the stripes (not atomic across buckets: a scrape may see a record half done).</summary>
    public LatencySnapshot Snapshot()
    {
        var buckets = new long[BucketCount];
        long sum = 0;
        for (int s = 0; s <= _mask; s++)
        {
            int stripe = s * Stride;
            for (int b = 0; b < BucketCount; b++) buckets[b] += Volatile.Read(ref _cells[stripe + b]);
            sum += Volatile.Read(ref _cells[stripe + SumCell]);
        }
        return new LatencySnapshot(buckets, sum);
    }

    public void Reset()
    {
        for (int i = 0; i < _cells.Length; i++) Interlocked.Exchange(ref _cells[i], 0);
    }
}

/// <summary>A histogram's buckets (counts per bucket, not cumulative) and the sum of its latencies.</summary>
public sealed class LatencySnapshot(long[] buckets, long sumNanoseconds)
{
    public static LatencySnapshot Empty() => new(new long[LatencyHistogram.BucketCount], 0);

    public long[] Buckets { get; } = buckets;

    public long SumNanoseconds { get; private set; } = sumNanoseconds;

    public long Count
    {
        get
        {
            long n = 0;
            foreach (long b in Buckets) n += b;
            return n;
        }
    }

    /// <summary>Adds another snapshot into this one (a cache's total over its backings).</summary>
    public void Add(LatencySnapshot other)
    {
        for (int i = 0; i < Buckets.Length; i++) Buckets[i] += other.Buckets[i];
        SumNanoseconds += other.SumNanoseconds;
    }

    /// <summary>
    /// The latency at or below which a <paramref name="quantile"/> share of the requests finished, as
    /// the upper bound of the bucket that holds it (an over- rather than an under-estimate); 0 when empty.
    /// Beyond the last bound the answer is 2^37 ns, the largest the buckets can tell.
    /// </summary>
    public long PercentileNanoseconds(double quantile)
    {
        long count = Count;
        if (count == 0) return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(quantile * count));
        long seen = 0;
        for (int i = 0; i < Buckets.Length; i++)
        {
            seen += Buckets[i];
            if (seen >= rank)
                return i == Buckets.Length - 1 ? 1L << LatencyHistogram.MaxShift : LatencyHistogram.UpperBound(i);
        }
        return 1L << LatencyHistogram.MaxShift;
    }
}
