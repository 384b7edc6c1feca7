using PCache.Nbd;

namespace PCache.Engine.Backing.Nbd;

/// <summary>
/// A backing that is an export on an NBD server. Requests are spread over several connections
/// when the server promises multi-conn consistency, otherwise they share one. A lost connection is
/// re-established on the next request (so a restarted server is picked up again by write-back's
/// retries and by the next read), and is refused if the export changed size. Because a FLUSH
/// only covers writes the server acknowledged on the connections it knows, a flush that follows a
/// lost connection fails once, so write-back writes the whole kset again before it trusts a flush.
/// </summary>
public sealed class NbdBackingDevice : IBackingDevice
{
    private const int MaxConnections = 4;
    private static readonly byte[] Zeroes = new byte[1 << 20];

    private readonly NbdUri _uri;
    private readonly NbdClientConnection?[] _connections;
    private readonly object[] _connectLocks;
    private readonly NbdExportInfo _info;
    private readonly int _maxRequest;
    private int _next;
    private long _breaks;
    private bool _unflushed;
    private long _breaksAtFirstWrite;
    private volatile bool _disposed;

    private NbdBackingDevice(NbdUri uri, NbdClientConnection first)
    {
        _uri = uri;
        _info = first.Info;
        int count = _info.Has(TransmissionFlags.CanMultiConn) ? MaxConnections : 1;
        _connections = new NbdClientConnection?[count];
        _connectLocks = new object[count];
        for (int i = 0; i < count; i++) _connectLocks[i] = new object();
        _connections[0] = first;
        _maxRequest = (int)Math.Min(_info.MaximumPayload, 32u << 20) & ~511;
        Size = _info.Size & ~511L;
    }

    public string Path => _uri.Text;

    public long Size { get; }

    /// <summary>Who the export is, for the identity recorded with the backing.</summary>
    public string Identity => $"nbd export '{_uri.ExportName}' on {_uri.Server}, {Size} bytes";

    /// <summary>Number of connections used (several only when the server advertises multi-conn).</summary>
    public int Connections => _connections.Length;

    public bool Structured => _info.Structured;

    public static NbdBackingDevice Open(string uri)
    {
        NbdUri parsed;
        try
        {
            parsed = NbdUri.Parse(uri);
        }
        catch (FormatException e)
        {
            throw new ArgumentException(e.Message, nameof(uri), e);
        }
        var first = NbdClientConnection.Connect(parsed);
        try
        {
            Check(parsed, first.Info);
            return new NbdBackingDevice(parsed, first);
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }

    private static void Check(NbdUri uri, NbdExportInfo info)
    {
        if (info.Has(TransmissionFlags.ReadOnly))
            throw new IOException($"{uri.Text}: the export is read-only; a cache needs to write back to it");
        if (!info.Has(TransmissionFlags.SendFlush))
            throw new IOException($"{uri.Text}: the server cannot flush (no NBD_FLAG_SEND_FLUSH); write-back needs flush to keep the backing crash-consistent, so it is refused");
        if (info.Size < 512)
            throw new IOException($"{uri.Text}: the export is {info.Size} bytes, too small for a backing");
    }

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = Math.Min(destination.Length, _maxRequest);
            Execute(NbdCommand.Read, 0, offset, (uint)n, default, destination[..n], "read");
            destination = destination[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        BeginWrite();
        try
        {
            while (!source.IsEmpty)
            {
                int n = Math.Min(source.Length, _maxRequest);
                Execute(NbdCommand.Write, 0, offset, (uint)n, source[..n], default, "write");
                source = source[n..];
                offset += n;
            }
        }
        catch (IOException)
        {
            _unflushed = false; // write-back starts the kset over after any failure
            throw;
        }
    }

    /// <summary>
    /// Write-back (the only writer) sends a kset's writes then flushes, and starts the kset over
    /// after any failure. A flush is only trusted if no connection broke since the first write it
    /// is meant to cover: a new connection's FLUSH says nothing about writes the old one carried.
    /// </summary>
    private void BeginWrite()
    {
        if (_unflushed) return;
        _unflushed = true;
        _breaksAtFirstWrite = Interlocked.Read(ref _breaks);
    }

    public void Flush()
    {
        bool check = _unflushed;
        long since = _breaksAtFirstWrite;
        _unflushed = false;
        if (check && Interlocked.Read(ref _breaks) != since)
            throw new IOException($"{Path}: a connection to {_uri.Server} was lost after writes it carried; they are sent again before flushing");
        long breaks = Interlocked.Read(ref _breaks);
        Execute(NbdCommand.Flush, 0, 0, 0, default, default, "flush");
        if (check && Interlocked.Read(ref _breaks) != breaks)
            throw new IOException($"{Path}: a connection to {_uri.Server} was lost during the flush");
    }

    public void Zero(long offset, long length, bool keepAllocated)
    {
        BeginWrite();
        try
        {
            ZeroRange(offset, length, keepAllocated);
        }
        catch (IOException)
        {
            _unflushed = false;
            throw;
        }
    }

    private void ZeroRange(long offset, long length, bool keepAllocated)
    {
        if (_info.Has(TransmissionFlags.SendWriteZeroes))
        {
            // Without NO_HOLE the server may deallocate (the TRIM the client asked for); with it, not.
            var flags = keepAllocated ? CommandFlags.NoHole : 0;
            while (length > 0)
            {
                uint n = (uint)Math.Min(length, 1L << 30);
                Execute(NbdCommand.WriteZeroes, flags, offset, n, default, default, "write-zeroes");
                offset += n;
                length -= n;
            }
            return;
        }
        while (length > 0)
        {
            int n = (int)Math.Min(length, Zeroes.Length);
            Write(offset, Zeroes.AsSpan(0, n));
            offset += n;
            length -= n;
        }
    }

    private void Execute(NbdCommand command, CommandFlags flags, long offset, uint length, ReadOnlySpan<byte> payload, Span<byte> destination, string what)
    {
        if (_disposed) throw new ObjectDisposedException(Path);
        int index = _connections.Length == 1 ? 0 : (int)((uint)Interlocked.Increment(ref _next) % (uint)_connections.Length);
        // One retry on a fresh connection: every NBD command here is idempotent, and a server that
        // restarted between two requests should cost nobody an error.
        for (int attempt = 0; ; attempt++)
        {
            var connection = Connection(index);
            uint error;
            try
            {
                error = connection.Execute(command, flags, offset, length, payload, destination);
            }
            catch (IOException) when (attempt == 0 && !_disposed)
            {
                continue;
            }
            if (error == NbdEShutdown)
            {
                // The server is going away: leave this connection (the protocol asks for it) and
                // try once more on a fresh one, in case it is already back.
                connection.Break("the server is shutting down");
                if (attempt == 0 && !_disposed) continue;
            }
            if (error != 0)
                throw new IOException($"{Path}: {what} of {length} bytes at {offset} failed on the server: {ErrorName(error)}");
            return;
        }
    }

    private const uint NbdEShutdown = 108;

    private NbdClientConnection Connection(int index)
    {
        var c = Volatile.Read(ref _connections[index]);
        if (c is not null && c.Broken is null) return c;
        lock (_connectLocks[index])
        {
            c = _connections[index];
            if (c is not null && c.Broken is null) return c;
            if (c is not null)
            {
                Interlocked.Increment(ref _breaks);
                c.Dispose();
                _connections[index] = null;
            }
            var fresh = NbdClientConnection.Connect(_uri);
            if ((fresh.Info.Size & ~511L) != Size)
            {
                fresh.Dispose();
                throw new IOException($"{Path}: the export is now {fresh.Info.Size} bytes, not the {Size} it had; refusing to use it");
            }
            try
            {
                Check(_uri, fresh.Info);
            }
            catch
            {
                fresh.Dispose();
                throw;
            }
            Volatile.Write(ref _connections[index], fresh);
            return fresh;
        }
    }

    private static string ErrorName(uint error) => error switch
    {
        1 => "EPERM (operation not permitted)",
        5 => "EIO (input/output error)",
        12 => "ENOMEM (out of memory)",
        22 => "EINVAL (invalid argument)",
        28 => "ENOSPC (no space left)",
        75 => "EOVERFLOW",
        95 => "ENOTSUP (not supported)",
        108 => "ESHUTDOWN (server shutting down)",
        _ => $"error {error}",
    };

    public void Dispose()
    {
        _disposed = true;
        for (int i = 0; i < _connections.Length; i++)
        {
            lock (_connectLocks[i])
            {
                _connections[i]?.Dispose();
                _connections[i] = null;
            }
        }
    }
}
