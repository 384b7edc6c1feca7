using System.Runtime.InteropServices;

namespace PCache.Engine.Pmem;

/// <summary>Anonymous memory as a region: volatile, for benchmarks of the engine's own overhead.</summary>
public sealed unsafe class MemoryPmem : PmemRegion
{
    private int _disposed;

    public MemoryPmem(long length) : base((byte*)NativeMemory.AlignedAlloc((nuint)length, 4096), length)
    {
        NativeMemory.Clear(Base, (nuint)length);
    }

    public override string PersistMode => "memory";

    public override void Store(long offset, ReadOnlySpan<byte> source)
    {
        CheckRange(offset, source.Length);
        fixed (byte* src = source) NonTemporal.Copy(Base + offset, src, source.Length);
    }

    public override void StoreZero(long offset, long length)
    {
        CheckRange(offset, length);
        NonTemporal.Zero(Base + offset, length);
    }

    public override void Fence() => NonTemporal.StoreFence();

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) NativeMemory.AlignedFree(Base);
    }
}
