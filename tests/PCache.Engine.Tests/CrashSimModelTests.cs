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

    // ---------------------------------------------------------------- non-DAX: 4 KiB pages

    [Fact]
    public void Non_dax_pages_persist_in_any_order_unless_synced_and_a_sync_makes_its_range_durable()
    {
        var synced = Pattern(100, 5);
        int mixed = 0, allKept = 0, noneKept = 0;
        for (int seed = 0; seed < 200; seed++)
        {
            using var media = new CrashSimMedia(8 * 4096, CrashSimMedia.Medium.Pages);
            var pmem = media.Attach();
            pmem.Store(7 * 4096 + 8, synced);
            pmem.Fence(); // on this medium a fence is a sync of everything dirty
            for (int page = 0; page < 6; page++) pmem.Store(page * 4096 + 100, Pattern(3000, (byte)page));
            pmem.Stage(); // no sync: the pages stay at the mercy of the cut
            media.Cut();
            media.Recover(new Random(seed));
            Assert.Equal(synced, Read(media, 7 * 4096 + 8, 100));
            int kept = 0;
            for (int page = 0; page < 6; page++)
            {
                var got = Read(media, page * 4096 + 100, 3000);
                if (got.SequenceEqual(Pattern(3000, (byte)page))) kept++;
                else Assert.True(got.All(b => b == 0), $"seed {seed}: page {page} is neither old nor new (a page persists whole)");
            }
            if (kept == 6) allKept++;
            else if (kept == 0) noneKept++;
            else mixed++;
        }
        Assert.True(mixed > 0 && allKept > 0 && noneKept > 0, $"mixed {mixed}, all {allKept}, none {noneKept}: any subset of pages must be possible");
    }

    [Fact]
    public void Non_dax_page_written_back_early_holds_an_older_version_never_a_newer_store_without_an_older_one()
    {
        var first = Pattern(64, 1);
        var second = Pattern(64, 2);
        int intermediate = 0;
        for (int seed = 0; seed < 200; seed++)
        {
            using var media = new CrashSimMedia(4096, CrashSimMedia.Medium.Pages);
            var pmem = media.Attach();
            pmem.Store(0, first);
            pmem.Store(512, second); // same page, later
            media.Cut();
            media.Recover(new Random(seed));
            bool a = Read(media, 0, 64).SequenceEqual(first), b = Read(media, 512, 64).SequenceEqual(second);
            Assert.False(b && !a, $"seed {seed}: the page holds the later store without the earlier one");
            if (a && !b) intermediate++;
        }
        Assert.True(intermediate > 0, "an early write-back of the page (first store only) must be possible");
    }

    [Fact]
    public void Non_dax_batching_syncs_once_for_many_stores_and_never_again_for_a_covered_ticket()
    {
        using var media = new CrashSimMedia(64 * 4096, CrashSimMedia.Medium.Pages);
        var pmem = media.Attach();
        Assert.Equal("crash-sim-pages", pmem.PersistMode);
        for (int i = 0; i < 100; i++)
        {
            pmem.Store(i * 512, Pattern(512, (byte)i));
            pmem.Stage();
        }
        long ticket = pmem.Staged;
        Assert.Equal(0, pmem.Syncs); // stores and stages alone never sync
        pmem.Commit(ticket);
        Assert.Equal(1, pmem.Syncs);
        pmem.Commit(ticket);
        pmem.Fence();
        Assert.Equal(1, pmem.Syncs); // nothing new since: no sync
        pmem.Store(60 * 4096, Pattern(8, 1));
        pmem.Commit(ticket);
        Assert.Equal(1, pmem.Syncs); // the new store is not covered by the ticket asked for
        pmem.Fence();
        Assert.Equal(2, pmem.Syncs);
        Assert.Equal(2, media.Syncs);
        media.Cut();
        media.Recover(new Random(1));
        for (int i = 0; i < 100; i++) Assert.Equal(Pattern(512, (byte)i), Read(media, i * 512, 512));
    }

    [Fact]
    public void Non_dax_concurrent_committers_share_syncs()
    {
        using var media = new CrashSimMedia(256 * 4096, CrashSimMedia.Medium.Pages);
        var pmem = media.Attach();
        const int threads = 4, rounds = 200;
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            for (int i = 0; i < rounds; i++)
            {
                pmem.Store((t * 64 + i % 64) * 4096, Pattern(4096, (byte)(t + i))); // 64 pages of its own
                pmem.Commit(pmem.Staged);
            }
        })).ToArray();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        Assert.True(pmem.Syncs <= threads * rounds, $"{pmem.Syncs} syncs for {threads * rounds} commits");
        // Every commit returned durable: a cut now loses nothing.
        media.Cut();
        media.Recover(new Random(3));
        for (int t = 0; t < threads; t++)
            for (int i = rounds - 64; i < rounds; i++)
                Assert.Equal(Pattern(4096, (byte)(t + i)), Read(media, (t * 64 + i % 64) * 4096, 4096));
    }
}

