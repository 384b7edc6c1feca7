using PCache.Engine.Backing;
using PCache.Nbd;

namespace PCache.Daemon.Demo;

/// <summary>
/// The demo's stand-in for a remote volume: a sparse file served over NBD by the demo itself, each
/// request held back by a fixed delay, as a disk a network hop away would be. The demo's backing
/// is this export, reached through the engine's NBD client like any nbd+unix:// backing.
/// </summary>
internal sealed class SlowDisk(string name, FileBackingDevice file, TimeSpan delay) : IBlockExport
{
    public string Name { get; } = name;

    public string Description => $"{file.Path}, {delay.TotalMilliseconds:0.#} ms per request";

    public long Size => file.Size;

    public bool ReadOnly => false;

    public bool FastZero => false;

    public void Read(long offset, Span<byte> destination)
    {
        Wait();
        file.Read(offset, destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> data, bool fua)
    {
        Wait();
        file.Write(offset, data);
    }

    public void Flush()
    {
        Wait();
        file.Flush();
    }

    public void Trim(long offset, long length, bool fua) => WriteZeroes(offset, length, false, fua);

    public void WriteZeroes(long offset, long length, bool noHole, bool fua)
    {
        Wait();
        file.Zero(offset, length, noHole);
    }

    public void Cache(long offset, long length)
    {
    }

    public int BlockStatus(long offset, long length, Span<BlockExtent> extents)
    {
        if (extents.IsEmpty) return 0;
        extents[0] = new BlockExtent((uint)Math.Min(length, uint.MaxValue & ~511L), 0);
        return 1;
    }

    private void Wait()
    {
        // A spin after a short sleep: Thread.Sleep alone overshoots sub-millisecond delays.
        var until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        if (delay > TimeSpan.FromMilliseconds(2)) Thread.Sleep(delay - TimeSpan.FromMilliseconds(1));
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until) Thread.SpinWait(50);
    }
}
