using PCache.Engine.Platform;

namespace PCache.Engine.Pmem;

/// <summary>
/// A cache device mapped MAP_SHARED: a devdax character device, a file on a DAX filesystem
/// (MAP_SYNC), a block device or a regular file. A file on tmpfs (/dev/shm) stands in for pmem on
/// machines without it: its pages are the memory itself, so it gets the same store+fence path.
/// Any other mapping (a file on a disk filesystem, an SSD) is non-DAX: stores are writes to the file
/// (pwrite) that dirty its page cache, made durable in batches by <see cref="BatchedSync"/>; reads go
/// through a read-only mapping of the same pages. Stores through a writable mapping cost a page fault
/// per page after every sync (the sync write-protects what it cleans, and in a VM each fault and the
/// TLB flush behind it is dear): in the profile of 4 KiB writes at queue depth 32 those faults and
/// their write-protect walks were a quarter of the daemon's time.
/// </summary>
public sealed unsafe class MappedPmem : PmemRegion
{
    private readonly int _fd;
    private readonly string _mode;
    private readonly BatchedSync? _batch;
    private int _disposed;

    private MappedPmem(byte* baseAddress, long length, int fd, string mode, string path)
        : base(baseAddress, length)
    {
        _fd = fd;
        _mode = mode;
        Path = path;
        if (mode == "msync") _batch = new BatchedSync(path, SyncRanges);
    }

    public string Path { get; }

    public override string PersistMode => _mode;

    /// <summary>
    /// Open (and with <paramref name="createSize"/>, create) a cache device and lock it against a
    /// second user. Throws <see cref="PmemException"/> with a message meant for an admin.
    /// </summary>
    public static MappedPmem Open(string path, long createSize = 0, long minimumSize = 0)
    {
        var st = FileStat.Of(path);
        bool created = false;
        if (st.Kind == FileKind.Missing)
        {
            if (createSize <= 0)
                throw new PmemException($"{path}: no such cache device (give a size to create a file)");
            int cfd = Libc.open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0x180);
            if (cfd < 0) throw new PmemException($"{path}: cannot create: {Libc.LastError()}");
            if (Libc.ftruncate(cfd, createSize) != 0)
            {
                string err = Libc.LastError();
                Libc.close(cfd);
                File.Delete(path);
                throw new PmemException($"{path}: cannot size to {createSize} bytes: {err}");
            }
            Libc.close(cfd);
            created = true;
            st = FileStat.Of(path);
        }
        else if (createSize > 0 && st.Kind == FileKind.Regular && st.Size < createSize)
        {
            throw new PmemException($"{path}: exists with {st.Size} bytes, smaller than the {createSize} asked for");
        }

        if (st.Kind is FileKind.Other or FileKind.Missing)
            throw new PmemException($"{path}: not a regular file, block device or devdax device");

        int flags = Libc.O_RDWR | Libc.O_CLOEXEC;
        if (st.Kind == FileKind.BlockDevice) flags |= Libc.O_EXCL; // refuses a device that is mounted or held
        int fd = Libc.open(path, flags, 0);
        if (fd < 0)
        {
            int errno = Libc.LastErrno();
            throw new PmemException(errno == 16
                ? $"{path}: device is busy (mounted or in use by another program)"
                : $"{path}: cannot open: {Libc.LastError()}");
        }
        try
        {
            if (Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
                throw new PmemException($"{path}: already in use by another pcache daemon (locked)");

            long size = st.Kind switch
            {
                FileKind.Regular => st.Size,
                FileKind.BlockDevice => BlockDeviceSize(fd, path),
                _ => CharDeviceSize(st, path),
            };
            if (size < minimumSize)
                throw new PmemException($"{path}: {size} bytes is too small for a cache device (at least {minimumSize} needed)");

            if (st.Kind == FileKind.Regular) Reserve(fd, size, path);

            string mode;
            IntPtr addr;
            var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture;
            if (st.Kind == FileKind.CharDevice)
            {
                if (DaxPolicy.DevDaxRefusal(arch, path) is { } refusal) throw new PmemException(refusal);
                addr = Libc.mmap(IntPtr.Zero, (nuint)size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, fd, 0);
                mode = "dax";
            }
            else
            {
                // Memory-like media are mapped in full up front (MAP_POPULATE): a page-table fault per
                // first store cost about a tenth of a 4 KiB write's time in the NBD benchmark, and real
                // pmem has no first touch. A file on disk is not: that would read all of it at start.
                addr = !DaxPolicy.UseMapSync(arch) ? Libc.MAP_FAILED : Libc.mmap(IntPtr.Zero, (nuint)size, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_SHARED_VALIDATE | Libc.MAP_SYNC | Libc.MAP_POPULATE, fd, 0);
                if (addr != Libc.MAP_FAILED) mode = "dax";
                else
                {
                    bool tmpfs = IsTmpfs(fd);
                    addr = Libc.mmap(IntPtr.Zero, (nuint)size, tmpfs ? Libc.PROT_READ | Libc.PROT_WRITE : Libc.PROT_READ,
                        Libc.MAP_SHARED | (tmpfs ? Libc.MAP_POPULATE : 0), fd, 0);
                    mode = tmpfs ? "memory" : "msync";
                }
            }
            if (addr == Libc.MAP_FAILED)
                throw new PmemException($"{path}: cannot map {size} bytes: {Libc.LastError()}");
            return new MappedPmem((byte*)addr, size, fd, mode, path);
        }
        catch
        {
            Libc.close(fd);
            if (created) File.Delete(path); // do not leave behind a file the caller never got
            throw;
        }
    }

    private static long BlockDeviceSize(int fd, string path)
    {
        ulong size;
        if (Libc.ioctl(fd, Libc.BLKGETSIZE64, &size) != 0)
            throw new PmemException($"{path}: cannot read the block device size: {Libc.LastError()}");
        return (long)size;
    }

    private static long CharDeviceSize(FileStat st, string path)
    {
        string sys = $"/sys/dev/char/{st.RdevMajor}:{st.RdevMinor}/size";
        if (!File.Exists(sys) || !long.TryParse(File.ReadAllText(sys).Trim(), out long size))
            throw new PmemException($"{path}: character device is not a devdax device ({sys} missing)");
        return size;
    }

    /// <summary>
    /// Give a cache file all its space now. A store into a hole of a mapped file that the file system
    /// cannot back (tmpfs or a disk full) kills the process with SIGBUS, not an I/O error; with the
    /// space reserved at start that can no longer happen, and a full file system is an error here.
    /// Reserving keeps the data already there (a formatted cache reopened).
    /// </summary>
    private static void Reserve(int fd, long size, string path)
    {
        if (Libc.fallocate(fd, 0, 0, size) == 0) return;
        int errno = Libc.LastErrno();
        if (errno == Libc.EOPNOTSUPP) return; // a file system without fallocate: nothing to reserve with
        throw new PmemException(errno == Libc.ENOSPC
            ? $"{path}: no space to reserve the cache file's {size} bytes (its file system is full)"
            : $"{path}: cannot reserve the cache file's {size} bytes: {Libc.LastError()}");
    }

    private static bool IsTmpfs(int fd)
    {
        byte* buf = stackalloc byte[128];
        return Libc.fstatfs(fd, buf) == 0 && *(long*)buf == Libc.TMPFS_MAGIC;
    }

    public override void Store(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        fixed (byte* src = source)
        {
            if (_batch is not null)
            {
                WriteFile(src, source.Length, offset);
                _batch.Mark(offset, source.Length);
            }
            else
            {
                NonTemporal.Copy(Base + offset, src, source.Length);
            }
        }
    }

    public override void StoreZero(long offset, long length)
    {
        CheckRange(offset, length);
        if (_batch is not null)
        {
            fixed (byte* zeroes = Zeroes)
            {
                for (long done = 0; done < length; done += Zeroes.Length)
                    WriteFile(zeroes, (int)Math.Min(Zeroes.Length, length - done), offset + done);
            }
            _batch.Mark(offset, length);
        }
        else
        {
            NonTemporal.Zero(Base + offset, length);
        }
    }

    private static readonly byte[] Zeroes = new byte[1 << 20];

    /// <summary>The whole of a store, into the file's page cache (the mapping sees it at once).</summary>
    private void WriteFile(byte* source, int length, long offset)
    {
        while (length > 0)
        {
            long n = Libc.pwrite(_fd, source, (nuint)length, offset);
            if (n < 0)
            {
                if (Libc.LastErrno() == Libc.EINTR) continue;
                throw new IOException($"{Path}: write to the cache device failed: {Libc.LastError()}");
            }
            source += n;
            length -= (int)n;
            offset += n;
        }
    }

    public override void Fence()
    {
        if (_batch is not null) _batch.Commit(_batch.Staged);
        else NonTemporal.StoreFence();
    }

    public override void Stage()
    {
        if (_batch is null) NonTemporal.StoreFence();
    }

    public override long Staged => _batch?.Staged ?? 0;

    public override void Commit(long upTo) => _batch?.Commit(upTo);

    public override long Syncs => _batch?.Syncs ?? 0;

    /// <summary>One range: msync it. Several: one fdatasync, so the device flushes its cache once, not per range.</summary>
    private void SyncRanges(DirtyRanges ranges, int count)
    {
        if (count == 1)
        {
            if (Libc.msync((IntPtr)(Base + ranges.Start(0)), (nuint)ranges.Length(0), Libc.MS_SYNC) != 0)
                throw new IOException($"{Path}: msync failed: {Libc.LastError()}");
        }
        else if (Libc.fdatasync(_fd) != 0)
        {
            throw new IOException($"{Path}: fdatasync failed: {Libc.LastError()}");
        }
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_mode == "msync") Libc.msync((IntPtr)Base, (nuint)Length, Libc.MS_SYNC);
        Libc.munmap((IntPtr)Base, (nuint)Length);
        Libc.close(_fd);
    }
}

/// <summary>A cache device cannot be opened or used; the message names the device and the reason.</summary>
public sealed class PmemException(string message) : IOException(message);
