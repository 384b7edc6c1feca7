using System.Buffers;
using System.Numerics;

namespace PCache.Nbd;

/// <summary>
/// One transmission request on its way through a connection. Instances are pooled per connection and
/// reused, so the steady state allocates nothing per request.
/// </summary>
internal sealed class NbdRequest
{
    /// <summary>Extents asked of the export per BLOCK_STATUS; the client re-queries for the rest.</summary>
    public const int MaxExtents = 512;

    /// <summary>
    /// Buffers up to this size stay with the request object for its next use. The shared ArrayPool keeps
    /// only a few arrays per size and core, fewer than a deep queue has in flight, so it allocates under
    /// load; larger buffers are rare and still come from it.
    /// </summary>
    private const int KeepLimit = 128 * 1024;

    private BlockExtent[]? extents;
    private byte[]? kept;

    public NbdCommand Command;
    public CommandFlags Flags;
    public ulong Cookie;
    public ulong Offset;
    public uint Length;

    /// <summary>Stopwatch timestamp of the moment the request was in (header and payload), for <see cref="IRequestTiming"/>.</summary>
    public long ReceivedAt;

    /// <summary>Set by <see cref="RentBuffer"/>; the request's data starts at <see cref="DataOffset"/>.</summary>
    public byte[]? Buffer;

    /// <summary>Room left in front of READ data for the reply header (0 for WRITE and large READs).</summary>
    public int DataOffset;

    /// <summary>Bytes charged against the connection's in-flight budget.</summary>
    public long Cost;

    public bool Fua => (Flags & CommandFlags.Fua) != 0;

    public BlockExtent[] Extents => extents ??= new BlockExtent[MaxExtents];

    /// <summary>Sets <see cref="Buffer"/> to at least <paramref name="size"/> bytes.</summary>
    public void RentBuffer(int size)
    {
        if (kept is not null && kept.Length >= size)
            Buffer = kept;
        else if (size <= KeepLimit)
            Buffer = kept = new byte[Math.Max(4096 + NbdWire.ReadPrefixSize, (int)BitOperations.RoundUpToPowerOf2((uint)size))];
        else
            Buffer = ArrayPool<byte>.Shared.Rent(size);
    }

    public void ReturnBuffer()
    {
        if (Buffer is { } buffer && buffer != kept)
            ArrayPool<byte>.Shared.Return(buffer);
        Buffer = null;
    }
}
