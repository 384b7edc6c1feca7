using System.Diagnostics;

namespace PCache.Bench;

/// <summary>Per-operation latencies of one run, in Stopwatch ticks, preallocated so timing allocates nothing.</summary>
internal sealed class Latency(int capacity)
{
    private readonly long[] _ticks = new long[capacity];
    private int _count;

    public void Add(long ticks) => _ticks[_count++] = ticks;

    public double PercentileMicros(double p)
    {
        var sorted = _ticks.AsSpan(0, _count).ToArray();
        Array.Sort(sorted);
        int i = Math.Clamp((int)Math.Ceiling(p / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[i] * 1e6 / Stopwatch.Frequency;
    }

    public static Latency Merge(IEnumerable<Latency> parts)
    {
        var list = parts.ToList();
        var all = new Latency(list.Sum(l => l._count));
        foreach (var l in list)
            for (int i = 0; i < l._count; i++) all.Add(l._ticks[i]);
        return all;
    }
}
