using System.Buffers.Binary;
using System.Net.Sockets;
using PCache.Nbd;

namespace PCache.Engine.Backing.Nbd;

/// <summary>
/// One transmission-phase connection to an NBD server, shared by many threads: each request takes
/// a slot (its cookie), is sent under a send lock, and waits for the reader thread to fill its
/// buffer and complete it, so replies may come in any order. A request that is not answered within
/// the timeout breaks the connection (the way the kernel's nbd client does): every waiter fails at
/// once and the owner reconnects. Slots, buffers and events are reused: no allocation per request.
/// </summary>
internal sealed unsafe class NbdClientConnection : IDisposable
{
    private const int SlotCount = 64;
    private const int MaxChunkPayload = 64 * 1024;

    private readonly Socket _socket;
    private readonly NbdUri _uri;
    private readonly Slot[] _slots = new Slot[SlotCount];
    private readonly int[] _freeSlots = new int[SlotCount];
    private int _freeCount = SlotCount;
    private readonly SemaphoreSlim _slotsAvailable = new(SlotCount, SlotCount);
    private readonly object _slotLock = new();
    private readonly object _sendLock = new();
    private readonly byte[] _header = new byte[NbdWire.RequestHeaderSize];
    private readonly Thread _reader;
    private volatile string? _broken;

    private sealed class Slot
    {
        public uint Generation;
        public bool InUse;
        public byte* Destination;
        public long Offset;
        public int Length;
        public uint Error;
        public volatile bool Completed;
        public readonly ManualResetEventSlim Done = new(false);
    }

    private NbdClientConnection(Socket socket, NbdUri uri, NbdExportInfo info)
    {
        _socket = socket;
        _uri = uri;
        Info = info;
        for (int i = 0; i < SlotCount; i++)
        {
            _slots[i] = new Slot();
            _freeSlots[i] = i;
        }
        _reader = new Thread(ReadReplies) { IsBackground = true, Name = "nbd-client-reader" };
        _reader.Start();
    }

    public NbdExportInfo Info { get; }

    /// <summary>Why the connection is no longer usable, or null while it is.</summary>
    public string? Broken => _broken;

    public static NbdClientConnection Connect(NbdUri uri)
    {
        var socket = uri.NewSocket();
        try
        {
            using (var cts = new CancellationTokenSource(uri.Timeout))
            {
                try
                {
                    socket.ConnectAsync(uri.EndPoint(), cts.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    throw new IOException($"{uri.Text}: cannot connect to {uri.Server}: no answer within {uri.Timeout.TotalSeconds:0} s");
                }
                catch (SocketException e)
                {
                    throw new IOException($"{uri.Text}: cannot connect to {uri.Server}: {e.Message}", e);
                }
            }
            int ms = (int)uri.Timeout.TotalMilliseconds;
            socket.ReceiveTimeout = ms;
            socket.SendTimeout = ms;
            NbdExportInfo info;
            try
            {
                info = NbdClientHandshake.Run(socket, uri);
            }
            catch (IOException e) when (!e.Message.StartsWith(uri.Text, StringComparison.Ordinal))
            {
                throw new IOException($"{uri.Text}: handshake with {uri.Server} failed: {e.Message}", e);
            }
            socket.ReceiveTimeout = 0; // the reader waits for replies indefinitely; waiters enforce the timeout
            return new NbdClientConnection(socket, uri, info);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Send one request and wait for its reply. Returns the server's NBD error (0 for success);
    /// throws <see cref="IOException"/> when the connection fails or the reply does not come in time.
    /// </summary>
    public uint Execute(NbdCommand command, CommandFlags flags, long offset, uint length, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        if (_broken is { } why) throw Lost(why);
        var timeout = _uri.Timeout;
        if (!_slotsAvailable.Wait(timeout)) throw Lost(Break($"no reply to {SlotCount} requests within {timeout.TotalSeconds:0} s"));
        int index;
        lock (_slotLock) index = _freeSlots[--_freeCount];
        var slot = _slots[index];
        try
        {
            fixed (byte* dst = destination)
            {
                slot.Generation++;
                slot.Destination = dst;
                slot.Offset = offset;
                slot.Length = destination.Length;
                slot.Error = 0;
                slot.Completed = false;
                slot.Done.Reset();
                Volatile.Write(ref slot.InUse, true);
                ulong cookie = ((ulong)slot.Generation << 32) | (uint)index;
                try
                {
                    lock (_sendLock)
                    {
                        if (_broken is { } b) throw Lost(b);
                        var h = _header.AsSpan();
                        BinaryPrimitives.WriteUInt32BigEndian(h, NbdMagic.Request);
                        BinaryPrimitives.WriteUInt16BigEndian(h[4..], (ushort)flags);
                        BinaryPrimitives.WriteUInt16BigEndian(h[6..], (ushort)command);
                        BinaryPrimitives.WriteUInt64BigEndian(h[8..], cookie);
                        BinaryPrimitives.WriteUInt64BigEndian(h[16..], (ulong)offset);
                        BinaryPrimitives.WriteUInt32BigEndian(h[24..], length);
                        NbdSocket.SendAll(_socket, h);
                        if (!payload.IsEmpty) NbdSocket.SendAll(_socket, payload);
                    }
                }
                catch (IOException e) when (_broken is null)
                {
                    Break(e.Message);
                }
                if (!slot.Done.Wait(timeout))
                {
                    Break($"no reply within {timeout.TotalSeconds:0} s");
                }
                if (!slot.Completed)
                {
                    // The reader may still be filling this buffer: wait until it has let go of the
                    // socket before the caller's memory goes out of scope.
                    _reader.Join();
                    throw Lost(_broken ?? "connection lost");
                }
                return slot.Error;
            }
        }
        finally
        {
            Volatile.Write(ref slot.InUse, false);
            lock (_slotLock) _freeSlots[_freeCount++] = index;
            _slotsAvailable.Release();
        }
    }

    private IOException Lost(string why) => new($"{_uri.Text}: {why}");

    /// <summary>Mark the connection dead and close the socket; the reader then fails every waiter.</summary>
    public string Break(string why)
    {
        lock (_slotLock)
        {
            if (_broken is null) _broken = $"connection to {_uri.Server} lost: {why}";
        }
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        return _broken!;
    }

    private void ReadReplies()
    {
        var h = new byte[NbdWire.ChunkHeaderSize];
        var scratch = new byte[MaxChunkPayload];
        try
        {
            while (true)
            {
                NbdSocket.ReceiveAll(_socket, h.AsSpan(0, 4));
                uint magic = BinaryPrimitives.ReadUInt32BigEndian(h);
                if (magic == NbdMagic.SimpleReply)
                {
                    NbdSocket.ReceiveAll(_socket, h.AsSpan(4, 12));
                    uint error = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(4));
                    var slot = Find(BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(8)));
                    // Simple replies carry read data only on success, and only without structured replies.
                    if (error == 0 && slot.Destination != null && slot.Length > 0 && !Info.Structured)
                        NbdSocket.ReceiveAll(_socket, new Span<byte>(slot.Destination, slot.Length));
                    slot.Error = error;
                    Complete(slot);
                }
                else if (magic == NbdMagic.StructuredReply && Info.Structured)
                {
                    NbdSocket.ReceiveAll(_socket, h.AsSpan(4, 16));
                    ushort flags = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(4));
                    var type = (ChunkType)BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(6));
                    var slot = Find(BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(8)));
                    uint length = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(16));
                    Chunk(slot, type, length, scratch);
                    if ((flags & NbdWire.ReplyFlagDone) != 0) Complete(slot);
                }
                else
                {
                    throw new IOException($"protocol error: reply magic {magic:x8}");
                }
            }
        }
        catch (IOException e)
        {
            Break(e.Message);
        }
        catch (Exception e)
        {
            Break($"client error: {e.Message}");
        }
        // Wake every waiter: they see the connection broken and fail.
        foreach (var s in _slots)
            if (Volatile.Read(ref s.InUse)) s.Done.Set();
    }

    private void Chunk(Slot slot, ChunkType type, uint length, byte[] scratch)
    {
        switch (type)
        {
            case ChunkType.None:
                if (length != 0) throw new IOException("protocol error: NONE chunk with a payload");
                return;
            case ChunkType.OffsetData:
            {
                if (length <= 8) throw new IOException("protocol error: empty OFFSET_DATA chunk");
                NbdSocket.ReceiveAll(_socket, scratch.AsSpan(0, 8));
                long at = (long)BinaryPrimitives.ReadUInt64BigEndian(scratch) - slot.Offset;
                long n = length - 8;
                if (slot.Destination == null || at < 0 || at + n > slot.Length)
                    throw new IOException("protocol error: OFFSET_DATA outside the request");
                NbdSocket.ReceiveAll(_socket, new Span<byte>(slot.Destination + at, (int)n));
                return;
            }
            case ChunkType.OffsetHole:
            {
                if (length != 12) throw new IOException("protocol error: OFFSET_HOLE chunk of the wrong size");
                NbdSocket.ReceiveAll(_socket, scratch.AsSpan(0, 12));
                long at = (long)BinaryPrimitives.ReadUInt64BigEndian(scratch) - slot.Offset;
                uint n = BinaryPrimitives.ReadUInt32BigEndian(scratch.AsSpan(8));
                if (slot.Destination == null || at < 0 || at + n > slot.Length)
                    throw new IOException("protocol error: OFFSET_HOLE outside the request");
                new Span<byte>(slot.Destination + at, (int)n).Clear();
                return;
            }
            default:
            {
                if (length > scratch.Length) throw new IOException($"protocol error: chunk of {length} bytes");
                NbdSocket.ReceiveAll(_socket, scratch.AsSpan(0, (int)length));
                if (((ushort)type & 0x8000) != 0)
                {
                    uint error = length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(scratch) : NbdErrnoIo;
                    if (slot.Error == 0) slot.Error = error == 0 ? NbdErrnoIo : error;
                }
                return; // other informational chunks (block status) are not asked for
            }
        }
    }

    private const uint NbdErrnoIo = 5;

    private Slot Find(ulong cookie)
    {
        uint index = (uint)cookie;
        if (index >= SlotCount) throw new IOException($"protocol error: unknown cookie {cookie:x16}");
        var slot = _slots[index];
        if (!Volatile.Read(ref slot.InUse) || slot.Generation != (uint)(cookie >> 32))
            throw new IOException($"protocol error: reply for cookie {cookie:x16}, which is not in flight");
        return slot;
    }

    private static void Complete(Slot slot)
    {
        slot.Completed = true;
        slot.Done.Set();
    }

    public void Dispose()
    {
        if (_broken is null)
        {
            try
            {
                lock (_sendLock)
                {
                    var h = new byte[NbdWire.RequestHeaderSize];
                    BinaryPrimitives.WriteUInt32BigEndian(h, NbdMagic.Request);
                    BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), (ushort)NbdCommand.Disconnect);
                    NbdSocket.SendAll(_socket, h);
                }
            }
            catch (IOException) { }
        }
        Break("closed");
        _reader.Join();
        _socket.Dispose();
    }
}
