using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace PCache.Nbd;

/// <summary>
/// Fixed-newstyle option haggling on one connection: answers options until the client picks an export
/// (GO or EXPORT_NAME), gives up (ABORT, end of stream) or breaks the protocol.
/// Nothing here is on the I/O hot path, so clarity wins over allocation-free code.
/// </summary>
internal sealed class Handshake
{
    private static readonly byte[] BaseAllocationName = Encoding.UTF8.GetBytes(NbdWire.BaseAllocation);

    private readonly Socket socket;
    private readonly IExportCatalog catalog;
    private readonly NbdServerOptions options;
    private readonly Func<bool> stopping;
    private readonly Action<string> log;
    private byte[] data = new byte[512];
    private byte[] reply = new byte[512];
    private bool fixedNewstyle;
    private bool noZeroes;
    private bool structured;
    private string? metaContextExport;   // export named by the last SET_META_CONTEXT that selected base:allocation

    public Handshake(Socket socket, IExportCatalog catalog, NbdServerOptions options, Func<bool> stopping, Action<string> log)
    {
        this.socket = socket;
        this.catalog = catalog;
        this.options = options;
        this.stopping = stopping;
        this.log = log;
    }

    /// <summary>The negotiated session, or null when the connection should just be closed.</summary>
    public Session? Run()
    {
        Span<byte> greeting = stackalloc byte[18];
        BinaryPrimitives.WriteUInt64BigEndian(greeting, NbdMagic.InitPasswd);
        BinaryPrimitives.WriteUInt64BigEndian(greeting[8..], NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt16BigEndian(greeting[16..], (ushort)(HandshakeFlags.FixedNewstyle | HandshakeFlags.NoZeroes));
        socket.SendAll(greeting);

        Span<byte> clientFlags = stackalloc byte[4];
        if (!socket.ReceiveExactly(clientFlags))
            return null;
        var flags = (ClientFlags)BinaryPrimitives.ReadUInt32BigEndian(clientFlags);
        if ((flags & ~(ClientFlags.FixedNewstyle | ClientFlags.NoZeroes)) != 0)
        {
            log($"client sent unknown handshake flags 0x{(uint)flags:x}; closing");
            return null;
        }
        fixedNewstyle = (flags & ClientFlags.FixedNewstyle) != 0;
        noZeroes = (flags & ClientFlags.NoZeroes) != 0;

        Span<byte> header = stackalloc byte[NbdWire.OptionHeaderSize];
        for (int count = 0; ; count++)
        {
            if (!socket.ReceiveExactly(header))
                return null;
            if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.IHaveOpt)
            {
                log("bad option magic; closing");
                return null;
            }
            var option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);

            // Limits are checked before reading the data: the point is not to buffer abusive input.
            if (count >= options.MaxOptionsPerConnection)
            {
                log($"client sent more than {options.MaxOptionsPerConnection} options; closing");
                SendError(option, OptionReplyType.ErrPolicy, "too many options");
                return null;
            }
            if (length > options.MaxOptionLength)
            {
                log($"option {(uint)option} carries {length} bytes, over the {options.MaxOptionLength} limit; closing");
                SendError(option, OptionReplyType.ErrTooBig, "option data too large");
                return null;
            }
            if (data.Length < length)
                data = new byte[Math.Max(length, data.Length * 2)];
            if (!socket.ReceiveExactly(data.AsSpan(0, (int)length)))
                return null;

            if (!fixedNewstyle && option != NbdOption.ExportName)
            {
                log("client without fixed newstyle sent an option other than EXPORT_NAME; closing");
                return null;
            }

            var outcome = Handle(option, data.AsSpan(0, (int)length), out var session);
            if (outcome == Outcome.Transmit)
                return session;
            if (outcome == Outcome.Close)
                return null;
        }
    }

    private enum Outcome { Continue, Transmit, Close }

    private Outcome Handle(NbdOption option, ReadOnlySpan<byte> payload, out Session? session)
    {
        session = null;
        switch (option)
        {
            case NbdOption.ExportName:
                session = ExportName(payload);
                return session is null ? Outcome.Close : Outcome.Transmit;
            case NbdOption.Abort:
                TrySendAck(option);
                return Outcome.Close;
        }

        if (stopping())
        {
            SendError(option, OptionReplyType.ErrShutdown, "server is shutting down");
            return Outcome.Continue;
        }

        switch (option)
        {
            case NbdOption.List:
                List(payload);
                break;
            case NbdOption.StartTls:
                SendError(option, OptionReplyType.ErrPolicy, "TLS is not supported by this server");
                break;
            case NbdOption.Info:
            case NbdOption.Go:
                session = InfoOrGo(option, payload);
                if (session is not null)
                    return Outcome.Transmit;
                break;
            case NbdOption.StructuredReply:
                if (!payload.IsEmpty)
                    SendError(option, OptionReplyType.ErrInvalid, "STRUCTURED_REPLY takes no data");
                else
                {
                    structured = true;
                    SendReply(option, OptionReplyType.Ack, default);
                }
                break;
            case NbdOption.ListMetaContext:
            case NbdOption.SetMetaContext:
                MetaContext(option, payload);
                break;
            case NbdOption.ExtendedHeaders:
                SendError(option, OptionReplyType.ErrUnsup, "extended headers are not supported");
                break;
            default:
                SendError(option, OptionReplyType.ErrUnsup, $"option {(uint)option} is not supported");
                break;
        }
        return Outcome.Continue;
    }

    private Session? ExportName(ReadOnlySpan<byte> payload)
    {
        // EXPORT_NAME cannot carry an error: refusing means closing.
        if (stopping())
            return null;
        string name = Encoding.UTF8.GetString(payload);
        if (!catalog.TryGet(name, out var export))
        {
            log($"EXPORT_NAME for unknown export '{name}'; closing");
            return null;
        }
        var session = NewSession(export, name);
        Span<byte> answer = stackalloc byte[10 + 124];
        answer.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(answer, (ulong)session.Size);
        BinaryPrimitives.WriteUInt16BigEndian(answer[8..], (ushort)session.Flags);
        socket.SendAll(noZeroes ? answer[..10] : answer);
        return session;
    }

    private void List(ReadOnlySpan<byte> payload)
    {
        if (!payload.IsEmpty)
        {
            SendError(NbdOption.List, OptionReplyType.ErrInvalid, "LIST takes no data");
            return;
        }
        foreach (var export in catalog.List())
        {
            var name = Truncate(export.Name);
            var description = Truncate(export.Description);
            var body = new byte[4 + name.Length + description.Length];
            BinaryPrimitives.WriteUInt32BigEndian(body, (uint)name.Length);
            name.CopyTo(body, 4);
            description.CopyTo(body, 4 + name.Length);
            SendReply(NbdOption.List, OptionReplyType.Server, body);
        }
        SendReply(NbdOption.List, OptionReplyType.Ack, default);
    }

    private Session? InfoOrGo(NbdOption option, ReadOnlySpan<byte> payload)
    {
        // Layout: u32 name length, name, u16 count, count x u16 info type; nothing may be left over.
        if (payload.Length < 6)
        {
            SendError(option, OptionReplyType.ErrInvalid, "request too short");
            return null;
        }
        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if (nameLength > NbdWire.MaxStringLength || nameLength > payload.Length - 6)
        {
            SendError(option, OptionReplyType.ErrInvalid, "export name length exceeds the request");
            return null;
        }
        string name = Encoding.UTF8.GetString(payload.Slice(4, (int)nameLength));
        var rest = payload[(4 + (int)nameLength)..];
        int count = BinaryPrimitives.ReadUInt16BigEndian(rest);
        if (rest.Length != 2 + 2 * count)
        {
            SendError(option, OptionReplyType.ErrInvalid, "information request count does not match the request length");
            return null;
        }
        bool wantName = false, wantDescription = false;
        for (int i = 0; i < count; i++)
        {
            var type = (InfoType)BinaryPrimitives.ReadUInt16BigEndian(rest[(2 + 2 * i)..]);
            wantName |= type == InfoType.Name;
            wantDescription |= type == InfoType.Description;
        }

        if (!catalog.TryGet(name, out var export))
        {
            SendError(option, OptionReplyType.ErrUnknown, UnknownExportMessage(name));
            return null;
        }
        var session = NewSession(export, name);

        Span<byte> info = stackalloc byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)InfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(info[2..], (ulong)session.Size);
        BinaryPrimitives.WriteUInt16BigEndian(info[10..], (ushort)session.Flags);
        SendReply(option, OptionReplyType.Info, info[..12]);

        // Sent unasked too: the constraints are enforced, so clients are better off knowing them.
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)InfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[2..], NbdWire.MinimumBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[6..], NbdWire.PreferredBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[10..], NbdWire.MaximumPayload);
        SendReply(option, OptionReplyType.Info, info);

        if (wantName)
            SendInfoString(option, InfoType.Name, export.Name);
        if (wantDescription)
            SendInfoString(option, InfoType.Description, export.Description);

        SendReply(option, OptionReplyType.Ack, default);
        return option == NbdOption.Go ? session : null;
    }

    private void MetaContext(NbdOption option, ReadOnlySpan<byte> payload)
    {
        bool set = option == NbdOption.SetMetaContext;
        if (set)
            metaContextExport = null;   // a SET replaces the selection even when it fails
        if (!structured)
        {
            SendError(option, OptionReplyType.ErrInvalid, "negotiate structured replies first");
            return;
        }
        if (!TryParseMetaQueries(payload, out var exportName, out var queries))
        {
            SendError(option, OptionReplyType.ErrInvalid, "malformed metadata context request");
            return;
        }
        if (!catalog.TryGet(exportName, out _))
        {
            SendError(option, OptionReplyType.ErrUnknown, UnknownExportMessage(exportName));
            return;
        }

        bool match = false;
        if (queries.Count == 0)
            match = !set;   // an empty LIST means "everything"; an empty SET selects nothing
        foreach (var query in queries)
            match |= query == NbdWire.BaseAllocation || (!set && query == "base:");

        if (match)
        {
            var body = new byte[4 + BaseAllocationName.Length];
            BinaryPrimitives.WriteUInt32BigEndian(body, set ? NbdWire.BaseAllocationId : 0);
            BaseAllocationName.CopyTo(body, 4);
            SendReply(option, OptionReplyType.MetaContext, body);
            if (set)
                metaContextExport = exportName;
        }
        SendReply(option, OptionReplyType.Ack, default);
    }

    private static bool TryParseMetaQueries(ReadOnlySpan<byte> payload, out string exportName, out List<string> queries)
    {
        exportName = "";
        queries = new List<string>();
        if (payload.Length < 8)
            return false;
        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if (nameLength > NbdWire.MaxStringLength || nameLength > payload.Length - 8)
            return false;
        exportName = Encoding.UTF8.GetString(payload.Slice(4, (int)nameLength));
        var rest = payload[(4 + (int)nameLength)..];
        uint count = BinaryPrimitives.ReadUInt32BigEndian(rest);
        rest = rest[4..];
        for (uint i = 0; i < count; i++)
        {
            if (rest.Length < 4)
                return false;
            uint length = BinaryPrimitives.ReadUInt32BigEndian(rest);
            if (length > NbdWire.MaxStringLength || length > rest.Length - 4)
                return false;
            string query = Encoding.UTF8.GetString(rest.Slice(4, (int)length));
            if (query.IndexOf(':') <= 0)
                return false;   // every query starts with a namespace
            queries.Add(query);
            rest = rest[(4 + (int)length)..];
        }
        return rest.IsEmpty;
    }

    private Session NewSession(IBlockExport export, string requestedName) =>
        new(export, structured, metaContextExport is not null && metaContextExport == requestedName);

    private string UnknownExportMessage(string name)
    {
        var names = string.Join(", ", catalog.List().Select(e => e.Name));
        var message = names.Length == 0
            ? $"export '{name}' not found: this server has no exports"
            : $"export '{name}' not found; available: {names}";
        return message.Length > 1024 ? message[..1024] : message;
    }

    private void SendInfoString(NbdOption option, InfoType type, string value)
    {
        var bytes = Truncate(value);
        var body = new byte[2 + bytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)type);
        bytes.CopyTo(body, 2);
        SendReply(option, OptionReplyType.Info, body);
    }

    private static byte[] Truncate(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        return bytes.Length <= NbdWire.MaxStringLength ? bytes : bytes[..NbdWire.MaxStringLength];
    }

    private void SendError(NbdOption option, OptionReplyType type, string message) =>
        SendReply(option, type, Encoding.UTF8.GetBytes(message));

    private void TrySendAck(NbdOption option)
    {
        // The client may already have closed after ABORT; both are fine.
        try { SendReply(option, OptionReplyType.Ack, default); }
        catch (SocketException) { }
    }

    private void SendReply(NbdOption option, OptionReplyType type, ReadOnlySpan<byte> payload)
    {
        int total = NbdWire.OptionReplyHeaderSize + payload.Length;
        if (reply.Length < total)
            reply = new byte[total];
        BinaryPrimitives.WriteUInt64BigEndian(reply, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(12), (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(16), (uint)payload.Length);
        payload.CopyTo(reply.AsSpan(NbdWire.OptionReplyHeaderSize));
        socket.SendAll(reply.AsSpan(0, total));
    }
}
