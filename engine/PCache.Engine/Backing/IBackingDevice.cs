namespace PCache.Engine.Backing;

/// <summary>The slow device behind a cache. Calls may block; failures throw <see cref="IOException"/>.</summary>
public interface IBackingDevice : IDisposable
{
    string Path { get; }

    long Size { get; }

    void Read(long offset, Span<byte> destination);

    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Make every completed write durable (fdatasync / cache flush).</summary>
    void Flush();

    /// <summary>Make the range read as zeroes; <paramref name="keepAllocated"/> asks for no holes.</summary>
    void Zero(long offset, long length, bool keepAllocated);
}
