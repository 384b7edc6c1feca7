using System.Net.Sockets;
using PCache.Client;
using PCache.Daemon.Glue;

namespace PCache.Daemon.Control;

/// <summary>
/// One client of the control socket: credentials first, then request lines answered one at a
/// time. Whatever the client does — garbage, silence, a megabyte without a newline, vanishing
/// mid-request — ends in an error line or a closed connection, never in an exception that
/// escapes. A long operation (backing-stop) is the last request on its connection: while it
/// runs, any input or a hang-up from the client cancels it.
/// </summary>
internal sealed class ControlConnection(Socket socket, ControlServer server)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    public async Task RunAsync()
    {
        try
        {
            var peer = PeerCredentials.Of(socket);
            if (peer is not { } p || !server.Policy.Allows(p))
            {
                string denial = server.Policy.Denial(peer);
                Log.Warning($"control: {denial}");
                await RefuseAsync(Reply.Fail(ErrorCodes.PermissionDenied, denial, server.Options.Path)).ConfigureAwait(false);
                return;
            }
            await ServeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The client went away or the daemon is stopping: nothing to answer.
        }
        catch (Exception e)
        {
            Log.Error($"control: connection failed unexpectedly: {e}");
        }
        finally
        {
            try { socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
            socket.Dispose();
        }
    }

    private async Task ServeAsync()
    {
        var reader = new LineReader(ControlProtocol.MaxRequestBytes);
        var stopping = server.Stopping;
        while (!stopping.IsCancellationRequested)
        {
            (LineStatus Status, ReadOnlyMemory<byte> Line) read;
            using (var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                idle.CancelAfter(server.Options.IdleTimeout);
                try
                {
                    read = await reader.ReadLineAsync(socket, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                {
                    await SendAsync(Reply.Fail(ErrorCodes.InvalidRequest,
                        $"no complete request within {server.Options.IdleTimeout.TotalSeconds:0} s; closing the connection").Encode(null)).ConfigureAwait(false);
                    return;
                }
            }
            if (read.Status == LineStatus.End) return;
            if (read.Status == LineStatus.TooLong)
            {
                await SendAsync(Reply.Fail(ErrorCodes.InvalidRequest,
                    $"request line longer than {ControlProtocol.MaxRequestBytes} bytes; closing the connection").Encode(null)).ConfigureAwait(false);
                return;
            }
            if (read.Line.Span.Trim(" \t"u8).IsEmpty) continue;

            var (request, id, error) = RequestParser.Parse(read.Line);
            if (request is null)
            {
                await SendAsync(error!.Encode(id)).ConfigureAwait(false);
                continue;
            }
            if (!server.Dispatcher.TryGet(request.Verb, out var verb))
            {
                await SendAsync(Reply.Fail(ErrorCodes.UnknownVerb,
                    $"unknown verb '{Truncate(request.Verb)}'; this daemon knows {server.Dispatcher.Known}", "verb").Encode(id)).ConfigureAwait(false);
                continue;
            }
            if (verb.Long)
            {
                await RunLongAsync(verb, request).ConfigureAwait(false);
                return;
            }
            var reply = await RunAsync(verb, request, new RequestContext(stopping, new ProgressSink())).ConfigureAwait(false);
            await SendAsync(reply.Encode(id)).ConfigureAwait(false);
        }
    }

    private async Task RunLongAsync(RequestDispatcher.Verb verb, ParsedRequest request)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(server.Stopping);
        var sink = new ProgressSink();
        _ = WatchForHangUpAsync(cancel);
        var task = RunAsync(verb, request, new RequestContext(cancel.Token, sink));
        DrainProgress? sent = null;
        while (!task.IsCompleted)
        {
            await Task.WhenAny(task, Task.Delay(ProgressInterval)).ConfigureAwait(false);
            if (!request.Progress || task.IsCompleted || sink.Latest is not { } latest || ReferenceEquals(latest, sent)) continue;
            try
            {
                await SendAsync(Reply.Progress(request.Id, latest)).ConfigureAwait(false);
                sent = latest;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                cancel.Cancel(); // nobody is listening any more: stop working for them
            }
        }
        var reply = await task.ConfigureAwait(false);
        // The last state (done, or where it stopped) always reaches a client that asked for
        // progress, however quickly the operation ended.
        if (request.Progress && sink.Latest is { } last && !ReferenceEquals(last, sent))
            await SendAsync(Reply.Progress(request.Id, last)).ConfigureAwait(false);
        await SendAsync(reply.Encode(request.Id)).ConfigureAwait(false);
    }

    /// <summary>Any byte or end of input from the client while a long operation runs means "stop".</summary>
    private async Task WatchForHangUpAsync(CancellationTokenSource cancel)
    {
        var one = new byte[1];
        try
        {
            await socket.ReceiveAsync(one, SocketFlags.None, cancel.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // a reset connection is a hang-up too; a cancelled watch means the operation ended
        }
        try { cancel.Cancel(); } catch (ObjectDisposedException) { }
    }

    private async Task<Reply> RunAsync(RequestDispatcher.Verb verb, ParsedRequest request, RequestContext context)
    {
        try
        {
            return await verb.Run(request.Args, context).ConfigureAwait(false);
        }
        catch (ControlException e)
        {
            return Reply.Fail(e);
        }
        catch (OperationCanceledException) when (server.Stopping.IsCancellationRequested)
        {
            return Reply.Fail(ErrorCodes.ShuttingDown, $"the pcache daemon is shutting down; {verb.Name} was not done");
        }
        catch (OperationCanceledException) when (context.Cancel.IsCancellationRequested)
        {
            return Reply.Fail(ErrorCodes.Cancelled, $"{verb.Name} was cancelled before it changed anything");
        }
        catch (Exception e)
        {
            Log.Error($"control: {verb.Name} failed unexpectedly: {e}");
            return Reply.Fail(ErrorCodes.InternalError, $"{verb.Name} failed unexpectedly: {e.Message} (see the daemon's log)");
        }
    }

    /// <summary>Write a line; only a client that stops reading is cut off (a stopping daemon still sends its last answers).</summary>
    private async Task SendAsync(byte[] line)
    {
        using var timeout = new CancellationTokenSource(server.Options.WriteTimeout);
        int sent = 0;
        while (sent < line.Length)
            sent += await socket.SendAsync(line.AsMemory(sent), SocketFlags.None, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Answer once and close. What the client sent meanwhile is read and dropped first: closing a
    /// Unix socket with unread input makes the peer's next read fail with ECONNRESET instead of
    /// a clean end of stream.
    /// </summary>
    private async Task RefuseAsync(Reply reply)
    {
        await SendAsync(reply.Encode(null)).ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Send);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var sink = new byte[4096];
        for (int total = 0; total < ControlProtocol.MaxRequestBytes;)
        {
            int n = await socket.ReceiveAsync(sink, SocketFlags.None, limit.Token).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "...";
}
