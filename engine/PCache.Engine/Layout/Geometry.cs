namespace PCache.Engine.Layout;

/// <summary>
/// Where things live on a cache device. Byte offsets follow dm-pcache's 4 KiB slots; what differs
/// is that one device holds several backings, each with its own cache_info (here: backing_info),
/// tails and chain of segments. Segments start at 2 MiB so they stay huge-page aligned on DAX.
/// </summary>
public static class Geometry
{
    public const long SuperblockOffset = 4096;
    public const int SuperblockSize = 128;
    public const long BackingTableOffset = 8192;
    public const int BackingSlotStride = 16384;
    public const int MaxBackings = 64;
    public const int BackingInfoSize = 512;
    public const int ReplicaStride = 4096;
    public const int CtrlOffsetInSlot = 8192;
    public const int TailRecordSize = 16;
    public const long SegmentsOffset = 2L << 20;

    public const int DefaultSegmentShift = 24; // 16 MiB, as dm-pcache
    public const int MinSegmentShift = 20;     // 1 MiB: small caches for tests and tiny devices
    public const int MaxSegmentShift = 30;
    public const int SegmentHeaderSize = 12288; // info x2 + generation control
    public const int SegmentGenOffset = 8192;
    public const int SegmentInfoSize = 16;
    public const int SegmentGenSize = 16;
    public const uint MaxSegments = 1u << 20;

    public const int SubtreeShift = 22; // 4 MiB of backing space per index subtree
    public const long SubtreeSize = 1L << SubtreeShift;
    public const int SectorSize = 512;

    public static long BackingSlot(int backingId) => BackingTableOffset + (long)backingId * BackingSlotStride;

    public static long BackingInfoReplica(int backingId, int slot) => BackingSlot(backingId) + (long)slot * ReplicaStride;

    public static long KeyTailReplica(int backingId, int slot) =>
        BackingSlot(backingId) + CtrlOffsetInSlot + slot * TailRecordSize;

    public static long DirtyTailReplica(int backingId, int slot) =>
        BackingSlot(backingId) + CtrlOffsetInSlot + (2 + slot) * TailRecordSize;

    public static long SegmentBase(int segmentShift, uint physicalId) => SegmentsOffset + ((long)physicalId << segmentShift);

    public static int SegmentDataSize(int segmentShift) => (1 << segmentShift) - SegmentHeaderSize;

    /// <summary>Whole segments that fit on a device of this size.</summary>
    public static uint SegmentsFor(long deviceSize, int segmentShift) =>
        deviceSize <= SegmentsOffset ? 0 : (uint)Math.Min(MaxSegments, (deviceSize - SegmentsOffset) >> segmentShift);
}
