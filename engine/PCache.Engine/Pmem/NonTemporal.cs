using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PCache.Engine.Pmem;

/// <summary>
/// Cache-bypassing copies: on pmem a plain store only reaches the CPU cache, and flushing it line
/// by line afterwards costs more than streaming it past the cache in the first place.
/// </summary>
internal static unsafe class NonTemporal
{
    // Every store PCache issues to pmem is 8-byte aligned with a length that is a multiple of 8
    // (keys, ksets, records, 512-byte data), so MOVNTI covers the edges and no line ever needs an
    // explicit CLFLUSH (which .NET does not expose). Byte remnants fall back to plain stores.
    public static void Copy(byte* dst, byte* src, long length)
    {
        if (!Sse2.X64.IsSupported)
        {
            Buffer.MemoryCopy(src, dst, length, length);
            return;
        }
        while (length >= 8 && ((long)dst & 31) != 0)
        {
            Sse2.X64.StoreNonTemporal((long*)dst, *(long*)src);
            dst += 8; src += 8; length -= 8;
        }
        if (Avx.IsSupported && ((long)dst & 31) == 0)
        {
            while (length >= 128)
            {
                Avx.StoreAlignedNonTemporal(dst, Avx.LoadVector256(src));
                Avx.StoreAlignedNonTemporal(dst + 32, Avx.LoadVector256(src + 32));
                Avx.StoreAlignedNonTemporal(dst + 64, Avx.LoadVector256(src + 64));
                Avx.StoreAlignedNonTemporal(dst + 96, Avx.LoadVector256(src + 96));
                dst += 128; src += 128; length -= 128;
            }
            while (length >= 32)
            {
                Avx.StoreAlignedNonTemporal(dst, Avx.LoadVector256(src));
                dst += 32; src += 32; length -= 32;
            }
        }
        while (length >= 8)
        {
            Sse2.X64.StoreNonTemporal((long*)dst, *(long*)src);
            dst += 8; src += 8; length -= 8;
        }
        if (length > 0) Buffer.MemoryCopy(src, dst, length, length);
    }

    public static void Zero(byte* dst, long length)
    {
        if (!Sse2.X64.IsSupported)
        {
            new Span<byte>(dst, checked((int)length)).Clear();
            return;
        }
        while (length >= 8 && ((long)dst & 15) != 0)
        {
            Sse2.X64.StoreNonTemporal((long*)dst, 0L);
            dst += 8; length -= 8;
        }
        var zero = Vector128<byte>.Zero;
        while (length >= 16 && ((long)dst & 15) == 0)
        {
            Sse2.StoreAlignedNonTemporal(dst, zero);
            dst += 16; length -= 16;
        }
        while (length >= 8)
        {
            Sse2.X64.StoreNonTemporal((long*)dst, 0L);
            dst += 8; length -= 8;
        }
        if (length > 0) new Span<byte>(dst, (int)length).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFence()
    {
        if (Sse.IsSupported) Sse.StoreFence();
        else Interlocked.MemoryBarrier();
    }
}
