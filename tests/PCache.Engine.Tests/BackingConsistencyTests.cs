using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// With write-back running, pmem and the disk lose power at the same instant (any store or fence of
/// any thread may be the last); the disk
/// alone must then hold every write of flush epochs 1..k and some subset of epoch k+1 (later
/// writes to the same sector winning), never a write of epoch k+2 without all of epoch k+1.
/// </summary>
public class BackingConsistencyTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;

    [Fact]
    public void Crash_stand_in_backing_always_holds_a_prefix_of_flush_epochs()
    {
        int stops = Environment.GetEnvironmentVariable("PCACHE_LONG") == "1" ? 20_000 : 520;
        var rng = new Random(42);
        long backing = 4 << 20;
        int maxEpochSeen = 0, writebackSeen = 0;
        for (int stop = 0; stop < stops; stop++)
        {
            using var rig = new Rig(segments: 8, backingSize: backing, dataCrc: rng.Next(2) == 0, gcPercent: rng.Next(0, 91), seed: stop);
            var history = new Dictionary<long, List<(int epoch, long version)>>();
            long version = 1;
            int epoch = 1;
            rig.Media.CutAfterEvents(rng.Next(100, 8000));
            for (int i = 0; i < 2000 && !rig.Media.IsCut; i++)
            {
                int kind = rng.Next(16);
                long lba = rng.Next(0, 2048);
                int n = rng.Next(1, 32);
                if (kind < 2)
                {
                    rig.Cache.Flush();
                    if (!rig.Media.IsCut) epoch++;
                    if (rng.Next(24) == 0) Thread.Sleep(1); // let write-back catch up sometimes
                    continue;
                }
                long v = kind == 2 ? 0 : version++;
                try
                {
                    if (kind == 2) rig.Cache.Discard(lba * S, n * S);
                    else
                    {
                        var data = new byte[n * S];
                        for (int k = 0; k < n; k++) SectorModel.Fill(data.AsSpan(k * S, S), v, lba + k);
                        rig.Cache.Write(lba * S, data, fua: kind == 3);
                    }
                }
                catch (IOException) when (rig.Media.IsCut)
                {
                    // Stores after the cut never reach the stand-in, so write-back, still running,
                    // can meet a kset it never got and give up; a writer short of space then fails.
                    // The request was cut short: it may have landed in part, like any unflushed one.
                }
                for (int k = 0; k < n; k++)
                {
                    if (!history.TryGetValue(lba + k, out var h)) history[lba + k] = h = new();
                    h.Add((epoch, v));
                }
            }
            if (rig.Cache.GetStatus().Counters["writeback_ksets"] > 0) writebackSeen++;
            var disk = rig.PowerCut().DurableImage();
            rig.Cache.Abandon();
            int k0 = FindPrefixEpoch(disk, history, epoch);
            Assert.True(k0 >= 0, $"stop {stop}: the backing is not a prefix of flush epochs plus part of the next");
            maxEpochSeen = Math.Max(maxEpochSeen, k0);
        }
        output.WriteLine($"{stops} stops; write-back had run in {writebackSeen}; deepest complete epoch {maxEpochSeen}");
        Assert.True(writebackSeen > stops / 4, "the stops must catch write-back at work");
    }

    /// <summary>The largest k for which the image is epochs 1..k plus a subset of k+1, or -1.</summary>
    private static int FindPrefixEpoch(byte[] disk, Dictionary<long, List<(int epoch, long version)>> history, int maxEpoch)
    {
        var agree = new int[maxEpoch + 1];
        var valid = new bool[maxEpoch + 1];
        foreach (var (lba, h) in history)
        {
            long o = SectorModel.Identify(disk.AsSpan((int)(lba * S), S), lba);
            if (o < 0) return -1;
            Array.Clear(valid);
            // The sector's value after epochs 1..k is a step function of k.
            long value = 0;
            int from = 0;
            foreach (var (e, v) in h)
            {
                if (e > from)
                {
                    if (value == o) for (int k = from; k < Math.Min(e, maxEpoch + 1); k++) valid[k] = true;
                    from = e;
                }
                value = v;
                if (v == o && e - 1 >= 0 && e - 1 <= maxEpoch) valid[e - 1] = true; // part of epoch k+1 = e
            }
            if (value == o) for (int k = from; k <= maxEpoch; k++) valid[k] = true;
            for (int k = 0; k <= maxEpoch; k++) if (valid[k]) agree[k]++;
        }
        for (int k = maxEpoch; k >= 0; k--) if (agree[k] == history.Count) return k;
        return -1;
    }
}
