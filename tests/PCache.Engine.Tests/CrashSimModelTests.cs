using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>
/// The crash-simulating pmem (the stand-in for a power cut) models what pmem checkers model:
/// a cut between a store and its fence, 8-byte tearing, early eviction, per-thread fences.
/// </summary>
public class CrashSimModelTests
{
    private static byte[] Pattern(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)(seed + i * 7 + 1)).ToArray();

    private static byte[] Read(CrashSimMedia media, long offset, int length) => media.Attach().Span(offset, length).ToArray();

    [Fact]
    public void A_wide_unfenced_store_can_tear_at_8_byte_words_and_never_finer()
    {
        var next = Pattern(256, 3);
        int torn = 0, whole = 0, none = 0;
        for (int seed = 0; seed < 200; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            pmem.Store(512, next);
            media.Cut();
            media.Recover(new Random(seed));
            var got = Read(media, 512, 256);
            int kept = 0;
            for (int w = 0; w < 256; w += 8)
            {
                var word = got.AsSpan(w, 8);
                if (word.SequenceEqual(next.AsSpan(w, 8))) kept++;
                else Assert.True(word.IndexOfAnyExcept((byte)0) < 0, $"seed {seed}: word {w / 8} is neither old nor new");
            }
            if (kept == 32) whole++;
            else if (kept == 0) none++;
            else torn++;
        }
        Assert.True(torn > 0 && whole > 0 && none > 0, $"torn {torn}, whole {whole}, none {none}: every outcome must occur");
    }

    [Fact]
    public void A_cut_can_fall_between_a_store_and_its_fence()
    {
        int kept = 0, lost = 0;
        for (int seed = 0; seed < 64; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            media.CutAfterEvents(1); // the store happens, the fence after it does not
            pmem.Store(0, Pattern(64, 9));
            Assert.False(media.IsCut);
            pmem.Fence();
            Assert.True(media.IsCut);
            media.Recover(new Random(seed));
            var line = Read(media, 0, 64);
            if (line.SequenceEqual(Pattern(64, 9))) kept++;
            else if (line.All(b => b == 0)) lost++;
        }
        Assert.True(kept > 0 && lost > 0, $"kept {kept}, lost {lost}: the unfenced store must be able to go either way");
    }

    [Fact]
    public void An_older_unfenced_store_never_overrides_a_newer_fenced_one_of_another_thread()
    {
        for (int seed = 0; seed < 64; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            var older = Pattern(64, 1);
            var newer = Pattern(64, 2);
            pmem.Store(64, older);                                   // this thread: not fenced
            var t = new Thread(() => { pmem.Store(64, newer); pmem.Fence(); });
            t.Start();
            t.Join();
            media.Cut();
            media.Recover(new Random(seed));
            Assert.Equal(newer, Read(media, 64, 64));
        }
    }

    [Fact]
    public void The_disk_hook_runs_once_at_the_instant_of_the_cut()
    {
        using var media = new CrashSimMedia(4096);
        var pmem = media.Attach();
        int calls = 0;
        long storesAtCut = -1;
        media.PowerFailed = () => { calls++; storesAtCut = media.Stores; };
        media.CutAfterEvents(5);
        for (int i = 0; i < 10; i++)
        {
            pmem.Store(i * 8, Pattern(8, (byte)i));
            pmem.Fence();
        }
        media.Cut();
        Assert.Equal(1, calls);
        Assert.Equal(3, storesAtCut); // store, fence, store, fence, store: the next fence is the cut
    }

    [Fact]
    public void The_same_seed_replays_the_same_crash_image()
    {
        byte[] Run(int seed)
        {
            using var media = new CrashSimMedia(8192);
            var pmem = media.Attach();
            var rng = new Random(1);
            for (int i = 0; i < 40; i++)
            {
                pmem.Store(rng.Next(0, 8192 - 300) & ~7, Pattern(rng.Next(1, 300), (byte)i));
                if (i % 7 == 0) pmem.Fence();
            }
            media.Cut();
            media.Recover(new Random(seed));
            return Read(media, 0, 8192);
        }
        Assert.Equal(Run(5), Run(5));
        Assert.True(Enumerable.Range(6, 8).Any(s => !Run(s).SequenceEqual(Run(5))), "different seeds must be able to give different images");
    }
}
