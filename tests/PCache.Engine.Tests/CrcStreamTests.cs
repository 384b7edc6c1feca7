using PCache.Engine.Layout;

namespace PCache.Engine.Tests;

public class CrcStreamTests
{
    private static uint Bitwise(ReadOnlySpan<byte> data, uint crc)
    {
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return crc;
    }

    [Fact]
    public void Three_stream_crc_of_long_buffers_equals_the_plain_register()
    {
        var rng = new Random(5);
        foreach (int len in new[] { 3071, 3072, 3073, 4096, 6144, 9216, 12345, 65536, 1 << 20 })
        {
            var data = new byte[len];
            rng.NextBytes(data);
            uint seed = (uint)rng.Next();
            Assert.Equal(Bitwise(data, seed), Crc.Compute(data, seed));
            Assert.Equal(Bitwise(data, Crc.Seed), Crc.Compute(data));
        }
    }
}
