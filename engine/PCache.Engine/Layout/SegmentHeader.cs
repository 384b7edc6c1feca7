using System.Buffers.Binary;

namespace PCache.Engine.Layout;

/// <summary>
/// The head of every segment: two replicas of segment info (flags, next segment in the backing's
/// chain) at +0/+4096 and two replicas of the generation at +8192/+8208.
/// </summary>
public static class SegmentHeader
{
    public const uint FlagHasNext = 1;
    public const uint TypeCacheData = 1u << 1;
    private const uint TypeMask = 0xFu << 1;

    public static void EncodeInfo(Span<byte> b, bool hasNext, uint next)
    {
        b[..Geometry.SegmentInfoSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], TypeCacheData | (hasNext ? FlagHasNext : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], next);
    }

    public static (bool hasNext, uint next) DecodeInfo(ReadOnlySpan<byte> b, long offset)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
        if ((flags & TypeMask) != TypeCacheData || (flags & ~(TypeMask | FlagHasNext)) != 0)
            throw new MediaException("segment_info", offset, $"unknown flags {flags:x}");
        return ((flags & FlagHasNext) != 0, BinaryPrimitives.ReadUInt32LittleEndian(b[12..]));
    }

    public static void EncodeGen(Span<byte> b, ulong gen)
    {
        b[..Geometry.SegmentGenSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], gen);
    }

    public static ulong DecodeGen(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
}
