using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;
using Xunit.Abstractions;

namespace PCache.Engine.Tests;

/// <summary>
/// A cache device that is a real file on this machine's disk (ext4 under /var/tmp, neither DAX nor
/// tmpfs), with a real backing file beside it: the engine detects it as non-DAX, persists in
/// batches instead of a sync per store, and a restart replays exactly what it acknowledged.
/// </summary>
public class NonDaxFileTests(ITestOutputHelper output)
{
    private const int S = SectorModel.Sector;
    private const int SegShift = 20;
    private const int Segments = 24;

    private static byte[] Block(long version, long offset, int length = 4096)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i += S) SectorModel.Fill(b.AsSpan(i, S), version, (offset + i) / S);
        return b;
    }

    [Fact]
    public void Cache_file_on_disk_batches_syncs_and_a_restart_replays_every_write()
    {
        string dir = "/var/tmp";
        string tag = $"{Environment.ProcessId}-{Guid.NewGuid():N}";
        string pmemPath = Path.Combine(dir, $"pcache-nondax-{tag}.pmem");
        string backingPath = Path.Combine(dir, $"pcache-nondax-{tag}.backing");
        const int writes = 512;
        const long backingSize = 16 << 20;
        var rng = new Random(11);
        var offsets = new long[writes];
        try
        {
            using (var f = new FileStream(backingPath, FileMode.CreateNew)) f.SetLength(backingSize);
            long syncsForWrites, syncsForFlush;
            using (var pmem = MappedPmem.Open(pmemPath, createSize: Geometry.SegmentsOffset + ((long)Segments << SegShift)))
            {
                Assert.Equal("msync", pmem.PersistMode); // a disk file is neither DAX nor tmpfs
                var device = CacheDevice.Format(pmem, SegShift);
                var cache = device.Create(new BackingOptions { Path = backingPath, CacheSize = (long)Segments << SegShift, GcPercent = 90 },
                    FileBackingDevice.Open(backingPath));
                long before = pmem.Syncs;
                for (int i = 0; i < writes; i++)
                {
                    offsets[i] = rng.Next(0, (int)(backingSize / 4096)) * 4096L;
                    cache.Write(offsets[i], Block(i + 1, offsets[i]));
                }
                syncsForWrites = pmem.Syncs - before;
                long beforeFlush = pmem.Syncs;
                cache.Flush();
                syncsForFlush = pmem.Syncs - beforeFlush;
                // Power is not cut (it cannot be here); the cache is dropped without persisting
                // anything more, so the reopen sees only what the FLUSH made durable.
                cache.Abandon();
            }
            output.WriteLine($"{writes} writes: {syncsForWrites} syncs; FLUSH: {syncsForFlush} syncs");
            // One sync per kset close (128 keys) and write-back's commits at most, never one per store.
            Assert.True(syncsForWrites <= writes / 16, $"{syncsForWrites} syncs for {writes} writes");
            // The data of the last keys, then the ksets; write-back runs alongside and may add one or
            // two of its own (a FLUSH that synced per kset would take nine: eight ksets and the end).
            Assert.InRange(syncsForFlush, 1, 4);
            var expect = new Dictionary<long, long>();
            for (int i = 0; i < writes; i++) expect[offsets[i]] = i + 1;

            using (var pmem = MappedPmem.Open(pmemPath))
            {
                Assert.Equal("msync", pmem.PersistMode);
                var device = CacheDevice.Open(pmem);
                var cache = device.Attach(0, FileBackingDevice.Open(backingPath));
                var buf = new byte[4096];
                foreach (var (offset, version) in expect)
                {
                    cache.Read(offset, buf);
                    Assert.True(buf.AsSpan().SequenceEqual(Block(version, offset)), $"block at {offset}: not version {version} after the restart");
                }
                cache.Drain();
                cache.Stop();
            }
            var image = File.ReadAllBytes(backingPath);
            foreach (var (offset, version) in expect)
                Assert.True(image.AsSpan((int)offset, 4096).SequenceEqual(Block(version, offset)), $"backing block at {offset}: not version {version} after write-back");
        }
        finally
        {
            File.Delete(pmemPath);
            File.Delete(backingPath);
        }
    }
}
