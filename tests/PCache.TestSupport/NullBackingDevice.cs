using PCache.Engine.Backing;

namespace PCache.TestSupport;

/// <summary>
/// A backing that stores nothing and reads zeroes: for the engine benchmark, which measures the
/// cache rather than a disk, and for tests that need a device of a given size only.
/// </summary>
public sealed class NullBackingDevice(long size) : IBackingDevice
{
    public string Path => "null";
    public long Size => size;
    public void Read(long offset, Span<byte> destination) => destination.Clear();
    public void Write(long offset, ReadOnlySpan<byte> source) { }
    public void Flush() { }
    public void Zero(long offset, long length, bool keepAllocated) { }
    public void Dispose() { }
}
