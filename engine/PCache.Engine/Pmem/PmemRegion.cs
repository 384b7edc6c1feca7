namespace PCache.Engine.Pmem;

/// <summary>
/// A byte-addressable persistent region. Reads go straight through <see cref="Base"/>; every store
/// goes through <see cref="Store"/> so that the crash-simulating stand-in can see it, and becomes
/// durable only at the next <see cref="Fence"/> issued by the same thread (the DAX model:
/// cache-bypassing stores, then a store fence). Non-DAX media batch instead: a store there only
/// dirties pages, and the engine says where order matters with <see cref="Stage"/> and
/// <see cref="Commit(long)"/>, which cost nothing extra on DAX.
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

    /// <summary>How stores are made durable: "dax", "msync" (non-DAX media, synced in batches) or "memory" (emulated pmem).</summary>
    public abstract string PersistMode { get; }

    /// <summary>Copy <paramref name="source"/> to <paramref name="offset"/>; durable after this thread's next Fence.</summary>
    public abstract void Store(long offset, ReadOnlySpan<byte> source);

    /// <summary>Zero a range; durable after this thread's next Fence.</summary>
    public abstract void StoreZero(long offset, long length);

    /// <summary>Make every store this thread issued durable.</summary>
    public abstract void Fence();

    /// <summary>
    /// This thread's stores need to be durable only before whatever a later <see cref="Commit(long)"/>
    /// orders after them (a write's data before the kset naming it). DAX: the fence, at once.
    /// Batched media: nothing now; the stores are dirty pages the next commit syncs.
    /// </summary>
    public virtual void Stage() => Fence();

    /// <summary>Ticket covering every store issued so far, for <see cref="Commit(long)"/>; 0 where stores are durable at their fence.</summary>
    public virtual long Staged => 0;

    /// <summary>
    /// Every store up to ticket <paramref name="upTo"/> (any thread's) is durable on return. Call it
    /// before storing a record that names those stores. DAX: nothing (each was fenced at once).
    /// </summary>
    public virtual void Commit(long upTo) { }

    /// <summary>Every store issued so far is durable on return.</summary>
    public void Commit() => Commit(Staged);

    /// <summary>Syncs issued to the medium (batched media); 0 where stores are durable by fences.</summary>
    public virtual long Syncs => 0;

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
