using System.Buffers.Binary;
using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Engine.Tests;

/// <summary>
/// One targeted corrupt-media case per item of dm-pcache's Linux 7.3 hardening series (and the
/// forged-tail defect): a cache is written and stopped on journaled memory pmem, one structure is
/// forged with a valid CRC, and opening it must be refused with an error naming that structure —
/// or, where the forged value is legal, the cache must keep working without damaging anything.
/// </summary>
public class HardeningTests
{
    private const int S = SectorModel.Sector;
    private const int SegShift = 20;
    private static readonly int DataSize = Geometry.SegmentDataSize(SegShift);

    private sealed class Image : IDisposable
    {
        public readonly JournaledPmem Pmem = new(Geometry.SegmentsOffset + (8L << SegShift));
        public readonly MemoryBackingDevice Disk = new(4 << 20);
        public readonly uint[] Chain;
        public LogPosition KeyTail, DirtyTail, Head;

        public Image(int writes = 300, bool drain = false)
        {
            var device = CacheDevice.Format(Pmem, SegShift);
            var cache = device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift, GcPercent = 90 }, Disk);
            var rng = new Random(5);
            for (int i = 0; i < writes; i++)
            {
                long lba = rng.Next(0, 1024);
                var data = new byte[8 * S];
                for (int k = 0; k < 8; k++) SectorModel.Fill(data.AsSpan(k * S, S), i + 1, lba + k);
                cache.Write(lba * S, data);
            }
            if (drain) cache.Drain();
            cache.Stop();
            Chain = Enumerable.Range(0, cache.Pool.Count).Select(s => cache.Pool.PhysicalId((uint)s)).ToArray();
            KeyTail = cache.Tails.KeyTail;
            DirtyTail = cache.Tails.DirtyTail;
            Head = cache.Log.Head;
        }

        public long DataOffset(uint seg) => Geometry.SegmentBase(SegShift, Chain[seg]) + Geometry.SegmentHeaderSize;

        /// <summary>Write a record into the replica slot that wins (newer sequence), CRC sealed.</summary>
        public void ForgeReplica(long at0, long stride, int size, Action<Span<byte>> edit)
        {
            var r0 = Pmem.Span(at0, size);
            var r1 = Pmem.Span(at0 + stride, size);
            int latest = Replica.Latest(r0, r1);
            var rec = (latest == 1 ? r1 : r0).ToArray();
            byte seq = Replica.Seq(rec);
            edit(rec);
            Replica.Seal(rec, (byte)(seq + 1));
            rec.CopyTo(Pmem.Edit(at0 + (latest == 1 ? 0 : stride), size));
        }

        public void ForgeTail(long at0, LogPosition pos) =>
            ForgeReplica(at0, Geometry.TailRecordSize, Geometry.TailRecordSize, r => pos.Encode(r));

        public BackingCache Open() => CacheDevice.Open(Pmem).Attach(0, Disk);

        public void Dispose() => Pmem.Dispose();
    }

    private static MediaException Refused(Image img, string structure)
    {
        var e = Assert.Throws<MediaException>(() => img.Open().Abandon());
        Assert.Contains(structure, e.Structure);
        Assert.Contains(" at offset ", e.Message);
        return e;
    }

    // ---- defect 4 / "bound the persisted tail positions"

    [Fact]
    public void Forged_key_tail_without_room_for_the_linking_kset_is_refused_OnJournaledPmem()
    {
        using var img = new Image();
        img.ForgeTail(Geometry.KeyTailReplica(0, 0), new LogPosition(img.KeyTail.Segment, (uint)DataSize - 8));
        var e = Refused(img, "key_tail");
        Assert.Contains("links to the next segment", e.Message);
    }

    [Fact]
    public void Forged_dirty_tail_past_the_data_area_is_refused_OnJournaledPmem()
    {
        using var img = new Image();
        img.ForgeTail(Geometry.DirtyTailReplica(0, 0), new LogPosition(img.DirtyTail.Segment, (uint)DataSize + 4096));
        Refused(img, "dirty_tail");
    }

    [Fact]
    public void Forged_kset_ending_in_the_linking_room_is_refused_and_no_segment_header_is_overwritten_OnJournaledPmem()
    {
        using var img = new Image(drain: true);
        // A sealed one-key kset that ends 8 bytes before the end of the data area, with both tails
        // on it: without the bound the next log switch writes its LAST kset over the next
        // physical segment's header.
        uint seg = img.Head.Segment;
        uint at = (uint)(DataSize - Kset.SizeOf(1) - 8);
        var kset = new byte[Kset.SizeOf(1)];
        new KeyRecord(1 << 20, 4096, KeyRecord.FlagZero, 0, 0, 0, 0).Encode(kset.AsSpan(Kset.HeaderSize));
        Kset.SealKeys(kset, 1);
        kset.CopyTo(img.Pmem.Edit(img.DataOffset(seg) + at, kset.Length));
        img.ForgeTail(Geometry.KeyTailReplica(0, 0), new LogPosition(seg, at));
        img.ForgeTail(Geometry.DirtyTailReplica(0, 0), new LogPosition(seg, at));
        var e = Refused(img, "kset");
        Assert.Contains("links to the next segment", e.Message);
    }

    // ---- "validate every segment id read from media"

    [Fact]
    public void Forged_last_kset_naming_a_segment_outside_the_backing_is_refused_OnJournaledPmem()
    {
        using var img = new Image(drain: true);
        var last = new byte[Kset.HeaderSize];
        Kset.EncodeLast(last, 99);
        last.CopyTo(img.Pmem.Edit(img.DataOffset(img.Head.Segment) + img.Head.Offset, last.Length));
        var e = Refused(img, "kset");
        Assert.Contains("segment 99", e.Message);
    }

    [Fact]
    public void Forged_segment_chain_link_outside_the_device_is_refused_OnJournaledPmem()
    {
        using var img = new Image();
        long seg = Geometry.SegmentBase(SegShift, img.Chain[2]);
        img.ForgeReplica(seg, Geometry.ReplicaStride, Geometry.SegmentInfoSize, r => SegmentHeader.EncodeInfo(r, true, 5000));
        Refused(img, "segment chain");
    }

    // ---- "validate the geometry fields of cache_info"

    [Theory]
    [InlineData(20, 9u)]        // more segments than the device has
    [InlineData(8, 0u)]         // no segments
    [InlineData(4000, 2u)]      // first segment outside the device
    public void Forged_backing_info_geometry_is_refused_OnJournaledPmem(int first, uint count)
    {
        using var img = new Image();
        img.ForgeReplica(Geometry.BackingInfoReplica(0, 0), Geometry.ReplicaStride, Geometry.BackingInfoSize, r =>
        {
            if (first != 8) BinaryPrimitives.WriteUInt32LittleEndian(r[16..], (uint)first);
            BinaryPrimitives.WriteUInt32LittleEndian(r[20..], count);
        });
        var e = Assert.Throws<MediaException>(() => CacheDevice.Open(img.Pmem));
        Assert.Equal("backing_info", e.Structure);
    }

    // ---- "validate a kset's key count and that it stays inside its segment's data area"

    [Fact]
    public void Forged_kset_key_count_before_dirty_tail_is_refused_OnJournaledPmem()
    {
        using var img = new Image(drain: true);
        long at = img.DataOffset(img.KeyTail.Segment) + img.KeyTail.Offset;
        var span = img.Pmem.Edit(at, Kset.HeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Kset.MaxKeys + 1);
        Crc.Seal(span); // a CRC over the header only: still not a valid kset of 129 keys
        Refused(img, "kset");
    }

    // ---- "detect a cycle in the chain of LAST ksets during replay"

    [Fact]
    public void Last_kset_looping_back_into_the_log_is_refused_OnJournaledPmem()
    {
        using var img = new Image(drain: true);
        var last = new byte[Kset.HeaderSize];
        Kset.EncodeLast(last, img.KeyTail.Segment);
        last.CopyTo(img.Pmem.Edit(img.DataOffset(img.Head.Segment) + img.Head.Offset, last.Length));
        var e = Refused(img, "kset");
        Assert.Contains("loops back", e.Message);
    }

    // ---- "validate that dirty_tail is reachable from key_tail at load"

    [Fact]
    public void Dirty_tail_not_on_the_log_is_refused_OnJournaledPmem()
    {
        using var img = new Image();
        Assert.NotEqual(img.KeyTail, img.Head);
        img.ForgeTail(Geometry.DirtyTailReplica(0, 0), img.Head with { Offset = img.Head.Offset + 8 });
        // Replay meets the end of the log before dirty_tail: the error names both.
        var e = Refused(img, "kset");
        Assert.Contains("dirty_tail", e.Message);
    }

    // ---- "only hand out segments whose header/generation was initialised"

    [Fact]
    public void Segment_whose_generation_was_never_initialised_is_refused_OnJournaledPmem()
    {
        using var img = new Image();
        long gen = Geometry.SegmentBase(SegShift, img.Chain[6]) + Geometry.SegmentGenOffset;
        img.Pmem.Edit(gen, 2 * Geometry.SegmentGenSize).Clear();
        var e = Refused(img, "segment_gen");
        Assert.Contains("segment 6", e.Message);
    }

    // ---- "gc_percent validated before narrowing"

    [Theory]
    [InlineData(300)]
    [InlineData(91)]
    [InlineData(-1)]
    [InlineData(128 + 44)]
    public void Gc_percent_out_of_range_is_an_error_not_a_truncated_value(int percent)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BackingInfo.WithGcPercent(0, percent));
        using var pmem = new JournaledPmem(Geometry.SegmentsOffset + (8L << SegShift));
        var device = CacheDevice.Format(pmem, SegShift);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift, GcPercent = percent }, new MemoryBackingDevice(1 << 20)));
        Assert.Contains("gc_percent", e.Message);
        Assert.Empty(device.StoredBackings);
        var cache = device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift, GcPercent = 44 }, new MemoryBackingDevice(1 << 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.SetGcPercent(percent));
        Assert.Equal(44, cache.GcPercent);
        cache.Abandon();
    }

    // ---- write-back pacing, bytes [504,512) of backing_info

    [Theory]
    [InlineData(new byte[] { 1, 101, 0, 0, 0, 0, 0, 0 }, "watermark 101")]
    [InlineData(new byte[] { 1, 255, 30, 0, 0, 0, 0, 0 }, "watermark 255")]
    [InlineData(new byte[] { 7, 50, 30, 0, 0, 0, 0, 0 }, "format 7")]
    [InlineData(new byte[] { 0, 50, 30, 0, 0, 0, 0, 0 }, "no format byte")]
    public void Forged_pacing_settings_are_refused_OnJournaledPmem(byte[] pacing, string why)
    {
        using var img = new Image(writes: 20);
        img.ForgeReplica(Geometry.BackingInfoReplica(0, 0), Geometry.ReplicaStride, Geometry.BackingInfoSize,
            r => pacing.CopyTo(r[BackingInfo.PacingOffset..]));
        var e = Assert.Throws<MediaException>(() => CacheDevice.Open(img.Pmem));
        Assert.Equal("backing_info pacing", e.Structure);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Media_written_before_pacing_existed_read_as_the_defaults_and_the_largest_legal_values_load_OnJournaledPmem()
    {
        using var img = new Image(writes: 20);
        img.ForgeReplica(Geometry.BackingInfoReplica(0, 0), Geometry.ReplicaStride, Geometry.BackingInfoSize,
            r => r[BackingInfo.PacingOffset..].Clear());
        var cache = img.Open();
        Assert.Equal(WritebackPacing.Default, cache.Pacing);
        Assert.Equal(50, cache.Pacing.WatermarkPercent);
        Assert.Equal(30, cache.Pacing.MaxAgeSeconds);
        Assert.Equal(0, cache.Pacing.RateBytesPerSecond);
        cache.Stop();

        img.ForgeReplica(Geometry.BackingInfoReplica(0, 0), Geometry.ReplicaStride, Geometry.BackingInfoSize,
            r => new byte[] { 1, 100, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }.CopyTo(r[BackingInfo.PacingOffset..]));
        cache = img.Open();
        Assert.Equal(new WritebackPacing { WatermarkPercent = 100, MaxAgeSeconds = 65535, RateBytesPerSecond = WritebackPacing.RateMax }, cache.Pacing);
        cache.Drain(); // the data is intact and writes back
        cache.Stop();
    }
}
