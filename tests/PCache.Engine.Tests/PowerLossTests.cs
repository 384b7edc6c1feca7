using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// Power loss, simulated: pmem is the crash-simulating media (each unfenced 64-byte line kept or
/// lost at random) and the backing is a disk with a volatile write cache. Random workloads with
/// write-back and GC running are cut at random store counts, reopened and checked.
/// </summary>
public class PowerLossTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;

    /// <summary>PCACHE_LONG=1 runs the 100,000-cut soak instead of the CI amount.</summary>
    private static int Cuts(int ci) => Environment.GetEnvironmentVariable("PCACHE_LONG") == "1" ? 100_000 : ci;

    [Theory]
    [InlineData(1, false, 70)]
    [InlineData(2, true, 0)]
    [InlineData(3, false, 90)]
    [InlineData(4, true, 30)]
    [InlineData(5, false, 70, true)]
    public void Crash_stand_in_every_acknowledged_durable_write_survives(int seed, bool dataCrc, int gcPercent, bool persistOnWrite = false)
    {
        int cuts = Cuts(210);
        var rng = new Random(seed);
        long backing = 12 << 20;
        using var rig = new Rig(segments: 8, backingSize: backing, dataCrc: dataCrc, gcPercent: gcPercent, persistOnWrite: persistOnWrite);
        var model = new SectorModel(backing / S);
        long ops = 0;
        var tWork = new System.Diagnostics.Stopwatch(); var tCrash = new System.Diagnostics.Stopwatch(); var tVerify = new System.Diagnostics.Stopwatch();
        for (int cut = 0; cut < cuts; cut++)
        {
            // Every few cuts a long run, so GC reclaims and reuses segments within one incarnation.
            bool longRun = cut % 16 == 0;
            rig.Media.CutAfterStores(longRun ? rng.Next(2000, 20000) : rng.Next(1, 600));
            int budget = longRun ? 3000 : rng.Next(1, 120);
            tWork.Start();
            for (int i = 0; i < budget && !rig.Media.IsCut; i++)
            {
                Step(rig, model, rng, persistOnWrite);
                ops++;
            }
            tWork.Stop(); tCrash.Start();
            rig.Crash(rng);
            tCrash.Stop(); tVerify.Start();
            model.VerifyAfterCrash(rig.Cache, $"seed {seed} cut {cut}");
            tVerify.Stop();
        }
        output.WriteLine($"work {tWork.ElapsedMilliseconds} crash {tCrash.ElapsedMilliseconds} verify {tVerify.ElapsedMilliseconds}");
        output.WriteLine($"{cuts} power cuts, {ops} operations, all acknowledged durable writes intact");
        if (cuts >= 100_000) Console.WriteLine($"power-loss soak: {cuts} cuts passed (seed {seed})");
    }

    /// <summary>One random operation; what the model learns depends on whether power was still on when it returned.</summary>
    private static void Step(Rig rig, SectorModel model, Random rng, bool persistOnWrite)
    {
        var cache = rig.Cache;
        long lba = rng.Next(0, (int)model.Sectors - 64);
        // Bias towards a hot region so writes overlap each other.
        if (rng.Next(2) == 0) lba = rng.Next(0, 512);
        int n = rng.Next(1, 64);
        int kind = rng.Next(20);
        if (kind < 11)
        {
            bool fua = kind == 0;
            var data = model.MakeWrite(lba, n, out long v);
            cache.Write(lba * S, data, fua);
            model.Wrote(lba, n, v, durable: (fua || persistOnWrite) && !rig.Media.IsCut);
        }
        else if (kind < 13)
        {
            cache.Flush();
            if (!rig.Media.IsCut) model.Flushed();
        }
        else if (kind < 14)
        {
            cache.Discard(lba * S, n * S);
            model.Wrote(lba, n, 0, durable: persistOnWrite && !rig.Media.IsCut);
        }
        else if (kind < 15)
        {
            bool fua = rng.Next(2) == 0;
            cache.WriteZeroes(lba * S, n * S, noHole: rng.Next(2) == 0, fua);
            model.Wrote(lba, n, 0, durable: (fua || persistOnWrite) && !rig.Media.IsCut);
        }
        else
        {
            var buf = new byte[n * S];
            cache.Read(lba * S, buf);
            if (rig.Media.IsCut) return; // fills after the cut are not stored
            for (int k = 0; k < n; k++)
            {
                long got = SectorModel.Identify(buf.AsSpan(k * S, S), lba + k);
                if (got != model.Latest(lba + k))
                    throw new Xunit.Sdk.XunitException($"read of sector {lba + k} returned version {got}, expected {model.Latest(lba + k)}");
            }
        }
    }
}
