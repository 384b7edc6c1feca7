using System.Buffers.Binary;
using System.Text;

namespace PCache.Engine.Layout;

/// <summary>
/// Per-backing record (dm-pcache's cache_info plus the backing's identity), two replicas in the
/// backing's slot of the table. 512 bytes, CRC over [4,512).
/// </summary>
public sealed record BackingInfo
{
    public const uint FlagDataCrc = 1u << 0;
    public const uint FlagInitDone = 1u << 1;
    public const int GcPercentShift = 6;
    public const uint GcPercentMask = 0x7Fu << GcPercentShift;
    public const uint FlagPersistOnWrite = 1u << 13;
    public const uint FlagActive = 1u << 14;
    /// <summary>Cache mode (<see cref="Cache.CacheMode"/>) in bits 15..17; bit 18 is reserved for it.</summary>
    public const int ModeShift = 15;
    public const uint ModeMask = 0x7u << ModeShift;
    public const int ModeMax = 4;
    public const int MaxPathBytes = 448;
    public const int GcPercentMin = 0, GcPercentMax = 90, GcPercentDefault = 70;

    public int BackingId { get; init; }
    public uint Flags { get; init; }
    public uint FirstSegment { get; init; }
    public uint SegmentCount { get; init; }
    public long BackingSize { get; init; }
    public ulong Fingerprint { get; init; }
    public ulong Incarnation { get; init; }
    public uint Queues { get; init; }
    public string Path { get; init; } = "";
    public WritebackPacing Pacing { get; init; } = WritebackPacing.Default;

    public bool DataCrc => (Flags & FlagDataCrc) != 0;
    public bool InitDone => (Flags & FlagInitDone) != 0;
    public bool Active => (Flags & FlagActive) != 0;
    public bool PersistOnWrite => (Flags & FlagPersistOnWrite) != 0;
    public int GcPercent => (int)((Flags & GcPercentMask) >> GcPercentShift);
    public Cache.CacheMode Mode => (Cache.CacheMode)((Flags & ModeMask) >> ModeShift);

    public static uint WithMode(uint flags, Cache.CacheMode mode)
    {
        if ((uint)mode > ModeMax) throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown cache mode");
        return (flags & ~ModeMask) | ((uint)mode << ModeShift);
    }

    /// <summary>Store gc_percent in the flags; the range is checked before the value is narrowed
    /// to its 7-bit field (unchecked, 300 would silently become 44).</summary>
    public static uint WithGcPercent(uint flags, int percent)
    {
        if (percent < GcPercentMin || percent > GcPercentMax)
            throw new ArgumentOutOfRangeException(nameof(percent), percent, $"gc_percent must be {GcPercentMin}..{GcPercentMax}");
        return (flags & ~GcPercentMask) | ((uint)percent << GcPercentShift);
    }

    public void Encode(Span<byte> b)
    {
        b = b[..Geometry.BackingInfoSize];
        b.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], (uint)BackingId);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], FirstSegment);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], SegmentCount);
        BinaryPrimitives.WriteInt64LittleEndian(b[24..], BackingSize);
        BinaryPrimitives.WriteUInt64LittleEndian(b[32..], Fingerprint);
        BinaryPrimitives.WriteUInt64LittleEndian(b[40..], Incarnation);
        BinaryPrimitives.WriteUInt32LittleEndian(b[48..], Queues);
        int n = Encoding.UTF8.GetBytes(Path, b[56..(56 + MaxPathBytes)]);
        BinaryPrimitives.WriteUInt32LittleEndian(b[52..], (uint)n);
        EncodePacing(b[PacingOffset..], Pacing);
    }

    // Write-back pacing, after the path: a format byte (0 = never recorded, so media written
    // before pacing existed read as the defaults), the watermark %, the maximum dirty age in
    // seconds (u16) and the rate in KiB/s (u32).
    public const int PacingOffset = 56 + MaxPathBytes;
    private const byte PacingRecorded = 1;

    private static void EncodePacing(Span<byte> b, WritebackPacing p)
    {
        p.Validated();
        b[0] = PacingRecorded;
        b[1] = (byte)p.WatermarkPercent;
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], (ushort)p.MaxAgeSeconds);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)(p.RateBytesPerSecond / WritebackPacing.RateUnit));
    }

    private static WritebackPacing DecodePacing(ReadOnlySpan<byte> b, long offset)
    {
        const string what = "backing_info pacing";
        if (b[0] == 0)
        {
            if (b[1..8].IndexOfAnyExcept((byte)0) >= 0)
                throw new MediaException(what, offset + PacingOffset, "holds settings but no format byte");
            return WritebackPacing.Default;
        }
        if (b[0] != PacingRecorded) throw new MediaException(what, offset + PacingOffset, $"format {b[0]} is unknown");
        if (b[1] > WritebackPacing.WatermarkMax)
            throw new MediaException(what, offset + PacingOffset + 1, $"watermark {b[1]} % out of range {WritebackPacing.WatermarkMin}..{WritebackPacing.WatermarkMax}");
        return new WritebackPacing
        {
            WatermarkPercent = b[1],
            MaxAgeSeconds = BinaryPrimitives.ReadUInt16LittleEndian(b[2..]),
            RateBytesPerSecond = BinaryPrimitives.ReadUInt32LittleEndian(b[4..]) * WritebackPacing.RateUnit,
        };
    }

    /// <summary>Decode a replica whose CRC already checked out; every field is bounds-checked.</summary>
    public static BackingInfo Decode(ReadOnlySpan<byte> b, int slotId, long offset, Superblock sb)
    {
        const string what = "backing_info";
        b = b[..Geometry.BackingInfoSize];
        int id = (int)BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
        if (id != slotId) throw new MediaException(what, offset, $"records backing id {id} in slot {slotId}");
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(b[12..]);
        int gc = (int)((flags & GcPercentMask) >> GcPercentShift);
        if (gc > GcPercentMax) throw new MediaException(what, offset, $"gc_percent {gc} out of range 0..{GcPercentMax}");
        uint mode = (flags & ModeMask) >> ModeShift;
        if (mode > ModeMax) throw new MediaException(what, offset, $"cache mode {mode} is unknown (0..{ModeMax})");
        uint first = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]);
        if ((flags & FlagActive) != 0 && (first >= sb.SegmentCount || count == 0 || count > sb.SegmentCount))
            throw new MediaException(what, offset, $"segment chain {first}+{count} outside the device's {sb.SegmentCount} segments");
        long size = BinaryPrimitives.ReadInt64LittleEndian(b[24..]);
        if (size < 0 || size % Geometry.SectorSize != 0 || size > (1L << 60))
            throw new MediaException(what, offset, $"backing size {size} is invalid");
        uint pathLen = BinaryPrimitives.ReadUInt32LittleEndian(b[52..]);
        if (pathLen > MaxPathBytes) throw new MediaException(what, offset, $"path length {pathLen} too long");
        string path;
        try { path = new UTF8Encoding(false, true).GetString(b.Slice(56, (int)pathLen)); }
        catch (DecoderFallbackException) { throw new MediaException(what, offset, "path is not valid UTF-8"); }
        return new BackingInfo
        {
            BackingId = id,
            Flags = flags,
            FirstSegment = first,
            SegmentCount = count,
            BackingSize = size,
            Fingerprint = BinaryPrimitives.ReadUInt64LittleEndian(b[32..]),
            Incarnation = BinaryPrimitives.ReadUInt64LittleEndian(b[40..]),
            Queues = BinaryPrimitives.ReadUInt32LittleEndian(b[48..]),
            Path = path,
            Pacing = DecodePacing(b[PacingOffset..], offset),
        };
    }
}
