using PCache.Engine.Backing;

namespace PCache.Engine.Tests;

/// <summary>Test stand-in for a disk that fails writes at or past a boundary (a bad region), reads always work.</summary>
internal sealed class GatedBackingDevice(IBackingDevice inner) : IBackingDevice
{
    /// <summary>Writes and zeroes that reach this offset fail with an I/O error.</summary>
    public volatile int FailFromMiB = int.MaxValue;

    public string Path => inner.Path;

    public long Size => inner.Size;

    public void Read(long offset, Span<byte> destination) => inner.Read(offset, destination);

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        Check(offset, source.Length);
        inner.Write(offset, source);
    }

    public void Flush() => inner.Flush();

    public void Zero(long offset, long length, bool keepAllocated)
    {
        Check(offset, length);
        inner.Zero(offset, length, keepAllocated);
    }

    private void Check(long offset, long length)
    {
        if (offset + length > ((long)FailFromMiB << 20)) throw new IOException($"{Path}: injected write error at {offset}");
    }

    public void Dispose() => inner.Dispose();
}
