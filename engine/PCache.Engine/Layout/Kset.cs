using System.Buffers.Binary;

namespace PCache.Engine.Layout;

/// <summary>
/// A kset: 24-byte header (crc, key count or next segment, magic, flags) and up to 128 keys of 40
/// bytes. A LAST kset is a bare header naming the segment where the log continues.
/// </summary>
public static class Kset
{
    public const ulong Magic = 0x676894A64E164F1A;
    public const int HeaderSize = 24;
    public const int MaxKeys = 128;
    public const int MaxSize = HeaderSize + MaxKeys * KeyRecord.Size;
    public const ulong FlagLast = 1;

    public static int SizeOf(int keys) => HeaderSize + keys * KeyRecord.Size;

    public static void SealKeys(Span<byte> kset, int keys)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(kset[4..], (uint)keys);
        BinaryPrimitives.WriteUInt64LittleEndian(kset[8..], Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(kset[16..], 0);
        Crc.Seal(kset[..SizeOf(keys)]);
    }

    public static void EncodeLast(Span<byte> kset, uint nextSegment)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(kset[4..], nextSegment);
        BinaryPrimitives.WriteUInt64LittleEndian(kset[8..], Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(kset[16..], FlagLast);
        Crc.Seal(kset[..HeaderSize]);
    }

    public enum Kind { Invalid, Keys, Last }

    /// <summary>
    /// Classify the kset at the start of <paramref name="room"/> (the rest of the segment's data
    /// area). Invalid means end of log: bad magic, bad CRC, too many keys or not fitting.
    /// </summary>
    public static Kind Inspect(ReadOnlySpan<byte> room, out int keys, out uint nextSegment)
    {
        keys = 0;
        nextSegment = 0;
        if (room.Length < HeaderSize) return Kind.Invalid;
        if (BinaryPrimitives.ReadUInt64LittleEndian(room[8..]) != Magic) return Kind.Invalid;
        ulong flags = BinaryPrimitives.ReadUInt64LittleEndian(room[16..]);
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(room[4..]);
        if (flags == FlagLast)
        {
            if (!Crc.RecordValid(room[..HeaderSize])) return Kind.Invalid;
            nextSegment = n;
            return Kind.Last;
        }
        if (flags != 0 || n == 0 || n > MaxKeys) return Kind.Invalid;
        int size = SizeOf((int)n);
        if (size > room.Length || !Crc.RecordValid(room[..size])) return Kind.Invalid;
        keys = (int)n;
        return Kind.Keys;
    }
}

/// <summary>The 40-byte on-media key.</summary>
public readonly record struct KeyRecord(long Offset, uint Length, uint Flags, uint Segment, uint SegmentOffset,
    ulong Generation, uint DataCrc)
{
    public const int Size = 40;
    public const uint FlagClean = 1u << 1;
    /// <summary>PCache extension: a data-less key whose range reads as zeroes (WRITE_ZEROES, TRIM).</summary>
    public const uint FlagZero = 1u << 2;
    /// <summary>With <see cref="FlagZero"/>: keep the range allocated on the backing (NBD NO_HOLE).</summary>
    public const uint FlagNoHole = 1u << 3;
    public const uint KnownFlags = FlagClean | FlagZero | FlagNoHole;

    public bool IsZero => (Flags & FlagZero) != 0;
    public bool IsClean => (Flags & FlagClean) != 0;

    public void Encode(Span<byte> b)
    {
        BinaryPrimitives.WriteInt64LittleEndian(b, Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], Segment);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], SegmentOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(b[24..], Generation);
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], DataCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(b[36..], 0);
    }

    public static KeyRecord Decode(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt32LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[12..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[24..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[32..]));

    /// <summary>
    /// Media is untrusted: a key must be non-empty, sector aligned, inside the backing, inside one
    /// 4 MiB subtree window and (with data) inside one segment's data area.
    /// </summary>
    public string? Problem(long backingSize, uint segmentCount, int dataSize)
    {
        if ((Flags & ~KnownFlags) != 0) return $"unknown key flags {Flags:x}";
        if (Length == 0 || Offset < 0 || Offset % Geometry.SectorSize != 0 || Length % Geometry.SectorSize != 0)
            return $"key {Offset}+{Length} is empty or not sector aligned";
        if (Offset > backingSize - Length) return $"key {Offset}+{Length} beyond the {backingSize}-byte backing";
        if ((Offset >> Geometry.SubtreeShift) != ((Offset + Length - 1) >> Geometry.SubtreeShift))
            return $"key {Offset}+{Length} crosses a 4 MiB index window";
        // The engine writes a data-less key with every data field zero; anything else there is forged.
        if (IsZero) return (Segment | SegmentOffset | DataCrc) != 0 || Generation != 0 ? "zero key with data fields set" : null;
        if (Segment >= segmentCount) return $"key data in segment {Segment} outside the backing's {segmentCount}";
        if (SegmentOffset > dataSize - Length) return $"key data {SegmentOffset}+{Length} outside the segment data area";
        return null;
    }
}
