using System.Buffers.Binary;
using System.Numerics;
using PCache.Engine.Layout;

namespace PCache.Engine.Tests;

/// <summary>
/// The CRC now comes from System.IO.Hashing; every CRC already on media must still verify, so
/// the new code must give exactly what the hand-written three-stream CRC (kept here only as the
/// reference) gave.
/// </summary>
public class CrcCompatibilityTests
{
    private static byte[] Pattern(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte)(i * 31 + 7);
        return b;
    }

    // Values printed by the hand-written CRC before it was replaced.
    [Fact]
    public void Crcs_of_fixed_inputs_equal_the_values_the_old_code_wrote_to_media()
    {
        Assert.Equal(0x0003B15Au, Crc.Compute(ReadOnlySpan<byte>.Empty));
        Assert.Equal(0xE5868AB2u, Crc.Compute("123456789"u8));
        Assert.Equal(0x603571B1u, Crc.Compute(new byte[4096]));
        Assert.Equal(0x190EC7D0u, Crc.Compute(Pattern(4096)));
        Assert.Equal(0xDF8983DCu, Crc.Compute(Pattern(1 << 20)));
        Assert.Equal(0x41219705u, Crc.Compute(Pattern(13)));
        Assert.Equal(0x190EC7D0u, Crc.OfData(Pattern(4096), 0));
        Assert.Equal(0xDBAB718Eu, Crc.OfData(Pattern(4096), 512));
        Assert.Equal(0x7705D0A9u, Crc.OfData(Pattern(4096), 1L << 20));
        Assert.Equal(0xD2EFF558u, Crc.OfData(Pattern(4096), (1L << 41) + 4096));
        Assert.Equal(0x40D7E784u, Crc.OfData(Pattern(4096), 0x7FFF_FFFF_F000));
        var rec = Pattern(64);
        Crc.Seal(rec);
        Assert.Equal(0x4BEAE969u, BinaryPrimitives.ReadUInt32LittleEndian(rec));
    }

    [Fact]
    public void Crcs_of_random_inputs_and_seeds_equal_the_old_algorithm()
    {
        var rng = new Random(5);
        var lengths = new List<int> { 0, 1, 3, 4, 7, 8, 9, 511, 512, 3071, 3072, 3073, 4096, 6144, 9216, 12345, 65536, 1 << 20 };
        for (int i = 0; i < 200; i++) lengths.Add(rng.Next(0, 20000));
        foreach (int len in lengths)
        {
            var buffer = new byte[len + 8];
            rng.NextBytes(buffer);
            var data = buffer.AsSpan(rng.Next(0, 8), len); // unaligned starts too
            uint seed = (uint)rng.NextInt64(0, 1L << 32);
            long offset = rng.NextInt64(0, 1L << 50) & ~511L;
            Assert.Equal(OldCrc.Compute(data, OldCrc.Seed), Crc.Compute(data));
            Assert.Equal(OldCrc.Compute(data, seed), Crc.Compute(data, seed));
            Assert.Equal(OldCrc.OfData(data, offset), Crc.OfData(data, offset));
        }
        foreach (uint seed in new uint[] { 0, 1, 0x80000000, 0xFFFFFFFF, Crc.Seed ^ 1 })
            Assert.Equal(OldCrc.Compute(Pattern(4096), seed), Crc.Compute(Pattern(4096), seed));
    }

    [Fact]
    public void Crcs_computed_on_many_threads_at_once_are_right()
    {
        var data = Pattern(8192);
        var expected = Enumerable.Range(0, 64).Select(i => OldCrc.OfData(data, i * 4096L)).ToArray();
        Parallel.For(0, 4, _ =>
        {
            for (int rep = 0; rep < 200; rep++)
                for (int i = 0; i < 64; i++)
                    Assert.Equal(expected[i], Crc.OfData(data, i * 4096L));
        });
    }

    /// <summary>The hand-written CRC as it shipped: three interleaved crc32 streams folded with zero-extension tables.</summary>
    private static class OldCrc
    {
        public const uint Seed = 0x3B15A;
        private const int Stream = 1024;
        private static readonly uint[] ShiftOne = ShiftTables(Stream);
        private static readonly uint[] ShiftTwo = ShiftTables(2 * Stream);

        public static uint OfData(ReadOnlySpan<byte> data, long backingOffset) =>
            Compute(data, Seed ^ (uint)(backingOffset >> 9) ^ (uint)(backingOffset >> 41));

        public static uint Compute(ReadOnlySpan<byte> data, uint crc)
        {
            while (data.Length >= 3 * Stream)
            {
                uint a = crc, b = 0, c = 0;
                for (int i = 0; i < Stream; i += 8)
                {
                    a = BitOperations.Crc32C(a, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
                    b = BitOperations.Crc32C(b, BinaryPrimitives.ReadUInt64LittleEndian(data[(Stream + i)..]));
                    c = BitOperations.Crc32C(c, BinaryPrimitives.ReadUInt64LittleEndian(data[(2 * Stream + i)..]));
                }
                crc = Shift(ShiftTwo, a) ^ Shift(ShiftOne, b) ^ c;
                data = data[(3 * Stream)..];
            }
            while (data.Length >= 8)
            {
                crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }
            if (data.Length >= 4)
            {
                crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(data));
                data = data[4..];
            }
            foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
            return crc;
        }

        private static uint Shift(uint[] t, uint x) =>
            t[x & 0xFF] ^ t[256 + ((x >> 8) & 0xFF)] ^ t[512 + ((x >> 16) & 0xFF)] ^ t[768 + (x >> 24)];

        private static uint[] ShiftTables(int zeroBytes)
        {
            var column = new uint[32];
            for (int bit = 0; bit < 32; bit++)
            {
                uint r = 1u << bit;
                for (int i = 0; i < zeroBytes; i += 8) r = BitOperations.Crc32C(r, 0UL);
                column[bit] = r;
            }
            var t = new uint[1024];
            for (int k = 0; k < 4; k++)
                for (int v = 0; v < 256; v++)
                {
                    uint acc = 0;
                    for (int bit = 0; bit < 8; bit++)
                        if ((v & (1 << bit)) != 0) acc ^= column[8 * k + bit];
                    t[256 * k + v] = acc;
                }
            return t;
        }
    }
}
