namespace PCache.Nbd;

/// <summary>
/// What the NBD server needs from one exported block device. The server knows nothing of the
/// cache behind it: the daemon adapts each cached backing to this interface, and tests can plug
/// in a memory-backed export.
/// Operations are synchronous and may block (a full cache makes writers wait for write-back);
/// the server calls them from worker threads, concurrently, with ranges already validated
/// against <see cref="Size"/>. Failures are reported by throwing <see cref="BlockIOException"/>.
/// </summary>
public interface IBlockExport
{
    /// <summary>Export name clients ask for, e.g. "pcache0".</summary>
    string Name { get; }

    /// <summary>Human-readable description (sent as NBD_INFO_DESCRIPTION), e.g. the backing path.</summary>
    string Description { get; }

    /// <summary>Size in bytes (a multiple of 512).</summary>
    long Size { get; }

    bool ReadOnly { get; }

    /// <summary>True when <see cref="WriteZeroes"/> never writes data blocks, so NBD FAST_ZERO may be advertised.</summary>
    bool FastZero { get; }

    void Read(long offset, Span<byte> destination);

    /// <summary>Store data; with <paramref name="fua"/> it must be durable before returning.</summary>
    void Write(long offset, ReadOnlySpan<byte> data, bool fua);

    /// <summary>Make every write acknowledged before this call durable (on every connection).</summary>
    void Flush();

    /// <summary>Discard a range; its contents are unspecified until rewritten.</summary>
    void Trim(long offset, long length, bool fua);

    /// <summary>Make the range read as zeroes; with <paramref name="noHole"/> keep it allocated.</summary>
    void WriteZeroes(long offset, long length, bool noHole, bool fua);

    /// <summary>Prefetch the range into the cache (NBD_CMD_CACHE): no change of contents.</summary>
    void Cache(long offset, long length);

    /// <summary>
    /// base:allocation for [offset, offset+length): writes consecutive extents starting at
    /// <paramref name="offset"/> into <paramref name="extents"/> and returns how many were written
    /// (at least one). Flags use NBD_STATE_HOLE (1) and NBD_STATE_ZERO (2); 0 means data.
    /// The extents may cover less than asked (the client re-queries) but never more than asked.
    /// </summary>
    int BlockStatus(long offset, long length, Span<BlockExtent> extents);
}

/// <summary>One base:allocation extent.</summary>
public readonly record struct BlockExtent(uint Length, uint Flags);

/// <summary>The set of exports the server offers; may change while the server runs.</summary>
public interface IExportCatalog
{
    bool TryGet(string name, out IBlockExport export);

    IReadOnlyList<IBlockExport> List();
}

/// <summary>An I/O failure to report to the client as an NBD error value.</summary>
public sealed class BlockIOException : IOException
{
    public BlockIOException(NbdErrno error, string message) : base(message) => Error = error;

    public NbdErrno Error { get; }
}

/// <summary>The error values NBD puts on the wire (never raw host errno values).</summary>
public enum NbdErrno : uint
{
    None = 0,
    EPERM = 1,
    EIO = 5,
    ENOMEM = 12,
    EINVAL = 22,
    ENOSPC = 28,
    EOVERFLOW = 75,
    ENOTSUP = 95,
    ESHUTDOWN = 108,
}
