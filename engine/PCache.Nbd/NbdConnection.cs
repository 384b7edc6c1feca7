using System.Net.Sockets;

namespace PCache.Nbd;

/// <summary>
/// One client connection: a thread of its own runs the handshake, then the transmission phase, and owns
/// the socket until both are over. The server only ever asks it to stop (politely or not).
/// </summary>
internal sealed class NbdConnection
{
    private readonly NbdServer server;
    private readonly Socket socket;
    private readonly NbdServerOptions options;
    private readonly TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string peer;
    private volatile bool stopping;
    private volatile string? exportName;

    public NbdConnection(NbdServer server, Socket socket, NbdServerOptions options, string peer)
    {
        this.server = server;
        this.socket = socket;
        this.options = options;
        this.peer = peer;
    }

    /// <summary>The export chosen in the handshake; null while still haggling.</summary>
    public string? ExportName => exportName;

    public Task Closed => closed.Task;

    public void Start() => new Thread(Run) { IsBackground = true, Name = "nbd-connection" }.Start();

    /// <summary>From now on options get ERR_SHUTDOWN and requests ESHUTDOWN; in-flight requests still finish.</summary>
    public void BeginStop() => stopping = true;

    /// <summary>Stops reading; the connection closes once its in-flight requests have replied.</summary>
    public void CloseInput() => Shutdown(SocketShutdown.Receive);

    /// <summary>Cuts the connection: in-flight replies are lost.</summary>
    public void Abort() => Shutdown(SocketShutdown.Both);

    private void Shutdown(SocketShutdown how)
    {
        try { socket.Shutdown(how); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    private void Run()
    {
        try
        {
            socket.ReceiveTimeout = (int)Math.Clamp(options.HandshakeTimeout.TotalMilliseconds, 1, int.MaxValue);
            var session = new Handshake(socket, server.Catalog, options, () => stopping, Log).Run();
            if (session is null)
                return;
            socket.ReceiveTimeout = 0;   // idle clients are normal once attached
            exportName = session.Export.Name;
            new Transmission(socket, session, options, () => stopping, Log).Run();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            Log("handshake timed out");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            // The peer vanished mid-handshake; nothing to report to anyone.
        }
        catch (Exception e)
        {
            Log($"connection failed: {e}");
        }
        finally
        {
            socket.Dispose();
            server.Forget(this);
            closed.TrySetResult();
        }
    }

    private void Log(string message) => options.Log?.Invoke($"nbd {peer}{(exportName is null ? "" : " " + exportName)}: {message}");
}
