using PCache.Engine.Backing;

namespace PCache.Bench;

/// <summary>A backing that stores nothing: the engine benchmark measures the cache, not a disk.</summary>
internal sealed class NullBackingDevice(long size) : IBackingDevice
{
    public string Path => "null";
    public long Size => size;
    public void Read(long offset, Span<byte> destination) => destination.Clear();
    public void Write(long offset, ReadOnlySpan<byte> source) { }
    public void Flush() { }
    public void Zero(long offset, long length, bool keepAllocated) { }
    public void Dispose() { }
}
