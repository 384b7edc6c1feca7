using System.Buffers.Binary;

namespace PCache.Engine.Platform;

public enum FileKind { Missing, Regular, BlockDevice, CharDevice, Other }

/// <summary>statx(2) results: statx has one layout on every architecture, unlike struct stat.</summary>
public readonly record struct FileStat(FileKind Kind, long Size, ulong Inode, long BirthTimeSeconds,
    uint DevMajor, uint DevMinor, uint RdevMajor, uint RdevMinor, uint Uid)
{
    private const int AT_FDCWD = -100;
    private const uint STATX_BASIC_STATS_AND_BTIME = 0xfff;

    public static unsafe FileStat Of(string path)
    {
        byte* buf = stackalloc byte[256];
        if (Libc.statx(AT_FDCWD, path, 0, STATX_BASIC_STATS_AND_BTIME, buf) != 0)
        {
            int errno = Libc.LastErrno();
            if (errno == 2) return new FileStat(FileKind.Missing, 0, 0, 0, 0, 0, 0, 0, 0);
            throw new IOException($"{path}: {Libc.LastError()}");
        }
        var s = new ReadOnlySpan<byte>(buf, 256);
        uint mask = BinaryPrimitives.ReadUInt32LittleEndian(s);
        ushort mode = BinaryPrimitives.ReadUInt16LittleEndian(s[28..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x6000 => FileKind.BlockDevice,
            0x2000 => FileKind.CharDevice,
            _ => FileKind.Other,
        };
        long btime = (mask & 0x800) != 0 ? BinaryPrimitives.ReadInt64LittleEndian(s[80..]) : 0;
        return new FileStat(kind,
            BinaryPrimitives.ReadInt64LittleEndian(s[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(s[32..]),
            btime,
            BinaryPrimitives.ReadUInt32LittleEndian(s[136..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[140..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[128..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[132..]),
            BinaryPrimitives.ReadUInt32LittleEndian(s[20..]));
    }
}
