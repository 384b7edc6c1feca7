using System.Runtime.InteropServices;
using PCache.Engine.Cache;
using PCache.Nbd;

namespace PCache.NbdHost;

/// <summary>
/// A cached backing as an NBD export, as the daemon serves it: every call goes to the engine and
/// failures become NBD errors (argument problems EINVAL, a stopping cache ESHUTDOWN, I/O EIO).
/// </summary>
internal sealed class EngineBlockExport(string name, BackingCache cache) : IBlockExport
{
    public string Name { get; } = name;
    public string Description => cache.Path;
    public long Size => cache.Size;
    public bool ReadOnly => false;
    public bool FastZero => true;

    public void Read(long offset, Span<byte> destination)
    {
        try { cache.Read(offset, destination); }
        catch (Exception e) when (e is not BlockIOException) { throw Map(e); }
    }

    public void Write(long offset, ReadOnlySpan<byte> data, bool fua)
    {
        try { cache.Write(offset, data, fua); }
        catch (Exception e) when (e is not BlockIOException) { throw Map(e); }
    }

    public void Flush()
    {
        try { cache.Flush(); }
        catch (Exception e) when (e is not BlockIOException) { throw Map(e); }
    }

    public void Trim(long offset, long length, bool fua)
    {
        try { cache.Discard(offset, length, fua); }
        catch (Exception e) when (e is not BlockIOException) { throw Map(e); }
    }

    public void WriteZeroes(long offset, long length, bool noHole, bool fua)
    {
        try { cache.WriteZeroes(offset, length, noHole, fua); }
        catch (Exception e) when (e is not BlockIOException) { throw Map(e); }
    }

    public void Cache(long offset, long length)
    {
        try { cache.Prefetch(offset, length); }
        catch (Exception e) when (e is not BlockIOException) { throw Map(e); }
    }

    public int BlockStatus(long offset, long length, Span<BlockExtent> extents)
    {
        try { return cache.BlockStatus(offset, length, MemoryMarshal.Cast<BlockExtent, Extent>(extents)); }
        catch (Exception e) when (e is not BlockIOException) { throw Map(e); }
    }

    private BlockIOException Map(Exception e) => e switch
    {
        ArgumentException => new BlockIOException(NbdErrno.EINVAL, $"{Name}: {e.Message}"),
        CacheStoppedException => new BlockIOException(NbdErrno.ESHUTDOWN, $"{Name}: {e.Message}"),
        _ => new BlockIOException(NbdErrno.EIO, $"{Name}: {e.Message}"),
    };
}
