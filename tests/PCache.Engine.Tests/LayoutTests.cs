using System.Buffers.Binary;
using System.Text;
using PCache.Engine.Layout;

namespace PCache.Engine.Tests;

/// <summary>
/// On-media formats: what a reopened device trusts. Round trips keep every field; anything that
/// cannot be trusted is refused with a <see cref="MediaException"/> naming the structure and its
/// offset (never a crash, never a wrong value).
/// </summary>
public class LayoutTests
{
    // ---------------------------------------------------------------- CRC32C

    /// <summary>Bit-at-a-time reflected Castagnoli update, no inversion: the reference for Crc.Compute.</summary>
    private static uint BitwiseCrc32C(ReadOnlySpan<byte> data, uint crc)
    {
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return crc;
    }

    [Fact]
    public void Crc_is_the_raw_reflected_castagnoli_register_seeded_with_0x3B15A()
    {
        Assert.Equal(0x3B15Au, Crc.Seed);
        var rng = new Random(1);
        var buffer = new byte[128];
        for (int len = 0; len <= 100; len++)
        {
            for (int rep = 0; rep < 4; rep++)
            {
                rng.NextBytes(buffer);
                int skew = rng.Next(0, 8); // unaligned starts too
                var data = buffer.AsSpan(skew, len);
                Assert.Equal(BitwiseCrc32C(data, 0x3B15A), Crc.Compute(data));
                uint seed = (uint)rng.NextInt64(0, 1L << 32);
                Assert.Equal(BitwiseCrc32C(data, seed), Crc.Compute(data, seed));
            }
        }
        Assert.Equal(0x3B15Au, Crc.Compute(ReadOnlySpan<byte>.Empty)); // no pre/post inversion
    }

    [Fact]
    public void Standard_crc32c_is_the_inverted_register_seeded_with_all_ones()
    {
        var check = Encoding.ASCII.GetBytes("123456789");
        const uint standard = 0xE3069283; // the CRC-32C check value (iSCSI, ext4, ...)
        Assert.Equal(standard, ~BitwiseCrc32C(check, 0xFFFFFFFF)); // the reference model is right
        Assert.NotEqual(standard, Crc.Compute(check, 0xFFFFFFFF));   // no final xor ...
        Assert.Equal(standard, ~Crc.Compute(check, 0xFFFFFFFF));     // ... which is the only difference
        Assert.NotEqual(standard, Crc.Compute(check));
    }

    [Fact]
    public void Record_crc_covers_everything_after_the_crc_field()
    {
        var rec = new byte[64];
        new Random(2).NextBytes(rec);
        Crc.Seal(rec);
        Assert.True(Crc.RecordValid(rec));
        Assert.Equal(BitwiseCrc32C(rec.AsSpan(4), 0x3B15A), BinaryPrimitives.ReadUInt32LittleEndian(rec));
        for (int i = 0; i < rec.Length; i++)
        {
            rec[i] ^= 0x10;
            Assert.False(Crc.RecordValid(rec), $"a flipped bit in byte {i} went unnoticed");
            rec[i] ^= 0x10;
        }
    }

    [Fact]
    public void Data_crc_depends_on_the_backing_offset()
    {
        var data = new byte[4096];
        new Random(3).NextBytes(data);
        Assert.NotEqual(Crc.OfData(data, 0), Crc.OfData(data, 512));
        Assert.NotEqual(Crc.OfData(data, 0), Crc.OfData(data, 1L << 41));
        Assert.Equal(Crc.OfData(data, 1 << 20), Crc.OfData(data, 1 << 20));
    }

    // ---------------------------------------------------------------- replicas

    private static byte[] Record(byte seq, bool valid, byte fill = 0x5A)
    {
        var r = new byte[24];
        r.AsSpan(8).Fill(fill);
        Replica.Seal(r, seq);
        if (!valid) r[10] ^= 1;
        return r;
    }

    [Theory]
    [InlineData(false, false, 1, 1, -1)]
    [InlineData(true, false, 1, 9, 0)]     // an invalid replica never wins, however new its seq
    [InlineData(false, true, 9, 1, 1)]
    [InlineData(true, true, 5, 6, 1)]
    [InlineData(true, true, 6, 5, 0)]
    [InlineData(true, true, 7, 7, 0)]      // tie: replica 0
    [InlineData(true, true, 255, 0, 1)]    // seq wraps: 0 follows 255
    [InlineData(true, true, 0, 255, 0)]
    [InlineData(true, true, 250, 3, 1)]
    [InlineData(true, true, 3, 250, 0)]
    [InlineData(true, true, 100, 227, 1)]  // +127 is still newer
    [InlineData(true, true, 0, 128, 0)]    // -128: not newer, replica 0 stays
    [InlineData(true, true, 128, 0, 0)]
    public void Latest_picks_the_valid_replica_with_the_newer_sequence(bool valid0, bool valid1, int seq0, int seq1, int expected)
    {
        Assert.Equal(expected, Replica.Latest(Record((byte)seq0, valid0), Record((byte)seq1, valid1)));
    }

    [Fact]
    public void A_blank_replica_is_not_valid()
    {
        var blank = new byte[24];
        Assert.False(Crc.RecordValid(blank));
        Assert.Equal(-1, Replica.Latest(blank, blank));
        Assert.Equal(1, Replica.Latest(blank, Record(0, true)));
    }

    [Fact]
    public void Replica_updates_alternate_slots_and_wrap_the_sequence()
    {
        var state = ReplicaState.None;
        var slots = new[] { new byte[24], new byte[24] };
        var seen = new List<int>();
        for (int i = 0; i < 600; i++)
        {
            var next = state.Next();
            Assert.NotEqual(state.Slot, next.slot); // never overwrite the newest copy
            Replica.Seal(slots[next.slot], next.seq);
            state.Commit(next);
            Assert.Equal(next.slot, Replica.Latest(slots[0], slots[1]));
            seen.Add(next.slot);
        }
        Assert.Equal(new[] { 0, 1, 0, 1 }, seen.Take(4));
        // A torn update (the slot being written is garbage) falls back to the previous copy.
        var torn = state.Next();
        slots[torn.slot][12] ^= 0xFF;
        Assert.Equal(state.Slot, Replica.Latest(slots[0], slots[1]));
    }

    // ---------------------------------------------------------------- superblock

    private const int Shift = 20;

    private static long DeviceFor(uint segments) => Geometry.SegmentsOffset + ((long)segments << Shift);

    private static Superblock GoodSuperblock(uint segments = 100) =>
        new(0, Superblock.CurrentVersion, Shift, segments, Geometry.MaxBackings, Guid.NewGuid(), 1_700_000_000);

    private static byte[] Encoded(Superblock sb)
    {
        var b = new byte[Geometry.SuperblockSize];
        sb.Encode(b);
        return b;
    }

    private static void AssertRefused(Action decode, string structure, long offset)
    {
        var e = Assert.Throws<MediaException>(decode);
        Assert.Contains(structure, e.Message);
        Assert.Contains("offset", e.Message);
        Assert.Contains(offset.ToString(), e.Message);
        Assert.Equal(structure, e.Structure);
        Assert.Equal(offset, e.Offset);
    }

    private static void AssertSuperblockRefused(byte[] b, long deviceSize) =>
        AssertRefused(() => Superblock.Decode(b, deviceSize), "superblock", Geometry.SuperblockOffset);

    [Fact]
    public void Superblock_round_trips()
    {
        var sb = GoodSuperblock();
        var b = Encoded(sb);
        Assert.False(Superblock.IsBlank(b));
        Assert.Equal(sb, Superblock.Decode(b, DeviceFor(100)));
        Assert.Equal(sb, Superblock.Decode(b, DeviceFor(100) + 12345)); // a larger device is fine
        Assert.Equal(1L << Shift, sb.SegmentSize);
        Assert.True(Superblock.IsBlank(new byte[Geometry.SuperblockSize]));
    }

    /// <summary>Patch a field and re-seal the CRC, as a writer of a different format would.</summary>
    private static byte[] Patched(Action<byte[]> patch, uint segments = 100)
    {
        var b = Encoded(GoodSuperblock(segments));
        patch(b);
        Crc.Seal(b);
        return b;
    }

    [Fact]
    public void Superblock_with_a_foreign_magic_is_refused()
    {
        var b = Patched(x => BinaryPrimitives.WriteUInt64LittleEndian(x.AsSpan(8), 0x65B05EFA96C596EF)); // the kernel's
        AssertSuperblockRefused(b, DeviceFor(100));
    }

    [Fact]
    public void Superblock_with_a_bad_crc_is_refused()
    {
        var b = Encoded(GoodSuperblock());
        b[45] ^= 1; // inside the device id
        AssertSuperblockRefused(b, DeviceFor(100));
        b = Encoded(GoodSuperblock());
        b[0] ^= 1; // the crc itself
        AssertSuperblockRefused(b, DeviceFor(100));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    [InlineData(uint.MaxValue)]
    public void Superblock_of_another_version_is_refused(uint version)
    {
        AssertSuperblockRefused(Patched(x => BinaryPrimitives.WriteUInt32LittleEndian(x.AsSpan(16), version)), DeviceFor(100));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(19u)]
    [InlineData(31u)]
    [InlineData(64u)]
    public void Superblock_segment_shift_out_of_range_is_refused(uint shift)
    {
        AssertSuperblockRefused(Patched(x => BinaryPrimitives.WriteUInt32LittleEndian(x.AsSpan(20), shift)), 1L << 40);
    }

    [Fact]
    public void Superblock_segment_shift_at_the_limits_is_accepted()
    {
        foreach (int shift in new[] { Geometry.MinSegmentShift, Geometry.MaxSegmentShift })
        {
            var sb = GoodSuperblock(4) with { SegmentShift = shift };
            long size = Geometry.SegmentsOffset + (4L << shift);
            Assert.Equal(sb, Superblock.Decode(Encoded(sb), size));
        }
    }

    [Fact]
    public void Superblock_with_more_segments_than_the_device_holds_is_refused()
    {
        var b = Encoded(GoodSuperblock(100));
        AssertSuperblockRefused(b, DeviceFor(99));
        AssertSuperblockRefused(b, DeviceFor(100) - 1);
        AssertSuperblockRefused(b, Geometry.SegmentsOffset);
        AssertSuperblockRefused(b, 0);
        Superblock.Decode(b, DeviceFor(100)); // exactly fits
    }

    [Fact]
    public void Superblock_with_more_than_the_maximum_segments_is_refused()
    {
        uint tooMany = Geometry.MaxSegments + 1;
        AssertSuperblockRefused(Encoded(GoodSuperblock(tooMany)), DeviceFor(tooMany));
        var max = GoodSuperblock(Geometry.MaxSegments);
        Assert.Equal(max, Superblock.Decode(Encoded(max), DeviceFor(Geometry.MaxSegments)));
    }

    [Fact]
    public void Superblock_with_zero_segments_is_refused()
    {
        AssertSuperblockRefused(Encoded(GoodSuperblock(0)), DeviceFor(100));
    }

    [Fact]
    public void Superblock_with_other_foreign_fields_is_refused()
    {
        AssertSuperblockRefused(Patched(x => x[4] |= (byte)Superblock.FlagBigEndian), DeviceFor(100));
        AssertSuperblockRefused(Patched(x => BinaryPrimitives.WriteUInt32LittleEndian(x.AsSpan(28), 32)), DeviceFor(100));
        AssertSuperblockRefused(Patched(x => BinaryPrimitives.WriteUInt64LittleEndian(x.AsSpan(32), 20480)), DeviceFor(100));
    }

    // ---------------------------------------------------------------- backing info

    private static readonly Superblock Sb = GoodSuperblock(64);
    private const long InfoAt = 8192;

    private static BackingInfo GoodInfo(string path = "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4") => new()
    {
        BackingId = 3,
        Flags = BackingInfo.WithGcPercent(BackingInfo.FlagActive | BackingInfo.FlagDataCrc | BackingInfo.FlagInitDone | BackingInfo.FlagPersistOnWrite, 70),
        FirstSegment = 10,
        SegmentCount = 54,
        BackingSize = 1L << 40,
        Fingerprint = 0x0123456789ABCDEF,
        Incarnation = 42,
        Queues = 8,
        Path = path,
    };

    private static byte[] Encoded(BackingInfo info)
    {
        var b = new byte[Geometry.BackingInfoSize];
        info.Encode(b);
        return b;
    }

    private static void AssertInfoRefused(byte[] b, int slot = 3) =>
        AssertRefused(() => BackingInfo.Decode(b, slot, InfoAt, Sb), "backing_info", InfoAt);

    [Fact]
    public void Backing_info_round_trips()
    {
        var info = GoodInfo();
        var back = BackingInfo.Decode(Encoded(info), 3, InfoAt, Sb);
        Assert.Equal(info, back);
        Assert.True(back.Active && back.DataCrc && back.InitDone && back.PersistOnWrite);
        Assert.Equal(70, back.GcPercent);
    }

    [Fact]
    public void Backing_info_keeps_a_448_byte_utf8_path()
    {
        string path = "/" + new string('é', 223) + "x"; // 1 + 446 + 1 = 448 bytes
        Assert.Equal(BackingInfo.MaxPathBytes, Encoding.UTF8.GetByteCount(path));
        var info = GoodInfo(path);
        Assert.Equal(path, BackingInfo.Decode(Encoded(info), 3, InfoAt, Sb).Path);
        string mixed = "/mnt/データ/диск-😀.img";
        Assert.Equal(mixed, BackingInfo.Decode(Encoded(GoodInfo(mixed)), 3, InfoAt, Sb).Path);
    }

    [Fact]
    public void Backing_info_does_not_encode_a_path_longer_than_448_bytes()
    {
        Assert.ThrowsAny<ArgumentException>(() => Encoded(GoodInfo("/" + new string('a', 448))));
    }

    [Fact]
    public void Backing_info_in_the_wrong_slot_is_refused()
    {
        AssertInfoRefused(Encoded(GoodInfo()), slot: 4);
    }

    [Fact]
    public void Backing_info_gc_percent_above_90_is_refused()
    {
        var ok = GoodInfo() with { Flags = BackingInfo.WithGcPercent(BackingInfo.FlagActive, 90) };
        Assert.Equal(90, BackingInfo.Decode(Encoded(ok), 3, InfoAt, Sb).GcPercent);
        foreach (int gc in new[] { 91, 127 })
            AssertInfoRefused(Encoded(GoodInfo() with { Flags = BackingInfo.FlagActive | ((uint)gc << BackingInfo.GcPercentShift) }));
    }

    [Fact]
    public void Backing_info_cache_mode_round_trips_old_records_read_as_writeback_and_an_unknown_mode_is_refused()
    {
        Assert.Equal(PCache.Engine.Cache.CacheMode.Writeback, BackingInfo.Decode(Encoded(GoodInfo()), 3, InfoAt, Sb).Mode);
        foreach (var mode in Enum.GetValues<PCache.Engine.Cache.CacheMode>())
        {
            var info = GoodInfo() with { Flags = BackingInfo.WithMode(GoodInfo().Flags, mode) };
            var back = BackingInfo.Decode(Encoded(info), 3, InfoAt, Sb);
            Assert.Equal(mode, back.Mode);
            Assert.Equal(70, back.GcPercent);
            Assert.True(back.DataCrc && back.Active);
        }
        foreach (uint forged in new[] { 5u, 6u, 7u })
            AssertInfoRefused(Encoded(GoodInfo() with { Flags = GoodInfo().Flags | (forged << BackingInfo.ModeShift) }));
    }

    [Theory]
    [InlineData(64u, 1u)]   // first segment past the device
    [InlineData(0u, 0u)]    // empty chain
    [InlineData(0u, 65u)]   // longer than the device
    public void Backing_info_with_a_chain_outside_the_device_is_refused(uint first, uint count)
    {
        AssertInfoRefused(Encoded(GoodInfo() with { FirstSegment = first, SegmentCount = count }));
    }

    [Fact]
    public void Backing_info_with_a_full_device_chain_is_accepted()
    {
        var info = GoodInfo() with { FirstSegment = 63, SegmentCount = 64 };
        Assert.Equal(info, BackingInfo.Decode(Encoded(info), 3, InfoAt, Sb));
    }

    [Theory]
    [InlineData(-512L)]
    [InlineData(1000L)]
    [InlineData((1L << 60) + 512)]
    [InlineData(long.MinValue)]
    public void Backing_info_with_a_bad_size_is_refused(long size)
    {
        AssertInfoRefused(Encoded(GoodInfo() with { BackingSize = size }));
    }

    [Fact]
    public void Backing_info_with_a_path_length_past_the_field_is_refused()
    {
        foreach (uint len in new[] { 449u, 512u, uint.MaxValue })
        {
            var b = Encoded(GoodInfo());
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(52), len);
            AssertInfoRefused(b);
        }
    }

    [Fact]
    public void Backing_info_with_a_path_that_is_not_utf8_is_refused()
    {
        var b = Encoded(GoodInfo("/dev/sdb"));
        b[57] = 0xFF;
        AssertInfoRefused(b);
        b = Encoded(GoodInfo("/dev/sdb"));
        b[56 + 7] = 0xC3; // a truncated two-byte sequence at the end
        AssertInfoRefused(b);
    }

    // ---------------------------------------------------------------- keys

    private const long BackingSize = 64L << 20;
    private const uint Segs = 4;
    private static readonly int DataSize = Geometry.SegmentDataSize(Shift);

    private static KeyRecord Key(long offset = 4096, uint length = 4096, uint flags = 0, uint segment = 1, uint segOffset = 8192) =>
        new(offset, length, flags, segment, segOffset, 7, 0x1234);

    private static string? Problem(KeyRecord k) => k.Problem(BackingSize, Segs, DataSize);

    [Fact]
    public void Key_round_trips_in_40_bytes()
    {
        var k = new KeyRecord(0x0123_4567_8000, 0x8000_0000, KeyRecord.FlagClean, 0xFFFF_FFFE, 0x1234_5600, 0xFEDC_BA98_7654_3210, 0xCAFEBABE);
        var b = new byte[KeyRecord.Size + 8];
        b.AsSpan().Fill(0xEE);
        k.Encode(b);
        Assert.Equal(k, KeyRecord.Decode(b));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(36))); // reserved
        Assert.Equal(0xEE, b[KeyRecord.Size]); // nothing past 40 bytes
    }

    [Fact]
    public void Sound_keys_have_no_problem()
    {
        Assert.Null(Problem(Key()));
        Assert.Null(Problem(Key(flags: KeyRecord.FlagClean)));
        Assert.Null(Problem(Key(offset: BackingSize - 512, length: 512)));                 // last sector
        Assert.Null(Problem(Key(offset: (4 << 20) - 512, length: 512)));                   // last sector of a window
        Assert.Null(Problem(Key(offset: 4 << 20, length: (uint)DataSize, segOffset: 0)));  // a whole data area
        Assert.Null(Problem(Key(segment: Segs - 1, segOffset: (uint)DataSize - 4096)));    // last bytes of the last segment
    }

    [Theory]
    [InlineData(1u << 0)]  // EMPTY is never on media
    [InlineData(1u << 4)]
    [InlineData(1u << 8)]
    [InlineData(1u << 31)]
    public void Key_with_unknown_flags_has_a_problem(uint flag)
    {
        Assert.Contains("flags", Problem(Key(flags: KeyRecord.FlagClean | flag)));
    }

    [Theory]
    [InlineData(4096L, 0u)]
    [InlineData(4096L, 100u)]
    [InlineData(100L, 512u)]
    [InlineData(-512L, 512u)]
    [InlineData(long.MinValue, 512u)]
    public void Key_empty_or_unaligned_has_a_problem(long offset, uint length)
    {
        Assert.NotNull(Problem(Key(offset: offset, length: length)));
        Assert.NotNull(Problem(Key(offset: offset, length: length, flags: KeyRecord.FlagZero)));
    }

    [Theory]
    [InlineData(BackingSize - 512, 1024u)]
    [InlineData(BackingSize, 512u)]
    [InlineData(long.MaxValue - 511, 1024u)]
    public void Key_beyond_the_backing_has_a_problem(long offset, uint length)
    {
        Assert.Contains("beyond", Problem(Key(offset: offset, length: length, segOffset: 0)));
        Assert.Contains("beyond", Problem(Key(offset: offset, length: length, flags: KeyRecord.FlagZero)));
    }

    [Theory]
    [InlineData((4L << 20) - 512, 1024u)]
    [InlineData(0L, (4u << 20) + 512)]
    [InlineData((8L << 20) - 4096, 8192u)]
    public void Key_crossing_a_4_MiB_window_has_a_problem(long offset, uint length)
    {
        Assert.Contains("4 MiB", Problem(Key(offset: offset, length: length, segOffset: 0)));
        Assert.Contains("4 MiB", Problem(Key(offset: offset, length: length, flags: KeyRecord.FlagZero)));
    }

    [Fact]
    public void Key_data_in_a_segment_outside_the_backing_has_a_problem()
    {
        Assert.Contains("segment", Problem(Key(segment: Segs)));
        Assert.Contains("segment", Problem(Key(segment: uint.MaxValue)));
    }

    [Fact]
    public void Key_data_past_the_data_area_has_a_problem()
    {
        Assert.NotNull(Problem(Key(segOffset: (uint)DataSize - 512, length: 1024)));
        Assert.NotNull(Problem(Key(segOffset: (uint)DataSize, length: 512)));
        Assert.NotNull(Problem(Key(segOffset: uint.MaxValue - 511, length: 1024)));
        Assert.NotNull(Problem(Key(offset: 0, segOffset: 0, length: (uint)DataSize + 512))); // longer than a data area
    }

    [Fact]
    public void Zero_keys_have_no_data_fields_and_keep_the_range_checks()
    {
        Assert.Null(Problem(new KeyRecord(0, 4u << 20, KeyRecord.FlagZero | KeyRecord.FlagNoHole, 0, 0, 0, 0)));
        Assert.Null(Problem(new KeyRecord(4096, 512, KeyRecord.FlagZero, 0, 0, 0, 0)));
        // The engine never writes data fields into a data-less key: set, they are forged.
        Assert.NotNull(Problem(new KeyRecord(0, 512, KeyRecord.FlagZero, uint.MaxValue, 0, 0, 0)));
        Assert.NotNull(Problem(new KeyRecord(0, 512, KeyRecord.FlagZero, 0, 4096, 0, 0)));
        Assert.NotNull(Problem(new KeyRecord(0, 512, KeyRecord.FlagZero, 0, 0, 1, 0)));
        Assert.NotNull(Problem(new KeyRecord(0, 512, KeyRecord.FlagZero, 0, 0, 0, 0xABCD)));
        Assert.NotNull(Problem(new KeyRecord(BackingSize, 512, KeyRecord.FlagZero, 0, 0, 0, 0)));
    }

    // ---------------------------------------------------------------- ksets

    private static byte[] KeysKset(int keys, int room = -1, int seed = 1)
    {
        var b = new byte[room < 0 ? Kset.SizeOf(keys) : room];
        var rng = new Random(seed);
        for (int i = 0; i < keys; i++)
            Key(offset: rng.Next(0, 1000) * 512L, segOffset: (uint)i * 4096).Encode(b.AsSpan(Kset.HeaderSize + i * KeyRecord.Size));
        Kset.SealKeys(b, keys);
        return b;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(128)]
    public void Kset_of_keys_is_recognised(int keys)
    {
        var b = KeysKset(keys);
        Assert.Equal(Kset.Kind.Keys, Kset.Inspect(b, out int n, out _));
        Assert.Equal(keys, n);
        var big = new byte[Kset.MaxSize * 2];
        b.CopyTo(big, 0);
        Assert.Equal(Kset.Kind.Keys, Kset.Inspect(big, out n, out _));
        Assert.Equal(keys, n);
    }

    [Fact]
    public void Last_kset_names_the_next_segment()
    {
        var b = new byte[100];
        Kset.EncodeLast(b, 37);
        Assert.Equal(Kset.Kind.Last, Kset.Inspect(b, out int n, out uint next));
        Assert.Equal(37u, next);
        Assert.Equal(0, n);
        Assert.Equal(Kset.Kind.Last, Kset.Inspect(b.AsSpan(0, Kset.HeaderSize), out _, out next));
        b[3] ^= 1;
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b, out _, out _));
    }

    [Fact]
    public void Blank_or_foreign_ksets_end_the_log()
    {
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(new byte[Kset.MaxSize], out _, out _)); // an empty kset
        var b = KeysKset(4);
        b[8] ^= 1; // magic
        Crc.Seal(b);
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b, out _, out _));
    }

    [Fact]
    public void Kset_with_a_bad_crc_ends_the_log()
    {
        var b = KeysKset(10);
        for (int i = 0; i < b.Length; i += 37)
        {
            if (i is >= 8 and < 16) continue; // magic: covered above
            b[i] ^= 0x40;
            Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b, out int n, out _));
            Assert.Equal(0, n);
            b[i] ^= 0x40;
        }
        Assert.Equal(Kset.Kind.Keys, Kset.Inspect(b, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(129)]
    [InlineData(100000)]
    public void Kset_with_a_key_count_out_of_range_ends_the_log(int keys)
    {
        var b = new byte[Kset.SizeOf(Math.Min(keys, 200))];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)keys);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), Kset.Magic);
        Crc.Seal(b.AsSpan(0, Math.Min(b.Length, Kset.SizeOf(keys))));
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b, out int n, out _));
        Assert.Equal(0, n);
    }

    [Fact]
    public void Kset_with_unknown_flags_ends_the_log()
    {
        var b = KeysKset(3);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), 2);
        Crc.Seal(b);
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b, out _, out _));
        var last = new byte[Kset.HeaderSize];
        Kset.EncodeLast(last, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(last.AsSpan(16), Kset.FlagLast | 4);
        Crc.Seal(last);
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(last, out _, out _));
    }

    [Fact]
    public void Kset_that_does_not_fit_the_rest_of_the_segment_ends_the_log()
    {
        var b = KeysKset(20);
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b.AsSpan(0, b.Length - 1), out _, out _));
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b.AsSpan(0, Kset.HeaderSize), out _, out _));
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(b.AsSpan(0, Kset.HeaderSize - 1), out _, out _));
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(ReadOnlySpan<byte>.Empty, out _, out _));
        var last = new byte[Kset.HeaderSize];
        Kset.EncodeLast(last, 1);
        Assert.Equal(Kset.Kind.Invalid, Kset.Inspect(last.AsSpan(0, Kset.HeaderSize - 1), out _, out _));
    }

    // ---------------------------------------------------------------- log positions

    [Fact]
    public void Log_position_round_trips_inside_its_bounds()
    {
        var b = new byte[Geometry.TailRecordSize];
        foreach (var p in new[] { new LogPosition(0, 0), new LogPosition(Segs - 1, (uint)DataSize - Kset.HeaderSize), new LogPosition(2, 5144) })
        {
            p.Encode(b);
            Assert.Equal(p, LogPosition.Decode(b, "key_tail", 16384, Segs, DataSize));
        }
    }

    [Theory]
    [InlineData(4u, 0u)]                  // segment == count
    [InlineData(uint.MaxValue, 0u)]
    [InlineData(0u, 1036288u)]            // offset == data size (1 MiB - 12288)
    [InlineData(0u, uint.MaxValue - 7)]
    [InlineData(0u, 4u)]                  // not 8-byte aligned
    [InlineData(1u, 1036287u)]
    [InlineData(1u, 1036280u)]            // 8 bytes before the end: no room for the 24-byte linking kset
    [InlineData(1u, 1036272u)]            // 16 bytes before the end
    public void Log_position_outside_the_log_is_refused(uint segment, uint offset)
    {
        Assert.Equal(1036288, DataSize);
        var b = new byte[Geometry.TailRecordSize];
        new LogPosition(segment, offset).Encode(b);
        AssertRefused(() => LogPosition.Decode(b, "dirty_tail", 16416, Segs, DataSize), "dirty_tail", 16416);
    }

    // ---------------------------------------------------------------- segment header

    [Fact]
    public void Segment_info_round_trips_and_refuses_unknown_flags()
    {
        var b = new byte[Geometry.SegmentInfoSize];
        SegmentHeader.EncodeInfo(b, true, 12345);
        Assert.Equal((true, 12345u), SegmentHeader.DecodeInfo(b, 99));
        SegmentHeader.EncodeInfo(b, false, 0);
        Assert.Equal((false, 0u), SegmentHeader.DecodeInfo(b, 99));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 1u << 7);
        AssertRefused(() => SegmentHeader.DecodeInfo(b, 99), "segment_info", 99);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), SegmentHeader.TypeCacheData | (1u << 20));
        AssertRefused(() => SegmentHeader.DecodeInfo(b, 99), "segment_info", 99);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 0);
        AssertRefused(() => SegmentHeader.DecodeInfo(b, 99), "segment_info", 99);
        SegmentHeader.EncodeGen(b, 0xFEDC_BA98_7654_3210);
        Assert.Equal(0xFEDC_BA98_7654_3210ul, SegmentHeader.DecodeGen(b));
    }
}
