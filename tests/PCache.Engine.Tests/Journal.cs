using System.Runtime.InteropServices;
using PCache.Engine.Backing;
using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>Memory pmem that remembers what every store overwrote, so a test can put the device back exactly.</summary>
internal sealed unsafe class JournaledPmem : PmemRegion
{
    private readonly List<(long offset, byte[] old)> _undo = new();
    private readonly object _lock = new();

    public JournaledPmem(long length) : base((byte*)NativeMemory.AlignedAlloc((nuint)length, 4096), length)
    {
        NativeMemory.Clear(Base, (nuint)length);
    }

    public override string PersistMode => "journaled";

    public override void Store(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        lock (_lock)
        {
            _undo.Add((offset, new ReadOnlySpan<byte>(Base + offset, source.Length).ToArray()));
            source.CopyTo(new Span<byte>(Base + offset, source.Length));
        }
    }

    public override void StoreZero(long offset, long length)
    {
        CheckRange(offset, length);
        lock (_lock)
        {
            var span = new Span<byte>(Base + offset, (int)length);
            if (span.IndexOfAnyExcept((byte)0) < 0) return;
            _undo.Add((offset, span.ToArray()));
            span.Clear();
        }
    }

    /// <summary>A test's own edit of the media, undone like any store.</summary>
    public Span<byte> Edit(long offset, int length)
    {
        lock (_lock)
        {
            _undo.Add((offset, new ReadOnlySpan<byte>(Base + offset, length).ToArray()));
            return new Span<byte>(Base + offset, length);
        }
    }

    public void Forget()
    {
        lock (_lock) _undo.Clear();
    }

    public void Rollback()
    {
        lock (_lock)
        {
            for (int i = _undo.Count - 1; i >= 0; i--)
                _undo[i].old.CopyTo(new Span<byte>(Base + _undo[i].offset, _undo[i].old.Length));
            _undo.Clear();
        }
    }

    public override void Fence() { }

    public override void Dispose() => NativeMemory.AlignedFree(Base);
}

/// <summary>A fixed disk image with a throw-away overlay of writes.</summary>
internal sealed class OverlayBackingDevice(byte[] image) : IBackingDevice
{
    private readonly Dictionary<long, byte[]> _overlay = new();
    private readonly object _lock = new();

    public string Path => "mem:overlay";

    public long Size => image.Length;

    public void Read(long offset, Span<byte> destination)
    {
        lock (_lock)
        {
            for (int i = 0; i < destination.Length; i += 512)
            {
                long lba = (offset + i) / 512;
                (_overlay.TryGetValue(lba, out var o) ? o : image.AsSpan((int)(lba * 512), 512)).CopyTo(destination.Slice(i, 512));
            }
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        lock (_lock)
            for (int i = 0; i < source.Length; i += 512) _overlay[(offset + i) / 512] = source.Slice(i, 512).ToArray();
    }

    public void Flush() { }

    public void Zero(long offset, long length, bool keepAllocated) => Write(offset, new byte[length]);

    public void Reset()
    {
        lock (_lock) _overlay.Clear();
    }

    public void Dispose() { }
}
