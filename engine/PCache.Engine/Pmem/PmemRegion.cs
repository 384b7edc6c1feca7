namespace PCache.Engine.Pmem;

/// <summary>
/// A byte-addressable persistent region. Reads go straight through <see cref="Base"/>; every store
/// goes through <see cref="Store"/> so that the crash-simulating stand-in can see it, and becomes
/// durable only at the next <see cref="Fence"/> issued by the same thread (the DAX model:
/// cache-bypassing stores, then a store fence).
/// </summary>
public abstract unsafe class PmemRegion : IDisposable
{
    protected PmemRegion(byte* baseAddress, long length)
    {
        Base = baseAddress;
        Length = length;
    }

    public byte* Base { get; }

    public long Length { get; }

    /// <summary>How stores are made durable: "dax", "msync" or "memory" (emulated pmem).</summary>
    public abstract string PersistMode { get; }

    /// <summary>Copy <paramref name="source"/> to <paramref name="offset"/>; durable after this thread's next Fence.</summary>
    public abstract void Store(long offset, ReadOnlySpan<byte> source);

    /// <summary>Zero a range; durable after this thread's next Fence.</summary>
    public abstract void StoreZero(long offset, long length);

    /// <summary>Make every store this thread issued durable.</summary>
    public abstract void Fence();

    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        CheckRange(offset, length);
        return new ReadOnlySpan<byte>(Base + offset, length);
    }

    protected void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"pmem range {offset}+{length} outside a {Length}-byte region");
    }

    public abstract void Dispose();
}
