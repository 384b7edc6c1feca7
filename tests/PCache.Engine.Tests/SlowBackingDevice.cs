using PCache.Engine.Backing;

namespace PCache.Engine.Tests;

/// <summary>Test stand-in for a slow disk: a memory backing whose flush takes a few milliseconds.</summary>
internal sealed class SlowBackingDevice(IBackingDevice inner, int flushMs) : IBackingDevice
{
    public string Path => inner.Path;

    public long Size => inner.Size;

    public void Read(long offset, Span<byte> destination) => inner.Read(offset, destination);

    public void Write(long offset, ReadOnlySpan<byte> source) => inner.Write(offset, source);

    public void Flush()
    {
        Thread.Sleep(flushMs);
        inner.Flush();
    }

    public void Zero(long offset, long length, bool keepAllocated) => inner.Zero(offset, length, keepAllocated);

    public void Dispose() => inner.Dispose();
}
