using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;

namespace PCache.Nbd;

/// <summary>
/// The only path to a connection's socket during transmission. Replies from many workers must never
/// interleave, and under load the cheapest reply is the one that rides along in another's syscall:
/// the first thread to arrive sends its own bytes directly (no copy), threads arriving meanwhile append
/// theirs to a pending buffer and leave, and the sender drains that buffer before it lets go. The reading
/// thread may also defer its replies into that buffer and <see cref="Flush"/> them all at once before it
/// blocks for input, so a pipelined batch of requests is answered with one send.
/// </summary>
internal sealed class ReplyWriter
{
    private const int BatchCapacity = 64 * 1024;

    private readonly Socket socket;
    private readonly object gate = new();
    private byte[] pending = ArrayPool<byte>.Shared.Rent(BatchCapacity);
    private byte[] spare = ArrayPool<byte>.Shared.Rent(BatchCapacity);
    private int pendingLength;
    private bool sending;
    private int waiters;
    private volatile bool broken;

    public ReplyWriter(Socket socket) => this.socket = socket;

    /// <summary>True once a send failed: the peer is gone and further replies are dropped.</summary>
    public bool Broken => broken;

    public void SendSimple(ulong cookie, NbdErrno error, bool defer)
    {
        Span<byte> reply = stackalloc byte[NbdWire.SimpleReplyHeaderSize];
        WriteSimpleHeader(reply, cookie, error);
        Send(reply, defer);
    }

    /// <summary>
    /// Sends READ data found at <paramref name="dataOffset"/> in <paramref name="buffer"/>. When the caller left
    /// room in front of the data (<see cref="NbdWire.ReadPrefixSize"/>), the header goes there so header and
    /// data leave in one send; otherwise (large reads, where a syscall more is noise) they go back to back.
    /// </summary>
    public void SendReadData(ulong cookie, ulong offset, byte[] buffer, int dataOffset, int length, bool structured, bool defer)
    {
        Span<byte> header = stackalloc byte[NbdWire.ChunkHeaderSize + 8];
        if (structured)
        {
            WriteChunkHeader(header, cookie, ChunkType.OffsetData, (uint)(8 + length));
            BinaryPrimitives.WriteUInt64BigEndian(header[NbdWire.ChunkHeaderSize..], offset);
        }
        else
        {
            header = header[..NbdWire.SimpleReplyHeaderSize];
            WriteSimpleHeader(header, cookie, NbdErrno.None);
        }
        var data = buffer.AsSpan(dataOffset, length);
        if (dataOffset >= header.Length)
        {
            int start = dataOffset - header.Length;
            header.CopyTo(buffer.AsSpan(start));
            Send(buffer.AsSpan(start, header.Length + length), default, defer);
        }
        else
            Send(header, data, defer);
    }

    /// <summary>A structured ERROR chunk (the only way to fail a READ once structured replies are on).</summary>
    public void SendErrorChunk(ulong cookie, NbdErrno error, ReadOnlySpan<byte> message, bool defer)
    {
        Span<byte> reply = stackalloc byte[NbdWire.ChunkHeaderSize + 6 + message.Length];
        WriteChunkHeader(reply, cookie, ChunkType.Error, (uint)(6 + message.Length));
        BinaryPrimitives.WriteUInt32BigEndian(reply[NbdWire.ChunkHeaderSize..], (uint)error);
        BinaryPrimitives.WriteUInt16BigEndian(reply[(NbdWire.ChunkHeaderSize + 4)..], (ushort)message.Length);
        message.CopyTo(reply[(NbdWire.ChunkHeaderSize + 6)..]);
        Send(reply, defer);
    }

    public void SendBlockStatus(ulong cookie, uint contextId, ReadOnlySpan<BlockExtent> extents, bool defer)
    {
        int payload = 4 + 8 * extents.Length;
        Span<byte> reply = stackalloc byte[NbdWire.ChunkHeaderSize + payload];
        WriteChunkHeader(reply, cookie, ChunkType.BlockStatus, (uint)payload);
        var body = reply[NbdWire.ChunkHeaderSize..];
        BinaryPrimitives.WriteUInt32BigEndian(body, contextId);
        for (int i = 0; i < extents.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(body[(4 + 8 * i)..], extents[i].Length);
            BinaryPrimitives.WriteUInt32BigEndian(body[(8 + 8 * i)..], extents[i].Flags);
        }
        Send(reply, defer);
    }

    /// <summary>
    /// Blocks until no reply is queued or being sent, so the socket may be closed without losing any;
    /// then gives the buffers back. Call once, when no more replies will come.
    /// </summary>
    public void Close()
    {
        Flush();
        lock (gate)
        {
            while (sending)
            {
                waiters++;
                Monitor.Wait(gate);
                waiters--;
            }
            broken = true;
            ArrayPool<byte>.Shared.Return(pending);
            ArrayPool<byte>.Shared.Return(spare);
            pending = spare = [];
        }
    }

    private static void WriteSimpleHeader(Span<byte> header, ulong cookie, NbdErrno error)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], (uint)error);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], cookie);
    }

    private static void WriteChunkHeader(Span<byte> header, ulong cookie, ChunkType type, uint length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], NbdWire.ReplyFlagDone);
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], cookie);
        BinaryPrimitives.WriteUInt32BigEndian(header[16..], length);
    }

    /// <summary>Sends the replies deferred so far, unless a sender is at it already (it drains them too).</summary>
    public void Flush()
    {
        lock (gate)
        {
            if (sending || broken || pendingLength == 0)
                return;
            sending = true;
        }
        DrainAndRelease();
    }

    private void Send(ReadOnlySpan<byte> reply, bool defer) => Send(reply, default, defer);

    /// <summary>
    /// Sends <paramref name="first"/> then <paramref name="second"/> as one uninterrupted reply. With
    /// <paramref name="defer"/> the reply may wait in the batch for <see cref="Flush"/>: the reading thread
    /// defers the replies of requests it runs itself and flushes before it waits for more input.
    /// </summary>
    private void Send(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, bool defer)
    {
        lock (gate)
        {
            if (broken)
                return;
            if ((sending || defer) && pendingLength + first.Length + second.Length <= pending.Length)
            {
                first.CopyTo(pending.AsSpan(pendingLength));
                second.CopyTo(pending.AsSpan(pendingLength + first.Length));
                pendingLength += first.Length + second.Length;
                return;
            }
            // Too big to ride along: wait for the sender to finish, then send it ourselves.
            while (sending && !broken)
            {
                waiters++;
                Monitor.Wait(gate);
                waiters--;
            }
            if (broken)
                return;
            sending = true;
        }

        Transmit(first);
        if (!second.IsEmpty)
            Transmit(second);
        DrainAndRelease();
    }

    /// <summary>As the sender: send whatever others queued meanwhile, then give up the role.</summary>
    private void DrainAndRelease()
    {
        while (true)
        {
            byte[] batch;
            int length;
            lock (gate)
            {
                if (pendingLength == 0 || broken)
                {
                    pendingLength = 0;
                    sending = false;
                    if (waiters > 0)
                        Monitor.PulseAll(gate);
                    return;
                }
                batch = pending;
                length = pendingLength;
                pending = spare;
                spare = batch;
                pendingLength = 0;
            }
            Transmit(batch.AsSpan(0, length));
        }
    }

    private void Transmit(ReadOnlySpan<byte> data)
    {
        if (broken)
            return;
        try
        {
            socket.SendAll(data);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            broken = true;
            try { socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already gone */ }
        }
    }
}
