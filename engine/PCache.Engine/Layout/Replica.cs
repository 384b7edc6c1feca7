using System.Buffers.Binary;

namespace PCache.Engine.Layout;

/// <summary>
/// Dual-replica metadata records: header = u32 crc, u8 seq, u8 version, u16 reserved. On load the
/// valid replica with the newer sequence (signed 8-bit difference) wins, replica 0 on a tie; an
/// update always goes to the other replica, so a torn write only ever damages the older copy.
/// </summary>
public static class Replica
{
    public const int HeaderSize = 8;

    public static byte Seq(ReadOnlySpan<byte> record) => record[4];

    public static bool Newer(byte a, byte b) => (sbyte)(a - b) > 0;

    /// <summary>Index (0 or 1) of the replica to trust, or -1 when neither is valid.</summary>
    public static int Latest(ReadOnlySpan<byte> replica0, ReadOnlySpan<byte> replica1)
    {
        int best = -1;
        if (Crc.RecordValid(replica0)) best = 0;
        if (Crc.RecordValid(replica1) && (best < 0 || Newer(Seq(replica1), Seq(replica0)))) best = 1;
        return best;
    }

    /// <summary>Stamp seq and CRC into a record about to be written.</summary>
    public static void Seal(Span<byte> record, byte seq)
    {
        record[4] = seq;
        record[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(record[6..], 0);
        Crc.Seal(record);
    }
}

/// <summary>In-DRAM memory of where the trusted replica of a record lives.</summary>
public struct ReplicaState
{
    public int Slot;   // slot of the newest valid copy, -1 if none
    public byte Seq;

    public static ReplicaState None => new() { Slot = -1, Seq = 0 };

    /// <summary>The slot and seq for the next write; call <see cref="Commit"/> once it is durable.</summary>
    public readonly (int slot, byte seq) Next() => (Slot < 0 ? 0 : 1 - Slot, (byte)(Seq + 1));

    public void Commit((int slot, byte seq) written)
    {
        Slot = written.slot;
        Seq = written.seq;
    }
}
