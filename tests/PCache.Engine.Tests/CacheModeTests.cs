using PCache.Engine.Backing;
using PCache.Engine.Cache;

namespace PCache.Engine.Tests;

/// <summary>
/// What each cache mode acknowledges and where reads come from, on crash-simulating pmem and a
/// memory disk (the stand-ins for pmem hardware and a disk). Data is identified per sector by
/// (version, lba), so a stale sector is named in the failure.
/// </summary>
public class CacheModeTests
{
    private const int S = SectorModel.Sector;
    private const int Block = 64 << 10;

    private static byte[] Data(long version, long offset, int length = Block)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i += S) SectorModel.Fill(b.AsSpan(i, S), version, (offset + i) / S);
        return b;
    }

    private static void AssertVersion(long version, byte[] actual, long offset, string where)
    {
        for (int i = 0; i < actual.Length; i += S)
        {
            long got = SectorModel.Identify(actual.AsSpan(i, S), (offset + i) / S);
            Assert.True(got == version, $"{where}: sector {(offset + i) / S} holds version {got}, expected {version}");
        }
    }

    private static void AssertCache(BackingCache cache, long version, long offset, int length = Block)
    {
        var b = new byte[length];
        cache.Read(offset, b);
        AssertVersion(version, b, offset, "read through the cache");
    }

    private static void AssertBacking(IBackingDevice disk, long version, long offset, int length = Block)
    {
        var b = new byte[length];
        disk.Read(offset, b);
        AssertVersion(version, b, offset, "the backing");
    }

    private static Rig RigIn(CacheMode mode, bool dataCrc = false)
    {
        var rig = new Rig(segments: 32, backingSize: 32 << 20, dataCrc: dataCrc);
        // Version 1 on the whole backing, so a sector never written through the cache is known too.
        for (long o = 0; o < 32 << 20; o += 1 << 20) rig.Backing.Write(o, Data(1, o, 1 << 20));
        rig.Backing.Flush();
        rig.Cache.SetMode(mode);
        return rig;
    }

    [Fact]
    public void Writeback_absorbs_writes_while_the_backing_fails_and_writes_them_back_later()
    {
        using var rig = RigIn(CacheMode.Writeback);
        rig.Backing.Failing = true;
        rig.Cache.Write(0, Data(2, 0));
        AssertCache(rig.Cache, 2, 0);
        Assert.Throws<IOException>(() => rig.Cache.Read(Block, new byte[Block])); // a miss needs the backing
        rig.Backing.Failing = false;
        rig.Cache.Drain();
        AssertBacking(rig.Backing, 2, 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Writethrough_acknowledges_on_the_backing_and_keeps_a_clean_copy(bool dataCrc)
    {
        using var rig = RigIn(CacheMode.Writethrough, dataCrc);
        rig.Cache.Write(0, Data(2, 0));
        AssertBacking(rig.Backing, 2, 0);
        Assert.Equal(0, rig.Cache.DirtyBytes);
        long hits = rig.Cache.Stats[Counter.ReadHits];
        AssertCache(rig.Cache, 2, 0);
        Assert.Equal(hits + 1, rig.Cache.Stats[Counter.ReadHits]);

        rig.Backing.Failing = true;
        Assert.Throws<IOException>(() => rig.Cache.Write(Block, Data(3, Block)));
        AssertCache(rig.Cache, 2, 0); // the clean copy still serves hits
        Assert.Throws<IOException>(() => rig.Cache.Read(4 * Block, new byte[Block]));
    }

    [Fact]
    public void Writearound_writes_only_the_backing_and_refreshes_a_cached_copy_durably()
    {
        using var rig = RigIn(CacheMode.Writearound);
        AssertCache(rig.Cache, 1, 0); // miss, filled
        rig.Cache.Write(0, Data(2, 0));
        rig.Cache.Write(Block, Data(2, Block));
        AssertBacking(rig.Backing, 2, 0, 2 * Block);
        Assert.Equal(0, rig.Cache.DirtyBytes);
        long misses = rig.Cache.Stats[Counter.ReadMisses];
        AssertCache(rig.Cache, 2, 0);            // the cached copy was refreshed: a hit with the new data
        Assert.Equal(misses, rig.Cache.Stats[Counter.ReadMisses]);
        AssertCache(rig.Cache, 2, Block);        // never cached: a miss
        Assert.Equal(misses + 1, rig.Cache.Stats[Counter.ReadMisses]);
        Assert.True(rig.Cache.Stats[Counter.BypassModeWriteBytes] >= Block);

        rig.Restart(); // replay must not bring the old clean copy back
        Assert.Equal(CacheMode.Writearound, rig.Cache.Mode);
        AssertCache(rig.Cache, 2, 0, 2 * Block);

        rig.Backing.Failing = true;
        Assert.Throws<IOException>(() => rig.Cache.Write(0, Data(3, 0)));
        Assert.Throws<IOException>(() => rig.Cache.Read(8 * Block, new byte[Block]));
    }

    [Fact]
    public void Writeonly_absorbs_writes_and_does_not_fill_read_misses()
    {
        using var rig = RigIn(CacheMode.Writeonly);
        AssertCache(rig.Cache, 1, 4 * Block);
        AssertCache(rig.Cache, 1, 4 * Block);
        Assert.Equal(2, rig.Cache.Stats[Counter.ReadMisses]);
        Assert.Equal(2L * Block, rig.Cache.Stats[Counter.BypassModeReadBytes]);

        rig.Backing.Failing = true;
        rig.Cache.Write(0, Data(2, 0));
        AssertCache(rig.Cache, 2, 0);
        Assert.Throws<IOException>(() => rig.Cache.Read(4 * Block, new byte[Block]));
        rig.Backing.Failing = false;
        rig.Cache.Drain();
        AssertBacking(rig.Backing, 2, 0);
    }

    [Fact]
    public void Passthrough_serves_dirty_data_until_it_drained_and_caches_nothing_new()
    {
        using var rig = RigIn(CacheMode.Writeback);
        rig.Backing.Failing = true; // keep the write-back data dirty across the switch
        rig.Cache.Write(0, Data(2, 0));
        rig.Cache.Write(2 * Block, Data(2, 2 * Block));
        rig.Cache.SetMode(CacheMode.Passthrough);
        Assert.True(rig.Cache.Draining);
        AssertCache(rig.Cache, 2, 0);           // the dirty data, not the backing's version 1
        Assert.Throws<IOException>(() => rig.Cache.Write(Block, Data(3, Block)));

        rig.Backing.Failing = false;
        // A write over dirty data that is still waiting for write-back stays ordered after it.
        rig.Cache.Write(2 * Block, Data(3, 2 * Block));
        rig.Cache.Write(4 * Block, Data(3, 4 * Block));
        AssertBacking(rig.Backing, 3, 4 * Block);
        rig.Cache.Drain();
        Assert.False(rig.Cache.Draining);
        AssertBacking(rig.Backing, 2, 0);
        AssertBacking(rig.Backing, 3, 2 * Block);
        AssertCache(rig.Cache, 3, 2 * Block);
        long misses = rig.Cache.Stats[Counter.ReadMisses];
        AssertCache(rig.Cache, 1, 8 * Block);
        AssertCache(rig.Cache, 1, 8 * Block);
        Assert.Equal(misses + 2, rig.Cache.Stats[Counter.ReadMisses]);
    }

    [Fact]
    public void A_mode_change_under_writes_loses_nothing_and_the_mode_survives_a_restart()
    {
        using var rig = RigIn(CacheMode.Writeback);
        var expected = new long[64];
        Array.Fill(expected, 1);
        var rng = new Random(7);
        for (int round = 0; round < 4; round++)
        {
            var mode = round % 2 == 0 ? CacheMode.Writeback : CacheMode.Passthrough;
            rig.Cache.SetMode(mode);
            for (int i = 0; i < 200; i++)
            {
                int blk = rng.Next(expected.Length);
                long version = round * 1000 + i + 2;
                rig.Cache.Write((long)blk * Block, Data(version, (long)blk * Block));
                expected[blk] = version;
            }
        }
        rig.Restart();
        Assert.Equal(CacheMode.Passthrough, rig.Cache.Mode);
        for (int blk = 0; blk < expected.Length; blk++) AssertCache(rig.Cache, expected[blk], (long)blk * Block);
        rig.Cache.Drain();
        for (int blk = 0; blk < expected.Length; blk++) AssertBacking(rig.Backing, expected[blk], (long)blk * Block);
    }

    [Fact]
    public void A_sequential_stream_past_the_cutoff_bypasses_the_cache_but_never_over_cached_data()
    {
        using var rig = RigIn(CacheMode.Writeback);
        rig.Cache.SequentialCutoff = 256 << 10;
        rig.Backing.Failing = true;
        rig.Cache.Write(1 << 20, Data(2, 1 << 20)); // dirty, in the middle of the stream to come
        rig.Backing.Failing = false;
        for (long o = 0; o < 2 << 20; o += Block) rig.Cache.Write(o, Data(3, o));
        Assert.True(rig.Cache.Stats[Counter.BypassSequentialWriteBytes] > 0);
        AssertCache(rig.Cache, 3, 0, 2 << 20);
        rig.Cache.Drain();
        AssertBacking(rig.Backing, 3, 0, 2 << 20);

        // Reads: the stream's misses past the cutoff are not filled.
        for (long o = 4 << 20; o < 6 << 20; o += Block) AssertCache(rig.Cache, 1, o);
        Assert.True(rig.Cache.Stats[Counter.BypassSequentialReadBytes] > 0);
        Assert.True(rig.Cache.Stats[Counter.MissFillBytes] < 2 << 20);

        rig.Cache.SequentialCutoff = 0; // off: everything cached again
        long filled = rig.Cache.Stats[Counter.MissFillBytes];
        for (long o = 8 << 20; o < 10 << 20; o += Block) AssertCache(rig.Cache, 1, o);
        Assert.Equal(filled + (2 << 20), rig.Cache.Stats[Counter.MissFillBytes]);
    }

    [Fact]
    public void Read_admission_fills_a_block_only_after_the_misses_it_asks_for()
    {
        using var rig = RigIn(CacheMode.Writeback);
        rig.Cache.ReadAdmission = 1;
        AssertCache(rig.Cache, 1, 0);
        Assert.Equal(0, rig.Cache.Stats[Counter.MissFillBytes]);
        Assert.Equal(Block, rig.Cache.Stats[Counter.BypassAdmissionReadBytes]);
        AssertCache(rig.Cache, 1, 0); // second miss: admitted
        Assert.Equal(Block, rig.Cache.Stats[Counter.MissFillBytes]);
        AssertCache(rig.Cache, 1, 0);
        Assert.Equal(1, rig.Cache.Stats[Counter.ReadHits]);
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Cache.ReadAdmission = 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Cache.SequentialCutoff = -512);
    }
}
