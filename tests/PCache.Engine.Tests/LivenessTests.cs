using System.Diagnostics;
using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Pmem;
using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// Liveness on a full cache: no request may wait forever. Bounds are generous (a stuck request is
/// a hang, not a slow disk); nothing here measures speed.
/// </summary>
public class LivenessTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="op"/> in a loop on its own thread and publishes how long the current call has run.</summary>
    private sealed class Looper
    {
        private long _since; // Stopwatch ticks at the start of the running call, 0 when idle
        private readonly Thread _thread;
        public volatile bool Stop;
        public long Ops;
        public Exception? Error;

        public Looper(string name, Action<Random> op, int seed)
        {
            _thread = new Thread(() =>
            {
                var rng = new Random(seed);
                try
                {
                    while (!Stop)
                    {
                        Volatile.Write(ref _since, Stopwatch.GetTimestamp());
                        op(rng);
                        Volatile.Write(ref _since, 0);
                        Ops++;
                    }
                }
                catch (Exception e) { Error = e; }
            }) { IsBackground = true, Name = name };
            _thread.Start();
        }

        public string Name => _thread.Name!;

        public TimeSpan Waiting
        {
            get
            {
                long since = Volatile.Read(ref _since);
                return since == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(since);
            }
        }

        public bool Join(TimeSpan t) => _thread.Join(t);
    }

    private static void Bounded(string what, Action action)
    {
        var task = Task.Run(action);
        if (!task.Wait(Bound)) throw new Xunit.Sdk.XunitException($"{what} still waiting after {Bound.TotalSeconds} s");
    }

    [Fact]
    public void Writer_and_trimmer_on_a_full_cache_over_a_slow_backing_never_hang_OnCrashSimPmem_SlowMemoryBacking()
    {
        const long backingSize = 64 << 20;
        using var media = new CrashSimMedia(Layout.Geometry.SegmentsOffset + (8L << Rig.SegShift));
        var disk = new MemoryBackingDevice(backingSize);
        var device = CacheDevice.Format(media.Attach(), Rig.SegShift);
        var cache = device.Create(new BackingOptions { Path = "mem:slow", CacheSize = 8L << Rig.SegShift, GcPercent = 70 },
            new SlowBackingDevice(disk, flushMs: 2));
        bool finished = false;
        try
        {
            const int blocks = (int)(backingSize / 2 / 4096); // the writer's half; the trimmer owns the other
            var latest = new long[blocks];
            var data = new byte[4096];
            long version = 0;
            var writer = new Looper("writer", rng =>
            {
                int b = rng.Next(blocks);
                long v = ++version;
                for (int k = 0; k < 8; k++) SectorModel.Fill(data.AsSpan(k * S, S), v, b * 8L + k);
                cache.Write(b * 4096L, data);
                latest[b] = v;
            }, 1);
            var trimmer = new Looper("trimmer", rng =>
            {
                long at = backingSize / 2 + rng.Next(blocks - 3) * 4096L;
                cache.Discard(at, 4096L * rng.Next(1, 4));
            }, 2);
            var loopers = new[] { writer, trimmer };
            var run = Stopwatch.StartNew();
            while (run.Elapsed < TimeSpan.FromSeconds(4))
            {
                Thread.Sleep(50);
                foreach (var l in loopers)
                    if (l.Waiting > Bound) throw new Xunit.Sdk.XunitException($"{l.Name}: one request has waited {l.Waiting.TotalSeconds:F0} s");
            }
            foreach (var l in loopers) l.Stop = true;
            foreach (var l in loopers)
            {
                Assert.True(l.Join(Bound), $"{l.Name}: a request was still waiting {Bound.TotalSeconds} s after the load stopped ({cache.Pool.Used} of {cache.Pool.Count} segments used)");
                Assert.Null(l.Error);
            }
            output.WriteLine($"{writer.Ops} writes, {trimmer.Ops} trims; writer waits {cache.Stats.Snapshot()["writer_waits"]}");
            Assert.True(cache.Stats.Snapshot()["writer_waits"] > 0, "the cache must have been full");
            Bounded("FLUSH after the load", cache.Flush);
            Bounded("drain after the load", () => cache.Drain());
            var buf = new byte[4096];
            for (int b = 0; b < blocks; b++)
            {
                if (latest[b] == 0) continue;
                cache.Read(b * 4096L, buf);
                for (int k = 0; k < 8; k++)
                    Assert.Equal(latest[b], SectorModel.Identify(buf.AsSpan(k * S, S), b * 8L + k));
            }
            finished = true;
        }
        finally
        {
            // After a hang the workers cannot be joined; leave them (background threads) to the process.
            if (finished) cache.Abandon();
        }
    }
}
