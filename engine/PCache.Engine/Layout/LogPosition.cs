using System.Buffers.Binary;

namespace PCache.Engine.Layout;

/// <summary>
/// A position in a backing's key log: cache segment id (index in the backing's chain) and byte
/// offset in that segment's data area. Persisted as key_tail / dirty_tail, 16-byte replicas.
/// </summary>
public readonly record struct LogPosition(uint Segment, uint Offset)
{
    public override string ToString() => $"{Segment}:{Offset}";

    public void Encode(Span<byte> b)
    {
        b[..Geometry.TailRecordSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b[8..], Segment);
        BinaryPrimitives.WriteUInt32LittleEndian(b[12..], Offset);
    }

    public static LogPosition Decode(ReadOnlySpan<byte> b, string what, long offset, uint segmentCount, int dataSize)
    {
        var p = new LogPosition(BinaryPrimitives.ReadUInt32LittleEndian(b[8..]), BinaryPrimitives.ReadUInt32LittleEndian(b[12..]));
        if (p.Segment >= segmentCount) throw new MediaException(what, offset, $"segment {p.Segment} outside the backing's {segmentCount}");
        if (p.Offset >= dataSize || p.Offset % 8 != 0) throw new MediaException(what, offset, $"offset {p.Offset} outside the {dataSize}-byte data area");
        if (!LeavesLinkRoom(p.Offset, dataSize))
            throw new MediaException(what, offset, $"offset {p.Offset} leaves no room for the {Kset.HeaderSize}-byte kset that links to the next segment");
        return p;
    }

    /// <summary>
    /// Every position the log can hold leaves room for a LAST kset behind it: a position closer to
    /// the end of the data area would make the next segment switch write past it, over the header
    /// of the next physical segment.
    /// </summary>
    public static bool LeavesLinkRoom(long offset, int dataSize) => offset >= 0 && offset <= dataSize - Kset.HeaderSize;
}
