using System.Net;
using System.Net.Sockets;

namespace PCache.Nbd;

/// <summary>
/// Fixed-newstyle NBD server: listens on a Unix socket and/or TCP and serves the exports of an
/// <see cref="IExportCatalog"/>. Each connection runs on its own threads; see <see cref="NbdConnection"/>.
/// </summary>
public sealed class NbdServer : IDisposable, IAsyncDisposable
{
    private readonly NbdServerOptions options;
    private readonly object gate = new();
    private readonly HashSet<NbdConnection> connections = [];
    private readonly List<Socket> listeners = [];
    private readonly List<Task> acceptLoops = [];
    private bool started;
    private bool stopping;
    private Task? stopTask;

    public NbdServer(IExportCatalog catalog, NbdServerOptions options)
    {
        Catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.UnixSocketPath is null && options.TcpEndPoint is null)
            throw new ArgumentException("give a Unix socket path, a TCP endpoint or both", nameof(options));
    }

    public IExportCatalog Catalog { get; }

    public string? UnixSocketPath => options.UnixSocketPath;

    /// <summary>The bound TCP endpoint (with the real port when port 0 was asked for); null without TCP.</summary>
    public IPEndPoint? TcpEndPoint { get; private set; }

    public int ConnectionCount
    {
        get { lock (gate) return connections.Count; }
    }

    /// <summary>Clients connected to one export: what stopping it would cut off.</summary>
    public int ConnectionCountFor(string exportName)
    {
        lock (gate) return connections.Count(c => c.ExportName == exportName);
    }

    /// <summary>Binds and starts accepting. A stale socket file is replaced; a live one is an error.</summary>
    public void Start()
    {
        lock (gate)
        {
            if (started)
                throw new InvalidOperationException("the server was started already");
            started = true;
        }
        try
        {
            if (options.UnixSocketPath is { } path)
                listeners.Add(BindUnix(path));
            if (options.TcpEndPoint is { } endPoint)
            {
                var tcp = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                tcp.Bind(endPoint);
                tcp.Listen(128);
                TcpEndPoint = (IPEndPoint)tcp.LocalEndPoint!;
                listeners.Add(tcp);
            }
        }
        catch
        {
            CloseListeners();
            throw;
        }
        foreach (var listener in listeners)
            acceptLoops.Add(AcceptLoop(listener));
    }

    /// <summary>
    /// Graceful stop: no new connections; options get ERR_SHUTDOWN and new requests ESHUTDOWN for
    /// <see cref="NbdServerOptions.ShutdownGracePeriod"/>; then inputs close and each connection ends once its
    /// in-flight requests have replied. Cancelling cuts the remaining connections at once.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (gate)
        {
            if (stopTask is null)
            {
                // Synchronously: once StopAsync returns, nobody can connect and every request gets ESHUTDOWN.
                stopping = true;
                CloseListeners();
                var all = connections.ToArray();
                foreach (var connection in all)
                    connection.BeginStop();
                stopTask = StopCoreAsync(all, cancellationToken);
            }
            return stopTask;
        }
    }

    /// <summary>Gracefully closes every connection attached to one export (e.g. before its backing goes away).</summary>
    public Task DisconnectExportAsync(string name, CancellationToken cancellationToken = default)
    {
        NbdConnection[] attached;
        lock (gate)
            attached = connections.Where(c => c.ExportName == name).ToArray();
        foreach (var connection in attached)
            connection.BeginStop();
        return StopConnectionsAsync(attached, cancellationToken);
    }

    public void Dispose()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        try { StopAsync(cancel.Token).Wait(TimeSpan.FromSeconds(10)); }
        catch (AggregateException) { }
    }

    public async ValueTask DisposeAsync()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await StopAsync(cancel.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    internal void Forget(NbdConnection connection)
    {
        lock (gate)
            connections.Remove(connection);
    }

    private async Task StopCoreAsync(NbdConnection[] all, CancellationToken cancellationToken)
    {
        try { await Task.WhenAll(acceptLoops).ConfigureAwait(false); }
        catch (Exception) { /* loops end by their listener closing */ }
        await StopConnectionsAsync(all, cancellationToken).ConfigureAwait(false);
    }

    private async Task StopConnectionsAsync(NbdConnection[] targets, CancellationToken cancellationToken)
    {
        if (targets.Length == 0)
            return;
        var allClosed = Task.WhenAll(targets.Select(c => c.Closed));
        try
        {
            // Clients that got ESHUTDOWN may disconnect by themselves during the grace period.
            await Task.WhenAny(allClosed, Task.Delay(options.ShutdownGracePeriod, cancellationToken)).ConfigureAwait(false);
            foreach (var connection in targets)
                connection.CloseInput();
            // A client that stopped reading our replies would keep its connection's senders blocked forever.
            if (await Task.WhenAny(allClosed, Task.Delay(options.ShutdownTimeout, cancellationToken)).ConfigureAwait(false) != allClosed)
            {
                options.Log?.Invoke($"nbd: {targets.Count(c => !c.Closed.IsCompleted)} connection(s) did not finish within {options.ShutdownTimeout}; cutting them");
                foreach (var connection in targets)
                    connection.Abort();
            }
            await allClosed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            foreach (var connection in targets)
                connection.Abort();
            throw;
        }
    }

    private async Task AcceptLoop(Socket listener)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (gate)
                {
                    if (stopping)
                        return;
                }
                options.Log?.Invoke($"nbd: accept failed: {e.Message}");
                await Task.Delay(100).ConfigureAwait(false);   // e.g. EMFILE: do not spin
                continue;
            }

            if (socket.AddressFamily != AddressFamily.Unix)
                socket.NoDelay = true;
            NbdConnection connection;
            lock (gate)
            {
                if (stopping || connections.Count >= options.MaxConnections)
                {
                    if (!stopping)
                        options.Log?.Invoke($"nbd: connection limit {options.MaxConnections} reached; refusing a client");
                    socket.Dispose();
                    continue;
                }
                var peer = socket.RemoteEndPoint is IPEndPoint ip ? ip.ToString() : "unix";
                connection = new NbdConnection(this, socket, options, peer);
                connections.Add(connection);
            }
            connection.Start();
        }
    }

    private Socket BindUnix(string path)
    {
        RemoveStaleSocket(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            if (options.UnixSocketMode is { } mode && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, mode);
            socket.Listen(128);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A socket file nobody listens on is left over from a crash; one somebody answers on is not ours to take.</summary>
    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path))
            return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path);
            return;
        }
        throw new IOException($"another server is listening on {path}");
    }

    private void CloseListeners()
    {
        foreach (var listener in listeners)
            listener.Dispose();
        if (options.UnixSocketPath is { } path && listeners.Any(l => l.AddressFamily == AddressFamily.Unix))
        {
            try { File.Delete(path); } catch (IOException) { }
        }
    }
}
