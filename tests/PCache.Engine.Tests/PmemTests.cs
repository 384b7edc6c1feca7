using System.Diagnostics;
using PCache.Engine.Backing;
using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>
/// The persistence layer under the cache: real mapped files (what a user's cache device is on a
/// machine without pmem) and the crash stand-ins the power-loss tests rely on. If the stand-ins
/// were kinder than real media, every crash test above them would prove nothing.
/// </summary>
public class PmemTests
{
    private const long MiB = 1 << 20;

    private static string TempPath(string dir) => Path.Combine(dir, $"pcache-test-{Environment.ProcessId}-{Guid.NewGuid():N}.pmem");

    private static void Delete(string path)
    {
        try { File.Delete(path); } catch (IOException) { }
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>A directory on a disk filesystem: /tmp unless it is tmpfs, else /var/tmp.</summary>
    private static string DiskTempDir()
    {
        var psi = new ProcessStartInfo("stat", ["-f", "-c", "%T", "/tmp"]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string fs = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return fs == "tmpfs" ? "/var/tmp" : "/tmp";
    }

    // ---------------------------------------------------------------- MappedPmem

    [Fact]
    public void A_file_in_dev_shm_is_emulated_pmem_and_keeps_fenced_stores_across_reopen()
    {
        string path = TempPath("/dev/shm");
        try
        {
            var data = Pattern(10_000, 1);
            using (var pmem = MappedPmem.Open(path, createSize: 4 * MiB))
            {
                Assert.Equal("memory", pmem.PersistMode);
                Assert.Equal(4 * MiB, pmem.Length);
                Assert.Equal(path, pmem.Path);
                Assert.True(pmem.Span(0, 4096).IndexOfAnyExcept((byte)0) < 0, "a new device reads as zeroes");
                pmem.Store(12345, data);
                pmem.Store(4 * MiB - 7, data.AsSpan(0, 7));
                pmem.StoreZero(12345 + 100, 50);
                pmem.Fence();
                Assert.True(pmem.Span(12345, 100).SequenceEqual(data.AsSpan(0, 100)));
            }
            Assert.Equal(4 * MiB, new FileInfo(path).Length);
            using (var pmem = MappedPmem.Open(path))
            {
                Assert.Equal("memory", pmem.PersistMode);
                Assert.True(pmem.Span(12345, 100).SequenceEqual(data.AsSpan(0, 100)));
                Assert.True(pmem.Span(12345 + 100, 50).IndexOfAnyExcept((byte)0) < 0);
                Assert.True(pmem.Span(12345 + 150, data.Length - 150).SequenceEqual(data.AsSpan(150)));
                Assert.True(pmem.Span(4 * MiB - 7, 7).SequenceEqual(data.AsSpan(0, 7)));
            }
        }
        finally { Delete(path); }
    }

    [Fact]
    public void A_second_open_of_a_device_in_use_is_refused_until_the_first_is_closed()
    {
        string path = TempPath("/dev/shm");
        try
        {
            using (var first = MappedPmem.Open(path, createSize: MiB))
            {
                var e = Assert.Throws<PmemException>(() => MappedPmem.Open(path));
                Assert.Contains("already in use", e.Message);
                Assert.Contains(path, e.Message);
                e = Assert.Throws<PmemException>(() => MappedPmem.Open(path, createSize: MiB));
                Assert.Contains("already in use", e.Message);
            }
            using var again = MappedPmem.Open(path);
            Assert.Equal(MiB, again.Length);
        }
        finally { Delete(path); }
    }

    [Fact]
    public void A_device_smaller_than_needed_is_refused_and_left_unlocked()
    {
        string path = TempPath("/dev/shm");
        try
        {
            using (MappedPmem.Open(path, createSize: MiB)) { }
            var e = Assert.Throws<PmemException>(() => MappedPmem.Open(path, minimumSize: 2 * MiB));
            Assert.Contains(path, e.Message);
            Assert.Contains("too small", e.Message);
            using var ok = MappedPmem.Open(path, minimumSize: MiB); // the refusal did not keep the lock
            Assert.Equal(MiB, ok.Length);
        }
        finally { Delete(path); }
    }

    [Fact]
    public void An_existing_file_smaller_than_the_size_asked_for_is_refused_and_kept()
    {
        string path = TempPath("/dev/shm");
        try
        {
            using (var pmem = MappedPmem.Open(path, createSize: MiB))
            {
                pmem.Store(0, new byte[] { 1, 2, 3 });
                pmem.Fence();
            }
            var e = Assert.Throws<PmemException>(() => MappedPmem.Open(path, createSize: 2 * MiB));
            Assert.Contains(path, e.Message);
            Assert.Equal(MiB, new FileInfo(path).Length);
            using var back = MappedPmem.Open(path);
            Assert.Equal(new byte[] { 1, 2, 3 }, back.Span(0, 3).ToArray());
        }
        finally { Delete(path); }
    }

    [Fact]
    public void A_missing_device_without_a_size_is_refused_and_not_created()
    {
        string path = TempPath("/dev/shm");
        var e = Assert.Throws<PmemException>(() => MappedPmem.Open(path));
        Assert.Contains(path, e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void A_directory_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("pcache-test-");
        try
        {
            var e = Assert.Throws<PmemException>(() => MappedPmem.Open(dir.FullName));
            Assert.Contains(dir.FullName, e.Message);
            e = Assert.Throws<PmemException>(() => MappedPmem.Open(dir.FullName, createSize: MiB));
            Assert.Contains(dir.FullName, e.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void A_file_on_a_disk_filesystem_uses_msync_and_keeps_stores_across_reopen()
    {
        string path = TempPath(DiskTempDir());
        try
        {
            var data = Pattern(9000, 2);
            using (var pmem = MappedPmem.Open(path, createSize: 2 * MiB))
            {
                Assert.Equal("msync", pmem.PersistMode);
                pmem.Store(4090, data); // crosses pages, unaligned
                pmem.StoreZero(4090 + 1000, 100);
                pmem.Fence();
            }
            var onDisk = File.ReadAllBytes(path); // through the page cache, not the mapping
            Assert.True(onDisk.AsSpan(4090, 1000).SequenceEqual(data.AsSpan(0, 1000)));
            Assert.True(onDisk.AsSpan(5090, 100).IndexOfAnyExcept((byte)0) < 0);
            Assert.True(onDisk.AsSpan(5190, 7900).SequenceEqual(data.AsSpan(1100)));
            using (var pmem = MappedPmem.Open(path))
            {
                Assert.Equal("msync", pmem.PersistMode);
                Assert.True(pmem.Span(4090, 1000).SequenceEqual(data.AsSpan(0, 1000)));
                Assert.True(pmem.Span(5190, 7900).SequenceEqual(data.AsSpan(1100)));
            }
        }
        finally { Delete(path); }
    }

    [Fact]
    public void Stores_and_reads_outside_the_region_are_refused()
    {
        using var pmem = new MemoryPmem(8192);
        Assert.Throws<ArgumentOutOfRangeException>(() => pmem.Store(8190, new byte[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => pmem.Store(-1, new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => pmem.StoreZero(0, 8193));
        Assert.Throws<ArgumentOutOfRangeException>(() => pmem.StoreZero(long.MaxValue, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => pmem.Span(8000, 193));
        pmem.Store(8189, new byte[3] { 7, 8, 9 });
        Assert.Equal(new byte[] { 7, 8, 9 }, pmem.Span(8189, 3).ToArray());
    }

    // ---------------------------------------------------------------- CrashSimMedia

    private static readonly byte[] LineA = Enumerable.Repeat((byte)0xAA, 64).ToArray();
    private static readonly byte[] LineB = Enumerable.Repeat((byte)0xBB, 64).ToArray();

    private static byte[] Line(CrashSimMedia media, int line) => media.Attach().Span(line * 64L, 64).ToArray();

    /// <summary>Every aligned 8-byte word of <paramref name="line"/> equals that word of one of <paramref name="choices"/>.</summary>
    private static bool WordsFrom(byte[] line, params byte[][] choices)
    {
        for (int w = 0; w < line.Length; w += 8)
            if (!choices.Any(c => c.AsSpan(w, 8).SequenceEqual(line.AsSpan(w, 8)))) return false;
        return true;
    }

    [Fact]
    public void An_unfenced_store_may_or_may_not_survive_a_power_cut()
    {
        int kept = 0, lost = 0;
        for (int seed = 0; seed < 64; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            pmem.Store(128, LineA);
            media.Cut();
            media.Recover(new Random(seed));
            var line = Line(media, 2);
            if (line.SequenceEqual(LineA)) kept++;
            else if (line.All(b => b == 0)) lost++;
            else Assert.True(WordsFrom(line, new byte[64], LineA), $"seed {seed}: an 8-byte word came back neither old nor new");
        }
        Assert.True(kept > 0 && lost > 0, $"kept {kept}, lost {lost}: both outcomes must be possible");
    }

    [Fact]
    public void A_rolled_back_line_returns_to_its_last_fenced_content()
    {
        var old = Enumerable.Repeat((byte)0x11, 64).ToArray();
        int rolledBack = 0;
        for (int seed = 0; seed < 64; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            pmem.Store(0, old);
            pmem.Fence();
            pmem.Store(0, LineA);
            pmem.Store(10, LineB.AsSpan(0, 20)); // a second unfenced store to the same line
            media.Cut();
            media.Recover(new Random(seed));
            var line = Line(media, 0);
            // Each 8-byte word holds the fenced content with some subset of the two stores applied in order.
            var onlyA = (byte[])LineA.Clone();
            var onlyB = (byte[])old.Clone();
            LineB.AsSpan(0, 20).CopyTo(onlyB.AsSpan(10));
            var both = (byte[])LineA.Clone();
            LineB.AsSpan(0, 20).CopyTo(both.AsSpan(10));
            Assert.True(WordsFrom(line, old, onlyA, onlyB, both), $"seed {seed}: a word holds content no subset of the stores produces");
            if (line.SequenceEqual(old)) rolledBack++;
        }
        Assert.True(rolledBack > 0 && rolledBack < 64);
    }

    [Fact]
    public void A_fenced_store_always_survives_a_power_cut()
    {
        for (int seed = 0; seed < 64; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            pmem.Store(100, LineA); // spans lines 1 and 2
            pmem.StoreZero(1000, 30);
            pmem.Fence();
            pmem.Store(3000, LineB); // unfenced, must not disturb the fenced ones
            media.Cut();
            media.Recover(new Random(seed));
            var after = media.Attach();
            Assert.True(after.Span(100, 64).SequenceEqual(LineA), $"seed {seed}");
        }
    }

    [Fact]
    public void Stores_after_a_power_cut_are_lost()
    {
        for (int seed = 0; seed < 16; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            pmem.Store(0, LineA);
            pmem.Fence();
            media.Cut();
            Assert.True(media.IsCut);
            pmem.Store(0, LineB);
            pmem.Store(64, LineB);
            pmem.Fence();
            media.Recover(new Random(seed));
            Assert.False(media.IsCut);
            Assert.Equal(LineA, Line(media, 0));
            Assert.True(Line(media, 1).All(b => b == 0));

            // The engine of the dead incarnation cannot write into the new one either.
            pmem.Store(128, LineB);
            pmem.Fence();
            Assert.True(Line(media, 2).All(b => b == 0));
            var fresh = media.Attach();
            fresh.Store(128, LineB);
            fresh.Fence();
            Assert.Equal(LineB, Line(media, 2));
        }
    }

    [Fact]
    public void The_power_cuts_by_itself_after_the_given_number_of_stores()
    {
        using var media = new CrashSimMedia(4096);
        var pmem = media.Attach();
        media.CutAfterStores(3);
        for (int i = 0; i < 5; i++)
        {
            pmem.Store(i * 64, LineA);
            pmem.Fence();
            Assert.Equal(i >= 3, media.IsCut);
        }
        media.Recover(new Random(1));
        for (int i = 0; i < 5; i++)
            Assert.Equal(i < 3, Line(media, i).SequenceEqual(LineA));
        Assert.Throws<InvalidOperationException>(() => media.Recover(new Random(1))); // no cut, nothing to recover
    }

    [Fact]
    public void A_fence_makes_only_the_calling_threads_stores_durable()
    {
        int kept = 0, lost = 0;
        for (int seed = 0; seed < 64; seed++)
        {
            using var media = new CrashSimMedia(4096);
            var pmem = media.Attach();
            Run(() => pmem.Store(0, LineA));                   // thread A: store, no fence
            Run(() => { pmem.Store(64, LineB); pmem.Fence(); }); // thread B: store and fence
            Run(() => pmem.Fence());                           // thread C fences nothing of A's
            pmem.Fence();                                      // nor does this thread
            media.Cut();
            media.Recover(new Random(seed));
            Assert.Equal(LineB, Line(media, 1));
            var a = Line(media, 0);
            if (a.SequenceEqual(LineA)) kept++;
            else if (a.All(b => b == 0)) lost++;
            else Assert.True(WordsFrom(a, new byte[64], LineA), $"seed {seed}: a word neither old nor new");
        }
        Assert.True(kept > 0 && lost > 0, $"kept {kept}, lost {lost}: another thread's fence must not cover the store");
    }

    private static void Run(Action action)
    {
        Exception? error = null;
        var t = new Thread(() => { try { action(); } catch (Exception e) { error = e; } });
        t.Start();
        t.Join();
        if (error is not null) throw new InvalidOperationException("worker thread failed", error);
    }

    // ---------------------------------------------------------------- MemoryBackingDevice

    [Fact]
    public void Backing_stand_in_may_lose_unflushed_writes_but_never_flushed_ones()
    {
        const int S = 512;
        int kept = 0, lost = 0;
        for (int seed = 0; seed < 64; seed++)
        {
            var disk = new MemoryBackingDevice(64 * S);
            var flushed = Pattern(4 * S, seed);
            var pending = Pattern(S, seed + 1000);
            disk.Write(0, flushed);
            disk.Flush();
            disk.Write(8 * S, pending);
            disk.Write(0, pending); // overwrites a flushed sector, unflushed
            var read = new byte[S];
            disk.Read(8 * S, read);
            Assert.Equal(pending, read); // a write is visible before it is durable

            var after = disk.PowerCut(new Random(seed));
            disk.Write(16 * S, pending); // after the cut: lost
            disk.Flush();

            var image = new byte[64 * S];
            after.Read(0, image);
            Assert.Equal(flushed.AsSpan(S).ToArray(), image.AsSpan(S, 3 * S).ToArray());
            var s0 = image.AsSpan(0, S).ToArray();
            Assert.True(s0.SequenceEqual(pending) || s0.SequenceEqual(flushed.AsSpan(0, S).ToArray()), "sector 0 is old or new");
            var s8 = image.AsSpan(8 * S, S).ToArray();
            if (s8.SequenceEqual(pending)) kept++;
            else if (s8.All(b => b == 0)) lost++;
            else Assert.Fail($"seed {seed}: sector neither old nor new");
            Assert.True(image.AsSpan(16 * S, S).IndexOfAnyExcept((byte)0) < 0, "a write after the cut survived");
            Assert.Equal(image, after.DurableImage());
        }
        Assert.True(kept > 0 && lost > 0, $"kept {kept}, lost {lost}: both outcomes must be possible");
    }

    [Fact]
    public void Backing_stand_in_reports_injected_errors()
    {
        var disk = new MemoryBackingDevice(4096) { Failing = true };
        Assert.Throws<IOException>(() => disk.Write(0, new byte[512]));
        Assert.Throws<IOException>(() => disk.Read(0, new byte[512]));
        Assert.Throws<IOException>(() => disk.Flush());
    }
}
