using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace PCache.Nbd.Tests;

/// <summary>Speaks NBD byte by byte, to probe what libnbd would never send.</summary>
internal sealed class RawClient : IDisposable
{
    public const ulong IHaveOpt = 0x49484156454F5054;
    public const uint RequestMagic = 0x25609513;

    private readonly Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

    public RawClient(string socketPath, uint clientFlags = 3)
    {
        socket.ReceiveTimeout = 10_000;
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        var greeting = Receive(18);
        Assert.Equal(0x4e42444d41474943UL, BinaryPrimitives.ReadUInt64BigEndian(greeting));
        Assert.Equal(IHaveOpt, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16)));
        Send(U32(clientFlags));
    }

    public void SendOption(uint option, byte[] data, ulong magic = IHaveOpt, uint? length = null)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(header, magic);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), length ?? (uint)data.Length);
        Send([.. header, .. data]);
    }

    public (uint Option, uint Type, byte[] Payload) ReadOptionReply()
    {
        var header = Receive(20);
        Assert.Equal(0x0003e889045565a9UL, BinaryPrimitives.ReadUInt64BigEndian(header));
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
        return (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12)), Receive((int)length));
    }

    /// <summary>Reads option replies up to and including the final ACK or error.</summary>
    public List<(uint Option, uint Type, byte[] Payload)> ReadOptionReplies()
    {
        var replies = new List<(uint, uint, byte[])>();
        while (true)
        {
            var reply = ReadOptionReply();
            replies.Add(reply);
            if (reply.Type == 1 || reply.Type >= 0x80000000)
                return replies;
        }
    }

    public static byte[] InfoRequest(string name, params ushort[] infos) =>
        [.. U32((uint)Encoding.UTF8.GetByteCount(name)), .. Encoding.UTF8.GetBytes(name), .. U16((ushort)infos.Length), .. infos.SelectMany(U16)];

    public static byte[] MetaRequest(string name, params string[] queries) =>
        [.. U32((uint)Encoding.UTF8.GetByteCount(name)), .. Encoding.UTF8.GetBytes(name), .. U32((uint)queries.Length),
         .. queries.SelectMany(q => (byte[])[.. U32((uint)Encoding.UTF8.GetByteCount(q)), .. Encoding.UTF8.GetBytes(q)])];

    /// <summary>SR (optional) + SET_META base:allocation (optional) + GO; asserts success.</summary>
    public void Go(string name, bool structured = true, bool baseAllocation = false)
    {
        if (structured)
        {
            SendOption(8, []);
            Assert.Equal(1u, ReadOptionReply().Type);
        }
        if (baseAllocation)
        {
            SendOption(10, MetaRequest(name, "base:allocation"));
            var replies = ReadOptionReplies();
            Assert.Equal(1u, replies[^1].Type);
        }
        SendOption(7, InfoRequest(name));
        var go = ReadOptionReplies();
        Assert.True(go[^1].Type == 1, $"GO failed with reply type 0x{go[^1].Type:x}");
    }

    public void SendRequest(ushort type, ulong cookie, ulong offset, uint length, ushort flags = 0, byte[]? payload = null, uint magic = RequestMagic)
    {
        var header = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(header, magic);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(24), length);
        Send(header);
        if (payload is not null)
            Send(payload);
    }

    /// <summary>Any reply: simple (Type = -1, Error, Payload empty) or one structured chunk.</summary>
    public (int ChunkType, ushort Flags, ulong Cookie, uint Error, byte[] Payload) ReadReply(int simpleReadLength = 0)
    {
        var magic = BinaryPrimitives.ReadUInt32BigEndian(Receive(4));
        if (magic == 0x67446698)
        {
            var rest = Receive(12);
            uint error = BinaryPrimitives.ReadUInt32BigEndian(rest);
            var data = error == 0 && simpleReadLength > 0 ? Receive(simpleReadLength) : [];
            return (-1, 0, BinaryPrimitives.ReadUInt64BigEndian(rest.AsSpan(4)), error, data);
        }
        Assert.Equal(0x668e33efu, magic);
        var header = Receive(16);
        var payload = Receive((int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12)));
        int type = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        uint chunkError = (type & 0x8000) != 0 ? BinaryPrimitives.ReadUInt32BigEndian(payload) : 0;
        return (type, BinaryPrimitives.ReadUInt16BigEndian(header), BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(4)), chunkError, payload);
    }

    public void Send(byte[] data)
    {
        int sent = 0;
        while (sent < data.Length)
            sent += socket.Send(data.AsSpan(sent));
    }

    public byte[] Receive(int count)
    {
        var buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = socket.Receive(buffer.AsSpan(got));
            if (n == 0)
                throw new EndOfStreamException($"server closed the connection after {got} of {count} bytes");
            got += n;
        }
        return buffer;
    }

    /// <summary>True when the server closed the connection (and sent nothing more) within the socket timeout.</summary>
    public bool IsClosedByServer()
    {
        try
        {
            return socket.Receive(new byte[1]) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    /// <summary>Bytes readable within <paramref name="wait"/> (0 if none arrive).</summary>
    public int Available(TimeSpan wait)
    {
        socket.Poll(wait, SelectMode.SelectRead);
        return socket.Available;
    }

    public void Dispose() => socket.Dispose();

    public static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); return b; }
    public static byte[] U16(ushort v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16BigEndian(b, v); return b; }
}
