using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PCache.Engine.Cache;
using PCache.Nbd;

namespace PCache.Daemon.Glue;

/// <summary>
/// One cached backing as an NBD export. This sits on the data path: every call goes straight to
/// the engine, with failures translated in exception filters so the success path allocates nothing.
/// The NBD server reports each answered request back, and its latency (receipt to reply) goes into
/// the backing's histograms.
/// </summary>
internal sealed class CacheExport : IBlockExport, IRequestTiming
{
    private readonly BackingCache _cache;
    private readonly RequestLatencies _latencies;

    static CacheExport()
    {
        // BlockStatus hands the server's extent buffer to the engine as is; the two structs must agree.
        if (Unsafe.SizeOf<BlockExtent>() != Unsafe.SizeOf<Extent>())
            throw new InvalidOperationException("NBD and engine extent layouts differ");
    }

    public CacheExport(string name, BackingCache cache, RequestLatencies latencies)
    {
        Name = name;
        _cache = cache;
        _latencies = latencies;
        Description = cache.Path;
        Size = cache.Size;
    }

    public string Name { get; }

    public string Description { get; }

    public long Size { get; }

    public bool ReadOnly => false;

    // A zeroed range costs the engine one key per 4 MiB and no data.
    public bool FastZero => true;

    public void Read(long offset, Span<byte> destination)
    {
        try { _cache.Read(offset, destination); }
        catch (Exception e) when (e is not BlockIOException) { throw ExportErrors.ToNbd(e, Name, "read", offset); }
    }

    public void Write(long offset, ReadOnlySpan<byte> data, bool fua)
    {
        try { _cache.Write(offset, data, fua); }
        catch (Exception e) when (e is not BlockIOException) { throw ExportErrors.ToNbd(e, Name, "write", offset); }
    }

    public void Flush()
    {
        try { _cache.Flush(); }
        catch (Exception e) when (e is not BlockIOException) { throw ExportErrors.ToNbd(e, Name, "flush", 0); }
    }

    public void Trim(long offset, long length, bool fua)
    {
        try { _cache.Discard(offset, length, fua); }
        catch (Exception e) when (e is not BlockIOException) { throw ExportErrors.ToNbd(e, Name, "trim", offset); }
    }

    public void WriteZeroes(long offset, long length, bool noHole, bool fua)
    {
        try { _cache.WriteZeroes(offset, length, noHole, fua); }
        catch (Exception e) when (e is not BlockIOException) { throw ExportErrors.ToNbd(e, Name, "write-zeroes", offset); }
    }

    public void Cache(long offset, long length)
    {
        try { _cache.Prefetch(offset, length); }
        catch (Exception e) when (e is not BlockIOException) { throw ExportErrors.ToNbd(e, Name, "cache", offset); }
    }

    public int BlockStatus(long offset, long length, Span<BlockExtent> extents)
    {
        try { return _cache.BlockStatus(offset, length, MemoryMarshal.Cast<BlockExtent, Extent>(extents)); }
        catch (Exception e) when (e is not BlockIOException) { throw ExportErrors.ToNbd(e, Name, "block-status", offset); }
    }

    public void Answered(RequestKind kind, long receivedTimestamp)
    {
        var op = kind switch
        {
            RequestKind.Read => LatencyOp.Read,
            RequestKind.Write => LatencyOp.Write,
            RequestKind.Flush => LatencyOp.Flush,
            RequestKind.Trim => LatencyOp.Trim,
            RequestKind.WriteZeroes => LatencyOp.WriteZeroes,
            _ => (LatencyOp)(-1),
        };
        if (op >= 0) _latencies.RecordTicks(op, Stopwatch.GetTimestamp() - receivedTimestamp);
    }
}
