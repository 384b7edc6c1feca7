using Microsoft.Win32.SafeHandles;
using PCache.Engine.Platform;

namespace PCache.Engine.Backing;

/// <summary>
/// A regular file or block device through pread/pwrite. Flush is fdatasync; zeroing uses
/// fallocate on files and BLKZEROOUT/BLKDISCARD on block devices, falling back to writing zeroes.
/// </summary>
public sealed unsafe class FileBackingDevice : IBackingDevice
{
    private readonly SafeFileHandle _handle;
    private readonly bool _blockDevice;
    private static readonly byte[] Zeroes = new byte[1 << 20];

    private FileBackingDevice(string path, SafeFileHandle handle, long size, bool blockDevice)
    {
        Path = path;
        _handle = handle;
        Size = size;
        _blockDevice = blockDevice;
    }

    public string Path { get; }

    public long Size { get; }

    public static FileBackingDevice Open(string path)
    {
        var st = FileStat.Of(path);
        if (st.Kind == FileKind.Missing) throw new IOException($"{path}: no such backing device");
        if (st.Kind is not (FileKind.Regular or FileKind.BlockDevice))
            throw new IOException($"{path}: not a regular file or block device");
        SafeFileHandle handle;
        if (st.Kind == FileKind.BlockDevice)
        {
            // O_EXCL on a block device: the kernel refuses it while the device is mounted, held by
            // device-mapper or md, or opened exclusively by anyone else (another cache included).
            int fd = Libc.open(path, Libc.O_RDWR | Libc.O_EXCL | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                int errno = Libc.LastErrno();
                throw new IOException(errno == Libc.EBUSY
                    ? $"{path}: device is busy (mounted, or in use by another program or cache)"
                    : $"{path}: cannot open: {Libc.LastError()}");
            }
            handle = new SafeFileHandle(fd, ownsHandle: true);
        }
        else
        {
            try
            {
                handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new IOException($"{path}: {e.Message}", e);
            }
        }
        long size = st.Size;
        if (st.Kind == FileKind.BlockDevice)
        {
            ulong bytes;
            if (Libc.ioctl((int)handle.DangerousGetHandle(), Libc.BLKGETSIZE64, &bytes) != 0)
            {
                handle.Dispose();
                throw new IOException($"{path}: cannot read the device size: {Libc.LastError()}");
            }
            size = (long)bytes;
        }
        size &= ~511L;
        if (size <= 0)
        {
            handle.Dispose();
            throw new IOException($"{path}: backing device is empty");
        }
        return new FileBackingDevice(path, handle, size, st.Kind == FileKind.BlockDevice);
    }

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_handle, destination, offset);
            if (n <= 0)
            {
                destination.Clear(); // a sparse file shorter than its size reads as zeroes
                return;
            }
            destination = destination[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source) => RandomAccess.Write(_handle, source, offset);

    public void Flush()
    {
        if (Libc.fdatasync((int)_handle.DangerousGetHandle()) != 0)
            throw new IOException($"{Path}: flush failed: {Libc.LastError()}");
    }

    public void Zero(long offset, long length, bool keepAllocated)
    {
        int fd = (int)_handle.DangerousGetHandle();
        if (_blockDevice)
        {
            ulong* range = stackalloc ulong[2] { (ulong)offset, (ulong)length };
            if (Libc.ioctl(fd, Libc.BLKZEROOUT, range) == 0) return;
        }
        else
        {
            int mode = keepAllocated ? Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE
                                     : Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE;
            if (Libc.fallocate(fd, mode, offset, length) == 0) return;
        }
        while (length > 0)
        {
            int n = (int)Math.Min(length, Zeroes.Length);
            RandomAccess.Write(_handle, Zeroes.AsSpan(0, n), offset);
            offset += n;
            length -= n;
        }
    }

    public void Dispose() => _handle.Dispose();
}
