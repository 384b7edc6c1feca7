using PCache.Engine.Backing;

namespace PCache.Engine.Tests;

/// <summary>
/// Test stand-in for a backing that stops answering (a dead NBD server, a hung disk): once
/// <see cref="Hang"/> is called, writes, zeroes and flushes block until <see cref="Answer"/>.
/// Reads always go through.
/// </summary>
internal sealed class HungBackingDevice(IBackingDevice inner) : IBackingDevice
{
    private readonly ManualResetEventSlim _answer = new(true);
    private readonly ManualResetEventSlim _waiting = new(false);

    public string Path => inner.Path;

    public long Size => inner.Size;

    /// <summary>The thread that last blocked in a call here.</summary>
    public Thread? Caller { get; private set; }

    public void Hang() => _answer.Reset();

    public void Answer() => _answer.Set();

    /// <summary>Wait (bounded) until some thread is blocked in a call.</summary>
    public bool WaitForCaller(TimeSpan limit) => _waiting.Wait(limit);

    public void Read(long offset, Span<byte> destination) => inner.Read(offset, destination);

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        Block();
        inner.Write(offset, source);
    }

    public void Flush()
    {
        Block();
        inner.Flush();
    }

    public void Zero(long offset, long length, bool keepAllocated)
    {
        Block();
        inner.Zero(offset, length, keepAllocated);
    }

    private void Block()
    {
        if (_answer.IsSet) return;
        Caller = Thread.CurrentThread;
        _waiting.Set();
        _answer.Wait();
    }

    public void Dispose() => inner.Dispose();
}
