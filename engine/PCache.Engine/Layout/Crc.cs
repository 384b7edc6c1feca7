using System.Buffers.Binary;
using System.Numerics;

namespace PCache.Engine.Layout;

/// <summary>
/// dm-pcache's CRC: the raw reflected CRC32C register seeded with 0x3B15A, with no pre- or
/// post-inversion (so a standard CRC-32C helper gives different values).
/// </summary>
public static class Crc
{
    public const uint Seed = 0x3B15A;

    // Long buffers run three independent CRC streams side by side (the crc32 instruction has a
    // latency of three cycles but a throughput of one), then fold them together with the
    // zero-extension operator, which is linear and so precomputed as byte tables.
    private const int Stream = 1024;
    private static readonly uint[] ShiftOne = ShiftTables(Stream);
    private static readonly uint[] ShiftTwo = ShiftTables(2 * Stream);

    public static uint Compute(ReadOnlySpan<byte> data, uint crc = Seed)
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
        return Serial(data, crc);
    }

    private static uint Shift(uint[] t, uint x) =>
        t[x & 0xFF] ^ t[256 + ((x >> 8) & 0xFF)] ^ t[512 + ((x >> 16) & 0xFF)] ^ t[768 + (x >> 24)];

    /// <summary>Tables of the map "run the register over n zero bytes", one per input byte position.</summary>
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

    private static uint Serial(ReadOnlySpan<byte> data, uint crc)
    {
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
