using System.Runtime.InteropServices;

namespace PCache.Engine.Platform;

/// <summary>The few libc calls the BCL does not expose: mmap with MAP_SYNC, msync, flock, statfs.</summary>
public static unsafe partial class Libc
{
    public const int PROT_READ = 1, PROT_WRITE = 2;
    public const int MAP_SHARED = 1, MAP_SHARED_VALIDATE = 3, MAP_SYNC = 0x80000, MAP_POPULATE = 0x8000;
    public const int MS_SYNC = 4;
    public const int LOCK_EX = 2, LOCK_NB = 4;
    public const int O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_CLOEXEC = 0x80000;
    public const int EINTR = 4, EBUSY = 16, ENOSPC = 28, EOPNOTSUPP = 95;
    public const long TMPFS_MAGIC = 0x01021994;
    public const int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, FALLOC_FL_ZERO_RANGE = 0x10;
    public const int POSIX_FADV_DONTNEED = 4;
    public const uint BLKGETSIZE64 = 0x80081272;
    public const uint BLKDISCARD = 0x1277, BLKZEROOUT = 0x127f;
    public static readonly IntPtr MAP_FAILED = new(-1);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(IntPtr addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int msync(IntPtr addr, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fstatfs(int fd, byte* buf);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fallocate(int fd, int mode, long offset, long len);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial long pwrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial long lseek(int fd, long offset, int whence);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);

    [LibraryImport("libc", SetLastError = true)]
    public static partial uint geteuid();

    public static string LastError() => Marshal.GetLastPInvokeErrorMessage();
    public static int LastErrno() => Marshal.GetLastPInvokeError();
}
