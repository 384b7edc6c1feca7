using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// Power loss, simulated: pmem is the crash-simulating media (a cut may fall between a store and
/// its fence; unfenced stores survive whole, torn at 8-byte words, by evicted line, as a prefix,
/// or not at all; or, for a non-DAX cache device, 4 KiB pages that persist in any order unless
/// synced) and the backing is a disk with a volatile write cache on the same power. Random
/// workloads with write-back and GC running are cut at random points, reopened and checked.
/// </summary>
public class PowerLossTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;

    /// <summary>
    /// PCACHE_LONG=1 runs the soak instead of the CI amount: 10,000 cuts for each of the eight
    /// single-threaded cases and 7,000 for each of the three concurrent ones, 101,000 in all
    /// (the rows marked nonDaxPages run on the non-DAX page model).
    /// </summary>
    private static bool Long => Environment.GetEnvironmentVariable("PCACHE_LONG") == "1";

    private static int Cuts(int ci, int soak) => Long ? soak : ci;

    private static Pmem.CrashSimMedia.Medium Medium(bool nonDaxPages) => nonDaxPages ? Pmem.CrashSimMedia.Medium.Pages : Pmem.CrashSimMedia.Medium.Pmem;

    private static long s_cutsThisRun;

    [Theory]
    [InlineData(1, false, 70)]
    [InlineData(2, true, 0)]
    [InlineData(3, false, 90)]
    [InlineData(4, true, 30)]
    [InlineData(5, false, 70, true)]
    // Non-DAX cache device (a file on a disk, an SSD): 4 KiB pages persist in any order unless synced.
    [InlineData(6, false, 70, false, true)]
    [InlineData(7, true, 30, false, true)]
    [InlineData(8, false, 90, true, true)]
    public void Crash_stand_in_every_acknowledged_durable_write_survives(int seed, bool dataCrc, int gcPercent, bool persistOnWrite = false, bool nonDaxPages = false)
    {
        int cuts = Cuts(210, 10_000);
        var rng = new Random(seed);
        long backing = 12 << 20;
        using var rig = new Rig(segments: 8, backingSize: backing, dataCrc: dataCrc, gcPercent: gcPercent, persistOnWrite: persistOnWrite, seed: seed, medium: Medium(nonDaxPages));
        var model = new SectorModel(backing / S);
        long ops = 0;
        var outcomes = new int[Enum.GetValues<Pmem.CrashSimMedia.Outcome>().Length];
        for (int cut = 0; cut < cuts; cut++)
        {
            string context = $"seed {seed} cut {cut}";
            // Every few cuts a long run, so GC reclaims and reuses segments within one incarnation.
            bool longRun = cut % 16 == 0;
            rig.Media.CutAfterEvents(longRun ? rng.Next(4000, 40000) : rng.Next(1, 1200));
            int budget = longRun ? 3000 : rng.Next(1, 120);
            for (int i = 0; i < budget && !rig.Media.IsCut; i++)
            {
                try
                {
                    Step(rig, model, rng, persistOnWrite, context);
                }
                catch (IOException) when (rig.Media.IsCut)
                {
                    // Stores after the cut never reach the stand-in, so write-back, still running,
                    // can meet a kset it never got and give up; a writer short of space then fails.
                }
                ops++;
            }
            rig.Crash(rng);
            outcomes[(int)rig.Media.LastOutcome]++;
            model.VerifyAfterCrash(rig.Cache, $"{context} ({rig.Media.LastOutcome})");
            if (cut % 8 == 7) DrainAndCheckBacking(rig, model, context);
        }
        Report(output, cuts, $"{ops} operations; outcomes {Outcomes(outcomes)}; seed {seed}");
    }

    /// <summary>
    /// Four threads write, read, discard, write zeroes and flush (each in its own stripes of the
    /// same 4 MiB windows, so they share ksets, data heads and log segments) while write-back and
    /// GC run; the power fails at a random store or fence of any thread, or from outside at a
    /// random moment. Every sector must then read as a version the contract allows: a write
    /// acknowledged before a completed FLUSH (or with FUA) exactly, nothing older, and a later
    /// unflushed write either whole or not at all.
    /// </summary>
    [Theory]
    [InlineData(21, false, 60)]
    [InlineData(22, true, 85)]
    [InlineData(23, false, 60, true)]
    public void Crash_stand_in_cut_during_concurrent_writes_reads_discards_and_flushes(int seed, bool dataCrc, int gcPercent, bool nonDaxPages = false)
    {
        const int threads = 4;
        int cuts = Cuts(120, 7_000);
        var rng = new Random(seed);
        long backing = 8 << 20;
        using var rig = new Rig(segments: 8, backingSize: backing, dataCrc: dataCrc, gcPercent: gcPercent, seed: seed, medium: Medium(nonDaxPages));
        var models = Enumerable.Range(0, threads).Select(_ => new SectorModel(backing / S)).ToArray();
        long ops = 0;
        int fromOutside = 0;
        for (int cut = 0; cut < cuts; cut++)
        {
            string context = $"seed {seed} cut {cut}";
            bool outside = rng.Next(3) == 0;
            if (!outside) rig.Media.CutAfterEvents(cut % 8 == 0 ? rng.Next(4000, 30000) : rng.Next(1, 3000));
            var errors = new Exception?[threads];
            var done = new long[threads];
            var cache = rig.Cache;
            var workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                int me = t;
                var trng = new Random(rng.Next());
                workers[t] = new Thread(() =>
                {
                    try
                    {
                        for (int i = 0; i < 4000 && !rig.Media.IsCut; i++)
                        {
                            ConcurrentStep(rig, cache, models[me], trng, me, threads);
                            done[me]++;
                        }
                    }
                    catch (Exception e) when (!(e is IOException && rig.Media.IsCut)) { errors[me] = e; }
                    catch (IOException) { } // the cache stops under requests the cut interrupted
                }) { Name = $"power-loss worker {t}" };
            }
            foreach (var w in workers) w.Start();
            if (outside)
            {
                Thread.Sleep(rng.Next(0, 20));
                rig.PowerCut();
                fromOutside++;
            }
            // A request the cut caught waiting for space would wait for good: stopping the cache
            // releases it, as it does for the daemon.
            foreach (var w in workers) w.Join(TimeSpan.FromSeconds(2));
            rig.PowerCut();
            cache.Abandon();
            foreach (var w in workers) Assert.True(w.Join(TimeSpan.FromSeconds(60)), $"{context}: a worker did not return after the cache stopped");
            foreach (var e in errors) if (e is not null) throw new Xunit.Sdk.XunitException($"{context}: {e}");
            ops += done.Sum();
            rig.PowerOn(rng);
            foreach (var m in models) m.VerifyAfterCrash(rig.Cache, $"{context} ({rig.Media.LastOutcome})");
            if (cut % 8 == 7)
                foreach (var m in models) DrainAndCheckBacking(rig, m, context);
        }
        Report(output, cuts, $"{ops} operations by {threads} threads; {fromOutside} cuts from outside; seed {seed}");
    }

    /// <summary>A random operation on this thread's stripes (64 sectors each, every threads-th one).</summary>
    private static void ConcurrentStep(Rig rig, Cache.BackingCache cache, SectorModel model, Random rng, int me, int threads)
    {
        const int stripe = 64;
        int stripesPerThread = (int)(model.Sectors / stripe / threads);
        // Most requests go to a few hot stripes, so writes keep overwriting each other.
        int k = rng.Next(2) == 0 ? rng.Next(4) : rng.Next(stripesPerThread);
        long first = ((long)k * threads + me) * stripe;
        int at = rng.Next(stripe);
        long lba = first + at;
        int n = rng.Next(1, stripe - at + 1);
        int kind = rng.Next(20);
        if (kind < 10)
        {
            bool fua = kind == 0;
            var data = model.MakeWrite(lba, n, out long v);
            // Cut short after the cut, a request may still have landed in part: an unflushed write.
            try { cache.Write(lba * S, data, fua); }
            catch (IOException) when (rig.Media.IsCut) { model.Wrote(lba, n, v, durable: false); throw; }
            model.Wrote(lba, n, v, durable: fua && !rig.Media.IsCut);
        }
        else if (kind < 12)
        {
            cache.Flush();
            if (!rig.Media.IsCut) model.Flushed();
        }
        else if (kind < 13)
        {
            try { cache.Discard(lba * S, n * S); }
            finally { model.Wrote(lba, n, 0, durable: false); }
        }
        else if (kind < 14)
        {
            bool fua = rng.Next(2) == 0;
            try { cache.WriteZeroes(lba * S, n * S, noHole: rng.Next(2) == 0, fua); }
            catch (IOException) when (rig.Media.IsCut) { model.Wrote(lba, n, 0, durable: false); throw; }
            model.Wrote(lba, n, 0, durable: fua && !rig.Media.IsCut);
        }
        else
        {
            var buf = new byte[n * S];
            cache.Read(lba * S, buf);
            if (rig.Media.IsCut) return; // a read that overlapped the cut may see stores that never landed
            for (int i = 0; i < n; i++)
            {
                long got = SectorModel.Identify(buf.AsSpan(i * S, S), lba + i);
                if (got != model.Latest(lba + i))
                    throw new Xunit.Sdk.XunitException($"thread {me}: read of sector {lba + i} returned version {got}, expected {model.Latest(lba + i)}");
            }
        }
    }

    private static void DrainAndCheckBacking(Rig rig, SectorModel model, string context)
    {
        rig.Cache.Drain();
        model.VerifyBacking(rig.Backing, context);
    }

    private static string Outcomes(int[] counts) =>
        string.Join(", ", Enum.GetValues<Pmem.CrashSimMedia.Outcome>().Select(o => $"{o} {counts[(int)o]}"));

    /// <summary>The count of cuts goes to the test's output (shown by the console logger and kept in the TRX) and, for a soak, to stdout.</summary>
    private static void Report(ITestOutputHelper output, int cuts, string detail)
    {
        long total = Interlocked.Add(ref s_cutsThisRun, cuts);
        string line = $"power-loss: {cuts} simulated cuts passed ({detail}); {total} cuts in this run so far";
        output.WriteLine(line);
        if (Long) Console.WriteLine(line);
    }

    /// <summary>One random operation; what the model learns depends on whether power was still on when it returned.</summary>
    private static void Step(Rig rig, SectorModel model, Random rng, bool persistOnWrite, string context)
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
            try { cache.Write(lba * S, data, fua); }
            catch (IOException) when (rig.Media.IsCut) { model.Wrote(lba, n, v, durable: false); throw; }
            model.Wrote(lba, n, v, durable: (fua || persistOnWrite) && !rig.Media.IsCut);
        }
        else if (kind < 13)
        {
            cache.Flush();
            if (!rig.Media.IsCut) model.Flushed();
        }
        else if (kind < 14)
        {
            try { cache.Discard(lba * S, n * S); }
            catch (IOException) when (rig.Media.IsCut) { model.Wrote(lba, n, 0, durable: false); throw; }
            model.Wrote(lba, n, 0, durable: persistOnWrite && !rig.Media.IsCut);
        }
        else if (kind < 15)
        {
            bool fua = rng.Next(2) == 0;
            try { cache.WriteZeroes(lba * S, n * S, noHole: rng.Next(2) == 0, fua); }
            catch (IOException) when (rig.Media.IsCut) { model.Wrote(lba, n, 0, durable: false); throw; }
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
                    throw new Xunit.Sdk.XunitException($"{context}: read of sector {lba + k} returned version {got}, expected {model.Latest(lba + k)}");
            }
        }
    }
}
