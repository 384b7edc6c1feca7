using System.Net.Sockets;
using System.Text;

namespace PCache.Daemon.Metrics;

/// <summary>
/// A minimal HTTP/1.1 server for GET /metrics on a TCP address or a Unix socket. One request per
/// connection (the reply says Connection: close). A client gets a bounded time to send a bounded
/// head and to read the reply, and connections run as async tasks with no thread of their own, so a
/// slow, silent or garbage-sending client holds one connection slot for seconds at most and never
/// blocks the daemon or another scrape.
/// </summary>
internal sealed class MetricsServer(MetricsListen listen, Func<bool, string> render, UnixFileMode socketMode, uint? groupId)
{
    /// <summary>A request head longer than this is refused (431): scrapers send a few hundred bytes.</summary>
    public const int MaxHeadBytes = 8 * 1024;

    /// <summary>Connections served at once; the others wait in the kernel's backlog.</summary>
    public const int MaxConnections = 64;

    /// <summary>Time a client has to send its request head.</summary>
    public static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Time a client has to take the reply.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections, MaxConnections);
    private readonly object _gate = new();
    private readonly HashSet<Task> _connections = [];
    private Socket? _listener;
    private Task? _acceptLoop;

    public MetricsListen Listen { get; } = listen;

    /// <summary>Bind and listen; a stale Unix socket file (the instance lock says it is ours) is replaced.</summary>
    public void Start()
    {
        Socket listener;
        if (Listen.UnixPath is { } path)
        {
            if (Directory.Exists(path) || Engine.Platform.FileStat.Of(path).Kind is not (Engine.Platform.FileKind.Missing or Engine.Platform.FileKind.Other))
                throw new IOException($"{path} exists and is not a socket");
            if (File.Exists(path)) File.Delete(path);
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        else
        {
            listener = new Socket(Listen.Tcp!.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        }
        try
        {
            listener.Bind(Listen.EndPoint);
            if (Listen.UnixPath is { } p)
            {
                File.SetUnixFileMode(p, socketMode);
                if (groupId is { } gid) Native.chown(p, uint.MaxValue, gid);
            }
            listener.Listen(128);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener);
    }

    /// <summary>The address actually bound (a TCP port 0 becomes the port the kernel chose).</summary>
    public string BoundAddress => Listen.UnixPath is { } p ? MetricsListen.UnixPrefix + p : _listener?.LocalEndPoint?.ToString() ?? Listen.ToString();

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                await _slots.WaitAsync(_stop.Token).ConfigureAwait(false);
                socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _slots.Release();
                if (_stop.IsCancellationRequested) return;
                Log.Warning($"metrics: accept failed: {e.Message}");
                await Task.Delay(100).ConfigureAwait(false); // EMFILE and friends: do not spin
                continue;
            }
            var task = Task.Run(async () =>
            {
                try
                {
                    await ServeAsync(socket).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    Log.Debug($"metrics: connection ended: {e.Message}");
                }
                finally
                {
                    socket.Dispose();
                    _slots.Release();
                }
            });
            lock (_gate) _connections.Add(task);
            _ = task.ContinueWith(t => { lock (_gate) _connections.Remove(t); }, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var buffer = new byte[MaxHeadBytes];
        int filled = 0, end = -1;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
        {
            limit.CancelAfter(HeadTimeout);
            try
            {
                while (end < 0)
                {
                    if (filled == buffer.Length)
                    {
                        await ReplyAsync(socket, 431, "Request Header Fields Too Large", "text/plain; charset=utf-8",
                            $"the request head is larger than {MaxHeadBytes} bytes\n", head: false).ConfigureAwait(false);
                        return;
                    }
                    int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, limit.Token).ConfigureAwait(false);
                    if (n == 0) return; // the client gave up
                    int searchFrom = Math.Max(0, filled - 3);
                    filled += n;
                    int found = HttpRequestHead.EndOfHead(buffer.AsSpan(searchFrom, filled - searchFrom));
                    if (found >= 0) end = searchFrom + found;
                }
            }
            catch (OperationCanceledException)
            {
                // Too slow (or the daemon is stopping): drop the connection without a word.
                return;
            }
        }

        if (HttpRequestHead.Parse(buffer.AsSpan(0, end)) is not { } request)
        {
            await ReplyAsync(socket, 400, "Bad Request", "text/plain; charset=utf-8", "not an HTTP/1.x request\n", head: false).ConfigureAwait(false);
            return;
        }
        if (request.Method is not ("GET" or "HEAD"))
        {
            await ReplyAsync(socket, 405, "Method Not Allowed", "text/plain; charset=utf-8", $"only GET and HEAD, not {request.Method}\n",
                head: false, extraHeaders: "Allow: GET, HEAD\r\n").ConfigureAwait(false);
            return;
        }
        if (request.Path != "/metrics")
        {
            await ReplyAsync(socket, 404, "Not Found", "text/plain; charset=utf-8", "metrics are at /metrics\n", head: request.Method == "HEAD").ConfigureAwait(false);
            return;
        }
        bool openMetrics = request.WantsOpenMetrics;
        string body;
        try
        {
            body = render(openMetrics);
        }
        catch (Exception e)
        {
            Log.Warning($"metrics: rendering failed: {e.Message}");
            await ReplyAsync(socket, 500, "Internal Server Error", "text/plain; charset=utf-8", $"rendering failed: {e.Message}\n", head: false).ConfigureAwait(false);
            return;
        }
        await ReplyAsync(socket, 200, "OK", openMetrics ? MetricsText.OpenMetricsContentType : MetricsText.PrometheusContentType,
            body, head: request.Method == "HEAD").ConfigureAwait(false);
    }

    private async Task ReplyAsync(Socket socket, int status, string reason, string contentType, string body, bool head, string extraHeaders = "")
    {
        byte[] content = Encoding.UTF8.GetBytes(body);
        byte[] header = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {content.Length}\r\n{extraHeaders}Connection: close\r\n\r\n");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        limit.CancelAfter(ReplyTimeout);
        try
        {
            await SendAllAsync(socket, header, limit.Token).ConfigureAwait(false);
            if (!head) await SendAllAsync(socket, content, limit.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send);
            // Closing with unread input makes the kernel send a reset, which can destroy the reply before the
            // client reads it (a refused oversized head): read and drop what the client still sends until it closes.
            var sink = new byte[4096];
            for (int total = 0; total < 1 << 20;)
            {
                int n = await socket.ReceiveAsync(sink, SocketFlags.None, limit.Token).ConfigureAwait(false);
                if (n == 0) break;
                total += n;
            }
        }
        catch (OperationCanceledException)
        {
            // The client does not read its reply: drop it.
        }
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancel)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, cancel).ConfigureAwait(false);
            data = data[n..];
        }
    }

    /// <summary>Stop accepting, cut the connections still open, and remove a Unix socket file.</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        _listener?.Dispose();
        if (Listen.UnixPath is { } path)
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
        Task[] running;
        lock (_gate) running = _connections.ToArray();
        await Task.WhenAny(Task.WhenAll(running), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
    }
}
