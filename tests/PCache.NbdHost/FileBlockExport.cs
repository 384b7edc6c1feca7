using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using PCache.Nbd;

namespace PCache.NbdHost;

/// <summary>
/// An export backed by a plain file, standing in for the cache engine until it is ready: this is the one
/// file to replace when the host switches to the real engine. Holes, zeroing and prefetch use the
/// file system (fallocate, SEEK_DATA/SEEK_HOLE, fadvise) so every NBD command has a real effect.
/// </summary>
internal sealed partial class FileBlockExport : IBlockExport, IDisposable
{
    private const int FallocKeepSize = 0x01, FallocPunchHole = 0x02;
    private const int SeekData = 3, SeekHole = 4;
    private const int FadvWillNeed = 3;
    private const int ENXIO = 6;

    private readonly SafeFileHandle file;
    private readonly int fd;

    public FileBlockExport(string name, string path, long? size)
    {
        Name = name;
        Description = path;
        file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        if (size is { } wanted && RandomAccess.GetLength(file) < wanted)
            RandomAccess.SetLength(file, wanted);
        Size = (size ?? RandomAccess.GetLength(file)) / 512 * 512;
        fd = (int)file.DangerousGetHandle();
    }

    public string Name { get; }
    public string Description { get; }
    public long Size { get; }
    public bool ReadOnly => false;
    public bool FastZero => true;

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n;
            try { n = RandomAccess.Read(file, destination, offset); }
            catch (IOException e) { throw new BlockIOException(NbdErrno.EIO, e.Message); }
            if (n == 0)
            {
                destination.Clear();   // past the end of a short file: reads as zeroes
                return;
            }
            destination = destination[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data, bool fua)
    {
        try { RandomAccess.Write(file, data, offset); }
        catch (IOException e) { throw new BlockIOException(NbdErrno.EIO, e.Message); }
        if (fua)
            Flush();
    }

    public void Flush() => Sys(FdataSync(fd), "fdatasync");

    public void Trim(long offset, long length, bool fua)
    {
        Fallocate(fd, FallocPunchHole | FallocKeepSize, offset, length);   // a hint: failure is fine
        if (fua)
            Flush();
    }

    public void WriteZeroes(long offset, long length, bool noHole, bool fua)
    {
        // Punch, then (NO_HOLE) allocate again: unwritten extents read as zero and no data block is written.
        if (Fallocate(fd, FallocPunchHole | FallocKeepSize, offset, length) != 0
            || (noHole && Fallocate(fd, FallocKeepSize, offset, length) != 0))
            WriteZeroBytes(offset, length);
        if (fua)
            Flush();
    }

    public void Cache(long offset, long length)
    {
        int error = Fadvise(fd, offset, length, FadvWillNeed);
        if (error != 0)
            throw new BlockIOException(NbdErrno.EIO, $"posix_fadvise failed: errno {error}");
    }

    public int BlockStatus(long offset, long length, Span<BlockExtent> extents)
    {
        long end = offset + length;
        int count = 0;
        while (offset < end && count < extents.Length)
        {
            // At offset we are either in data (next hole ends the extent) or in a hole (next data ends it).
            long hole = Lseek(fd, offset, SeekHole);
            if (hole < 0)
                return Fallback(extents, length);
            bool inData = hole > offset;
            long next = inData ? hole : Lseek(fd, offset, SeekData);
            if (next < 0)
                next = Marshal.GetLastPInvokeError() == ENXIO ? end : -1;
            if (next < 0)
                return Fallback(extents, length);
            long extentEnd = Math.Min(Math.Min(next, end), offset + uint.MaxValue / 512 * 512);
            extentEnd = Math.Max(extentEnd, offset + 512) / 512 * 512;   // keep extents 512-aligned
            extentEnd = Math.Min(extentEnd, end);
            extents[count++] = new BlockExtent((uint)(extentEnd - offset), inData ? 0u : 3u);
            offset = extentEnd;
        }
        return count;
    }

    public void Dispose() => file.Dispose();

    private static int Fallback(Span<BlockExtent> extents, long length)
    {
        extents[0] = new BlockExtent((uint)Math.Min(length, uint.MaxValue / 512 * 512), 0);
        return 1;
    }

    private void WriteZeroBytes(long offset, long length)
    {
        var zeros = new byte[(int)Math.Min(length, 1 << 20)];
        for (long done = 0; done < length; done += zeros.Length)
            Write(offset + done, zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - done)), false);
    }

    private static void Sys(int result, string call)
    {
        if (result != 0)
            throw new BlockIOException(NbdErrno.EIO, $"{call} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdataSync(int fd);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);

    // posix_fadvise returns the error number instead of setting errno.
    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Fadvise(int fd, long offset, long length, int advice);
}
