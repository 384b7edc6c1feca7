using System.Buffers.Binary;

namespace PCache.Engine.Layout;

/// <summary>
/// The device superblock (single copy, written once at format; 128 bytes at 4096, CRC over [4,128)).
/// Its magic differs from the kernel's so neither tool mistakes the other's device for its own.
/// </summary>
public readonly record struct Superblock(uint Flags, uint Version, int SegmentShift, uint SegmentCount,
    uint MaxBackings, Guid DeviceId, long FormatTimeSeconds)
{
    public const ulong Magic = 0x3176_6863_6163_5050; // "PPcachv1" little-endian
    public const uint CurrentVersion = 1;
    public const uint FlagBigEndian = 1;

    public long SegmentSize => 1L << SegmentShift;

    public void Encode(Span<byte> b)
    {
        b[..Geometry.SuperblockSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], (uint)SegmentShift);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], SegmentCount);
        BinaryPrimitives.WriteUInt32LittleEndian(b[28..], MaxBackings);
        BinaryPrimitives.WriteUInt64LittleEndian(b[32..], (ulong)Geometry.SegmentsOffset);
        DeviceId.TryWriteBytes(b[40..56]);
        BinaryPrimitives.WriteInt64LittleEndian(b[56..], FormatTimeSeconds);
        Crc.Seal(b[..Geometry.SuperblockSize]);
    }

    /// <summary>True when the magic is zero: a blank device that can be formatted.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadUInt64LittleEndian(b[8..]) == 0;

    /// <summary>Decode and validate against the device size; throws <see cref="MediaException"/>.</summary>
    public static Superblock Decode(ReadOnlySpan<byte> b, long deviceSize)
    {
        const string what = "superblock";
        const long at = Geometry.SuperblockOffset;
        b = b[..Geometry.SuperblockSize];
        ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
        if (magic != Magic) throw new MediaException(what, at, $"not a PCache device (magic {magic:x16})");
        if (!Crc.RecordValid(b)) throw new MediaException(what, at, "CRC mismatch");
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(b[4..]);
        if ((flags & FlagBigEndian) != (BitConverter.IsLittleEndian ? 0u : FlagBigEndian))
            throw new MediaException(what, at, "formatted on a host of the other byte order");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(b[16..]);
        if (version != CurrentVersion) throw new MediaException(what, at, $"format version {version} is not supported (this build reads {CurrentVersion})");
        uint shift = BinaryPrimitives.ReadUInt32LittleEndian(b[20..]);
        if (shift < Geometry.MinSegmentShift || shift > Geometry.MaxSegmentShift)
            throw new MediaException(what, at, $"segment size 2^{shift} out of range");
        uint segs = BinaryPrimitives.ReadUInt32LittleEndian(b[24..]);
        uint fits = Geometry.SegmentsFor(deviceSize, (int)shift);
        if (segs == 0 || segs > fits)
            throw new MediaException(what, at, $"{segs} segments do not fit a {deviceSize}-byte device (at most {fits})");
        uint maxBackings = BinaryPrimitives.ReadUInt32LittleEndian(b[28..]);
        if (maxBackings != Geometry.MaxBackings) throw new MediaException(what, at, $"backing table of {maxBackings} slots is not supported");
        if (BinaryPrimitives.ReadUInt64LittleEndian(b[32..]) != (ulong)Geometry.SegmentsOffset)
            throw new MediaException(what, at, "unexpected segment area offset");
        return new Superblock(flags, version, (int)shift, segs, maxBackings, new Guid(b[40..56]),
            BinaryPrimitives.ReadInt64LittleEndian(b[56..]));
    }
}
