using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using PCache.Nbd;

namespace PCache.Engine.Backing.Nbd;

/// <summary>What the server told us about the export during the handshake.</summary>
internal sealed record NbdExportInfo(long Size, TransmissionFlags Flags, bool Structured, uint MinimumBlock, uint MaximumPayload)
{
    public bool Has(TransmissionFlags flag) => (Flags & flag) != 0;
}

/// <summary>
/// The client side of fixed-newstyle negotiation: structured replies when the server offers them,
/// then NBD_OPT_GO (asking for block-size limits), falling back to NBD_OPT_EXPORT_NAME only for
/// servers that do not know GO. Runs with the socket's receive timeout set, so a silent server
/// fails the handshake instead of hanging it.
/// </summary>
internal static class NbdClientHandshake
{
    private const int MaxOptionReply = 64 * 1024;

    public static NbdExportInfo Run(Socket socket, NbdUri uri)
    {
        Span<byte> buf = stackalloc byte[20];
        NbdSocket.ReceiveAll(socket, buf[..18]);
        if (BinaryPrimitives.ReadUInt64BigEndian(buf) != NbdMagic.InitPasswd)
            throw Fail(uri, "is not an NBD server (no NBDMAGIC greeting)");
        if (BinaryPrimitives.ReadUInt64BigEndian(buf[8..]) != NbdMagic.IHaveOpt)
            throw Fail(uri, "speaks only the old-style NBD handshake; fixed newstyle is required");
        var hs = (HandshakeFlags)BinaryPrimitives.ReadUInt16BigEndian(buf[16..]);
        if ((hs & HandshakeFlags.FixedNewstyle) == 0)
            throw Fail(uri, "does not offer fixed newstyle negotiation");
        bool noZeroes = (hs & HandshakeFlags.NoZeroes) != 0;
        var client = ClientFlags.FixedNewstyle | (noZeroes ? ClientFlags.NoZeroes : 0);
        BinaryPrimitives.WriteUInt32BigEndian(buf, (uint)client);
        NbdSocket.SendAll(socket, buf[..4]);

        bool structured = false;
        SendOption(socket, NbdOption.StructuredReply, []);
        var reply = new byte[MaxOptionReply];
        var (type, _) = ReadReply(socket, uri, NbdOption.StructuredReply, reply);
        if (type == OptionReplyType.Ack) structured = true;

        // GO: name, then one info request (block size); the server always sends INFO_EXPORT.
        byte[] name = Encoding.UTF8.GetBytes(uri.ExportName);
        var go = new byte[4 + name.Length + 2 + 2];
        BinaryPrimitives.WriteUInt32BigEndian(go, (uint)name.Length);
        name.CopyTo(go, 4);
        BinaryPrimitives.WriteUInt16BigEndian(go.AsSpan(4 + name.Length), 1);
        BinaryPrimitives.WriteUInt16BigEndian(go.AsSpan(6 + name.Length), (ushort)InfoType.BlockSize);
        SendOption(socket, NbdOption.Go, go);
        long size = -1;
        var flags = (TransmissionFlags)0;
        uint minimum = 1, maximum = NbdWire.MaximumPayload;
        while (true)
        {
            (type, int length) = ReadReply(socket, uri, NbdOption.Go, reply);
            if (type == OptionReplyType.Ack) break;
            if (type == OptionReplyType.Info && length >= 2)
            {
                var info = (InfoType)BinaryPrimitives.ReadUInt16BigEndian(reply);
                if (info == InfoType.Export && length == 12)
                {
                    size = (long)BinaryPrimitives.ReadUInt64BigEndian(reply.AsSpan(2));
                    flags = (TransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(10));
                }
                else if (info == InfoType.BlockSize && length == 14)
                {
                    minimum = BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(2));
                    maximum = Math.Min(maximum, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(10)));
                }
                continue;
            }
            if (type == OptionReplyType.ErrUnsup)
            {
                (size, flags) = ExportName(socket, uri, name, noZeroes);
                break;
            }
            string message = Encoding.UTF8.GetString(reply, 0, Math.Min(length, 512));
            throw type switch
            {
                OptionReplyType.ErrUnknown => Fail(uri, $"has no export named '{uri.ExportName}'{Detail(message)}"),
                OptionReplyType.ErrTlsReqd => Fail(uri, "requires TLS, which PCache does not speak"),
                OptionReplyType.ErrPolicy => Fail(uri, $"refused the export by policy{Detail(message)}"),
                OptionReplyType.ErrShutdown => Fail(uri, "is shutting down"),
                _ => Fail(uri, $"refused NBD_OPT_GO ({(uint)type:x8}){Detail(message)}"),
            };
        }
        if (size < 0) throw Fail(uri, "sent no export size");
        // The cache writes back whole 512-byte sectors and merges up to megabytes; both must be legal.
        if (maximum < 65536 || minimum > 512) throw Fail(uri, $"has block-size limits {minimum}..{maximum} bytes; PCache needs 512-byte writes and requests of 64 KiB or more");
        return new NbdExportInfo(size, flags, structured, minimum, maximum);
    }

    private static string Detail(string message) => string.IsNullOrWhiteSpace(message) ? "" : $": {message.Trim()}";

    private static (long, TransmissionFlags) ExportName(Socket socket, NbdUri uri, byte[] name, bool noZeroes)
    {
        SendOption(socket, NbdOption.ExportName, name);
        Span<byte> b = stackalloc byte[10 + 124];
        try
        {
            NbdSocket.ReceiveAll(socket, noZeroes ? b[..10] : b);
        }
        catch (IOException)
        {
            throw Fail(uri, $"has no export named '{uri.ExportName}' (it closed the connection)");
        }
        return ((long)BinaryPrimitives.ReadUInt64BigEndian(b), (TransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(b[8..]));
    }

    private static void SendOption(Socket socket, NbdOption option, ReadOnlySpan<byte> data)
    {
        Span<byte> h = stackalloc byte[NbdWire.OptionHeaderSize];
        BinaryPrimitives.WriteUInt64BigEndian(h, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(h[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], (uint)data.Length);
        NbdSocket.SendAll(socket, h);
        if (!data.IsEmpty) NbdSocket.SendAll(socket, data);
    }

    private static (OptionReplyType, int) ReadReply(Socket socket, NbdUri uri, NbdOption option, byte[] payload)
    {
        Span<byte> h = stackalloc byte[NbdWire.OptionReplyHeaderSize];
        NbdSocket.ReceiveAll(socket, h);
        if (BinaryPrimitives.ReadUInt64BigEndian(h) != NbdMagic.OptionReply)
            throw Fail(uri, "sent a malformed option reply");
        if (BinaryPrimitives.ReadUInt32BigEndian(h[8..]) != (uint)option)
            throw Fail(uri, $"answered option {BinaryPrimitives.ReadUInt32BigEndian(h[8..])} when {(uint)option} was asked");
        var type = (OptionReplyType)BinaryPrimitives.ReadUInt32BigEndian(h[12..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(h[16..]);
        if (length > payload.Length) throw Fail(uri, $"sent an option reply of {length} bytes");
        NbdSocket.ReceiveAll(socket, payload.AsSpan(0, (int)length));
        return (type, (int)length);
    }

    private static IOException Fail(NbdUri uri, string what) => new($"{uri.Text}: the server at {uri.Server} {what}");
}

/// <summary>Whole-buffer socket I/O; a closed or failed socket is an <see cref="IOException"/>.</summary>
internal static class NbdSocket
{
    public static void ReceiveAll(Socket socket, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n;
            try
            {
                n = socket.Receive(buffer, SocketFlags.None);
            }
            catch (SocketException e)
            {
                throw new IOException(e.SocketErrorCode == SocketError.TimedOut ? "the server did not answer in time" : $"connection lost: {e.Message}", e);
            }
            catch (ObjectDisposedException e)
            {
                throw new IOException("connection closed", e);
            }
            if (n == 0) throw new IOException("the server closed the connection");
            buffer = buffer[n..];
        }
    }

    public static void SendAll(Socket socket, ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n;
            try
            {
                n = socket.Send(buffer, SocketFlags.None);
            }
            catch (SocketException e)
            {
                throw new IOException(e.SocketErrorCode == SocketError.TimedOut ? "the server did not take the request in time" : $"connection lost: {e.Message}", e);
            }
            catch (ObjectDisposedException e)
            {
                throw new IOException("connection closed", e);
            }
            buffer = buffer[n..];
        }
    }
}
