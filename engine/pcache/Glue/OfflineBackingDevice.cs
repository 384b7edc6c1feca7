using PCache.Engine.Backing;
using PCache.Engine.Layout;

namespace PCache.Daemon.Glue;

/// <summary>
/// Stands in for a backing the daemon will not attach (identity mismatch, missing device) while
/// the engine replays its log once to report how much dirty data it holds. Every I/O fails, so
/// write-back can never touch a device that is not the recorded one; the replay is stopped right
/// after the status is read, and the dirty data stays in the cache.
/// </summary>
internal sealed class OfflineBackingDevice(BackingInfo info) : IBackingDevice
{
    public string Path { get; } = info.Path;

    public long Size { get; } = info.BackingSize;

    public void Read(long offset, Span<byte> destination) => throw Refused();

    public void Write(long offset, ReadOnlySpan<byte> source) => throw Refused();

    public void Flush() => throw Refused();

    public void Zero(long offset, long length, bool keepAllocated) => throw Refused();

    public void Dispose()
    {
    }

    private IOException Refused() => new($"{Path}: backing is not attached");
}
