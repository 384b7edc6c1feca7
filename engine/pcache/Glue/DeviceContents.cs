using System.Buffers.Binary;
using System.Text;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Daemon.Glue;

/// <summary>
/// What a device holds before it is formatted, in words: `cache-start --format` without --force
/// refuses anything but an all-zero start, and says what it found (a PCache cache device, an ext4
/// signature, a partition table...) so the admin knows what --force would destroy.
/// </summary>
internal static class DeviceContents
{
    private const int Probed = 64 * 1024;

    private static readonly (long Offset, byte[] Magic, string What)[] Signatures =
    [
        (0, "XFSB"u8.ToArray(), "an XFS filesystem signature"),
        (0, [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE], "a LUKS encrypted volume header"),
        (1080, [0x53, 0xEF], "an ext2/ext3/ext4 filesystem signature"),
        (65536 + 64, "_BHRfS_M"u8.ToArray(), "a btrfs filesystem signature"),
        (4086, "SWAPSPACE2"u8.ToArray(), "a swap area signature"),
        (4096 + 24, [0xc6, 0x85, 0x73, 0xf6, 0x4e, 0x1a, 0x45, 0xca, 0x82, 0x65, 0xf5, 0x7f, 0x48, 0xba, 0x6d, 0x81], "a bcache superblock"),
        (512, "LABELONE"u8.ToArray(), "an LVM2 physical volume label"),
        (512, "EFI PART"u8.ToArray(), "a GPT partition table"),
        (32769, "CD001"u8.ToArray(), "an ISO 9660 filesystem"),
        (510, [0x55, 0xAA], "a DOS/MBR partition table or boot sector"),
    ];

    /// <summary>Null when the device's first 64 KiB are zero and it holds no PCache superblock; else what is there.</summary>
    public static string? Describe(PmemRegion pmem)
    {
        if (IsPCache(pmem)) return DescribePCache(pmem);
        foreach (var (offset, magic, what) in Signatures)
        {
            if (offset + magic.Length <= pmem.Length && pmem.Span(offset, magic.Length).SequenceEqual(magic))
                return what;
        }
        var head = pmem.Span(0, (int)Math.Min(Probed, pmem.Length));
        int nonZero = head.IndexOfAnyExcept((byte)0);
        return nonZero < 0 ? null : $"data (a non-zero byte at offset {nonZero})";
    }

    /// <summary>The PCache magic is in place (the superblock may still be damaged).</summary>
    public static bool IsPCache(PmemRegion pmem) =>
        BinaryPrimitives.ReadUInt64LittleEndian(pmem.Span(Geometry.SuperblockOffset + 8, 8)) == Superblock.Magic;

    private static string DescribePCache(PmemRegion pmem)
    {
        try
        {
            using var device = CacheDevice.Open(pmem);
            int backings = device.StoredBackings.Count;
            string formatted = DateTimeOffset.FromUnixTimeSeconds(device.Superblock.FormatTimeSeconds).ToString("yyyy-MM-dd HH:mm:ssZ");
            return backings == 0
                ? $"a PCache cache device (formatted {formatted}, no backings)"
                : $"a PCache cache device (formatted {formatted}) recording {backings} backing{(backings == 1 ? "" : "s")} whose cached data would be lost";
        }
        catch (MediaException e)
        {
            return $"a damaged PCache cache device ({e.Message})";
        }
    }

    /// <summary>Segment size for a new cache: about a thousand segments, 1..16 MiB (dm-pcache uses 16 MiB).</summary>
    public static int SegmentShiftFor(long deviceSize)
    {
        int shift = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)Math.Max(1, deviceSize / 1024));
        return Math.Clamp(shift, Geometry.MinSegmentShift, Geometry.DefaultSegmentShift);
    }
}
