using System.Diagnostics;
using System.Runtime.InteropServices;
using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Platform;
using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>The suspected faults of issue 8, each confirmed (and fixed) or ruled out by a test.</summary>
public class FaultTests
{
    private const int S = SectorModel.Sector;
    private const int SegShift = 20;

    private static byte[] Block(long version, long offset, int length = 4096)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i += S) SectorModel.Fill(b.AsSpan(i, S), version, (offset + i) / S);
        return b;
    }

    private static long Version(BackingCache cache, long offset)
    {
        var buf = new byte[S];
        cache.Read(offset, buf);
        return SectorModel.Identify(buf, offset / S);
    }

    /// <summary>Journaled memory pmem whose stores can be made to fail, as an msync error would.</summary>
    private sealed unsafe class FailingPmem(long length) : PmemRegion((byte*)NativeMemory.AllocZeroed((nuint)length), length)
    {
        public Func<long, int, bool>? Fail;
        public override string PersistMode => "test";
        public override void Store(long offset, ReadOnlySpan<byte> source)
        {
            CheckRange(offset, source.Length);
            if (Fail?.Invoke(offset, source.Length) == true) throw new IOException("injected pmem store failure");
            source.CopyTo(new Span<byte>(Base + offset, source.Length));
        }
        public override void StoreZero(long offset, long length)
        {
            CheckRange(offset, length);
            new Span<byte>(Base + offset, checked((int)length)).Clear();
        }
        public override void Fence() { }
        public override void Dispose() => NativeMemory.Free(Base);
    }

    // (b) after a failed kset close, does the index serve data that never reaches the log?
    [Fact]
    public void A_failed_kset_close_keeps_the_key_pending_so_what_reads_served_is_logged_at_the_next_flush_OnFailingMemoryPmem()
    {
        var pmem = new FailingPmem(Geometry.SegmentsOffset + (8L << SegShift));
        var disk = new MemoryBackingDevice(4 << 20);
        var device = CacheDevice.Format(pmem, SegShift);
        var cache = device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift, GcPercent = 90 }, disk);
        cache.Write(0, Block(1, 0), fua: true);
        pmem.Fail = (_, length) => length == Kset.SizeOf(1); // the one-key kset a FUA write closes
        Assert.Throws<IOException>(() => cache.Write(0, Block(2, 0), fua: true));
        Assert.Equal(2, Version(cache, 0)); // served before it is logged: a failed write leaves either version
        pmem.Fail = null;
        cache.Flush();
        cache.Stop();
        var reopened = CacheDevice.Open(pmem).Attach(0, disk);
        Assert.Equal(2, Version(reopened, 0)); // the pending key reached the log: what was served is durable
        reopened.Abandon();
        pmem.Dispose();
    }

    // (c) GC stopped by corrupt media: writers must fail visibly, not wait forever.
    [Fact]
    public void Writers_on_a_full_cache_fail_with_an_error_once_gc_stopped_on_corrupt_media_OnJournaledPmem()
    {
        using var pmem = new JournaledPmem(Geometry.SegmentsOffset + (8L << SegShift));
        var device = CacheDevice.Format(pmem, SegShift);
        var cache = device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift, GcPercent = 90 }, new MemoryBackingDevice(32 << 20));
        for (int i = 0; i < 256; i++) cache.Write(i * 4096L, Block(1, i * 4096L));
        cache.Drain();
        // Damage the first kset (already written back, so only GC will meet it).
        var tail = cache.Tails.KeyTail;
        pmem.Edit(cache.Pool.DataOffset(tail.Segment) + tail.Offset + Kset.HeaderSize + 3, 1)[0] ^= 0x40;
        Exception? failure = null;
        var writer = Task.Run(() =>
        {
            var rng = new Random(3);
            var data = new byte[4096];
            try
            {
                for (int i = 0; i < 1_000_000; i++) cache.Write(rng.Next(0, 8192) * 4096L, data);
            }
            catch (Exception e) { failure = e; }
        });
        Assert.True(writer.Wait(TimeSpan.FromSeconds(60)), "a writer still waits for space 60 s after GC stopped");
        var e = Assert.IsType<CacheFullException>(failure);
        Assert.Contains("GC stopped", e.Message);
        Assert.Contains("kset", e.Message);
        Assert.NotNull(cache.GcError);
        cache.Abandon();
    }

    // (e) a forged backing size must not size DRAM structures before it is checked.
    [Fact]
    public void Forged_huge_backing_size_is_refused_before_anything_is_allocated_OnJournaledPmem()
    {
        using var pmem = new JournaledPmem(Geometry.SegmentsOffset + (8L << SegShift));
        var disk = new MemoryBackingDevice(4 << 20);
        var device = CacheDevice.Format(pmem, SegShift);
        device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift }, disk).Stop();
        long at = Geometry.BackingInfoReplica(0, 1);
        var rec = pmem.Span(Geometry.BackingInfoReplica(0, 0), Geometry.BackingInfoSize).ToArray();
        BitConverter.TryWriteBytes(rec.AsSpan(24), 1L << 60);
        Replica.Seal(rec, (byte)(Replica.Seq(rec) + 1));
        rec.CopyTo(pmem.Edit(at, rec.Length));
        var reopened = CacheDevice.Open(pmem);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<IOException>(() => reopened.Attach(0, disk));
        Assert.Contains("smaller than", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "the refusal must come before the index is sized");
        // And a real device too large to index is refused with a clear error, not an allocation failure.
        var huge = new NullBackingDevice(BackingCache.MaxSubtrees * Geometry.SubtreeSize + Geometry.SubtreeSize);
        var fresh = CacheDevice.Format(new JournaledPmem(Geometry.SegmentsOffset + (8L << SegShift)), SegShift);
        var tooBig = Assert.Throws<IOException>(() => fresh.Create(new BackingOptions { Path = "big", CacheSize = 8L << SegShift }, huge));
        Assert.Contains("larger than a cache can index", tooBig.Message);
    }

    // (f) DAX stores are only durable with x86-64's non-temporal stores and SFENCE.
    [Theory]
    [InlineData(Architecture.X64, true)]
    [InlineData(Architecture.Arm64, false)]
    [InlineData(Architecture.Arm, false)]
    [InlineData(Architecture.X86, false)]
    [InlineData(Architecture.RiscV64, false)]
    [InlineData(Architecture.LoongArch64, false)]
    public void Dax_is_used_only_where_this_engine_makes_its_stores_durable(Architecture arch, bool durable)
    {
        Assert.Equal(durable, DaxPolicy.StoresAreDurable(arch));
        Assert.Equal(durable, DaxPolicy.UseMapSync(arch));
        var refusal = DaxPolicy.DevDaxRefusal(arch, "/dev/dax0.0");
        if (durable) Assert.Null(refusal);
        else
        {
            Assert.NotNull(refusal);
            Assert.Contains("/dev/dax0.0", refusal);
            Assert.Contains(arch.ToString(), refusal);
        }
    }

    // (a) a truncated cache file: a load from a mapped page past the end of the file raises
    // SIGBUS, which .NET cannot turn into an exception, so it is refused before it is used.
    [Fact]
    public void Truncated_cache_file_is_refused_at_open_OnTmpfsFile()
    {
        string path = $"/dev/shm/pcache-trunc-{Guid.NewGuid():N}";
        try
        {
            long size = Geometry.SegmentsOffset + (8L << SegShift);
            using (var pmem = MappedPmem.Open(path, createSize: size))
            {
                var cache = CacheDevice.Format(pmem, SegShift).Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift }, new MemoryBackingDevice(4 << 20));
                cache.Write(0, Block(1, 0), fua: true);
                cache.Stop();
            }
            using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(size - (3L << SegShift));
            using var cut = MappedPmem.Open(path);
            Assert.Equal(size - (3L << SegShift), cut.Length); // only what the file holds is mapped
            var e = Assert.Throws<MediaException>(() => CacheDevice.Open(cut));
            Assert.Equal("superblock", e.Structure);
            Assert.Contains("do not fit", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // (d) a block-device backing must be opened exclusively (real loop device).
    [Fact]
    public void Block_device_backing_is_opened_exclusively_OnLoopDevice()
    {
        string file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"pcache-excl-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(file, new byte[8 << 20]);
        string loop = Run("losetup", $"-f --show {file}").Trim();
        string mnt = Directory.CreateTempSubdirectory("pcache-excl-").FullName;
        try
        {
            Assert.StartsWith("/dev/loop", loop);
            using (var first = FileBackingDevice.Open(loop))
            {
                Assert.Equal(8 << 20, first.Size);
                var e = Assert.Throws<IOException>(() => FileBackingDevice.Open(loop));
                Assert.Contains("busy", e.Message);
            }
            FileBackingDevice.Open(loop).Dispose(); // free again once the first user closed it
            Run("mkfs.ext4", $"-q -F {loop}");
            Run("mount", $"{loop} {mnt}");
            try
            {
                var e = Assert.Throws<IOException>(() => FileBackingDevice.Open(loop));
                Assert.Contains("busy", e.Message);
            }
            finally
            {
                Run("umount", mnt);
            }
        }
        finally
        {
            Run("losetup", $"-d {loop}");
            File.Delete(file);
            Directory.Delete(mnt);
        }
    }

    private static string Run(string tool, string args)
    {
        var psi = new ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start");
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new Xunit.Sdk.XunitException($"{tool} {args} failed ({p.ExitCode}): {stderr}");
        return stdout;
    }
}
