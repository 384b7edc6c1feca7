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

    public static uint Compute(ReadOnlySpan<byte> data, uint crc = Seed)
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
