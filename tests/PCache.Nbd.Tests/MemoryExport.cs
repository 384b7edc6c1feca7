namespace PCache.Nbd.Tests;

/// <summary>An in-memory export for in-process tests; <see cref="Hold"/> parks I/O to keep requests in flight.</summary>
internal sealed class MemoryExport(string name, int size) : IBlockExport
{
    private readonly byte[] data = new byte[size];

    public string Name => name;
    public string Description => "memory:" + name;
    public long Size => data.Length;
    public bool ReadOnly { get; init; }
    public bool FastZero => true;

    /// <summary>While reset, reads and writes wait for it (they signal <see cref="Entered"/> first).</summary>
    public ManualResetEventSlim Hold { get; } = new(true);
    public SemaphoreSlim Entered { get; } = new(0);
    public int Flushes;
    public int CacheCalls;

    public void Read(long offset, Span<byte> destination)
    {
        Park();
        data.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> source, bool fua)
    {
        Park();
        source.CopyTo(data.AsSpan((int)offset));
    }

    public void Flush() => Interlocked.Increment(ref Flushes);
    public void Trim(long offset, long length, bool fua) { }
    public void WriteZeroes(long offset, long length, bool noHole, bool fua) => data.AsSpan((int)offset, (int)length).Clear();
    public void Cache(long offset, long length) => Interlocked.Increment(ref CacheCalls);

    public int BlockStatus(long offset, long length, Span<BlockExtent> extents)
    {
        extents[0] = new BlockExtent((uint)length, 0);
        return 1;
    }

    private void Park()
    {
        if (Hold.IsSet)
            return;
        Entered.Release();
        Hold.Wait();
    }
}
