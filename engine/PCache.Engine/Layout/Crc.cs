using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;

namespace PCache.Engine.Layout;

/// <summary>
/// dm-pcache's CRC: the raw reflected CRC32C register seeded with 0x3B15A, with no pre- or
/// post-inversion (so a standard CRC-32C helper gives different values).
/// </summary>
public static class Crc
{
    public const uint Seed = 0x3B15A;

    // The polynomial goes in its normal form; the reflected 0x82F63B78 gives other values.
    private static readonly Crc32ParameterSet DmPcache = Crc32ParameterSet.Create(0x1EDC6F41, Seed, 0, true);

    // The library fixes the initial register per parameter set, but data CRCs start from a seed
    // that depends on the key's offset. Four prefix bytes move the register from Seed to any
    // state: the register after a 32-bit word w is L(r ^ w), L being "run over four zero bytes",
    // which is linear and invertible, so w = L⁻¹(target) ^ Seed.
    private static readonly uint[] Unshift = InvertFourZeroBytes();

    [ThreadStatic] private static Crc32? t_seeded;

    public static uint Compute(ReadOnlySpan<byte> data, uint crc = Seed)
    {
        if (crc == Seed) return Crc32.HashToUInt32(DmPcache, data);
        uint w = Seed;
        for (uint bits = crc; bits != 0; bits &= bits - 1) w ^= Unshift[BitOperations.TrailingZeroCount(bits)];
        Span<byte> prefix = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, w);
        var h = t_seeded ??= new Crc32(DmPcache);
        h.Reset();
        h.Append(prefix);
        h.Append(data);
        return h.GetCurrentHashAsUInt32();
    }

    /// <summary>Preimages under L of each single-bit register, by Gauss-Jordan elimination.</summary>
    private static uint[] InvertFourZeroBytes()
    {
        var image = new uint[32];
        var pre = new uint[32];
        for (int bit = 0; bit < 32; bit++)
        {
            pre[bit] = 1u << bit;
            image[bit] = BitOperations.Crc32C(pre[bit], 0u);
        }
        for (int p = 0; p < 32; p++)
        {
            int j = p;
            while ((image[j] & (1u << p)) == 0) j++; // L is invertible: a pivot always exists
            (image[p], image[j]) = (image[j], image[p]);
            (pre[p], pre[j]) = (pre[j], pre[p]);
            for (int k = 0; k < 32; k++)
                if (k != p && (image[k] & (1u << p)) != 0)
                {
                    image[k] ^= image[p];
                    pre[k] ^= pre[p];
                }
        }
        return pre;
    }

    /// <summary>
    /// Data CRC of a key. Unlike dm-pcache the seed mixes in the key's backing offset, so a key
    /// whose offset was altered (with its kset CRC forged) no longer matches its data.
    /// </summary>
    public static uint OfData(ReadOnlySpan<byte> data, long backingOffset) =>
        Compute(data, Seed ^ (uint)(backingOffset >> 9) ^ (uint)(backingOffset >> 41));

    /// <summary>CRC of a record whose first 4 bytes hold the CRC of the rest.</summary>
    public static uint OfRecord(ReadOnlySpan<byte> record) => Compute(record[4..]);

    public static bool RecordValid(ReadOnlySpan<byte> record) =>
        BinaryPrimitives.ReadUInt32LittleEndian(record) == OfRecord(record);

    public static void Seal(Span<byte> record) =>
        BinaryPrimitives.WriteUInt32LittleEndian(record, OfRecord(record));
}
