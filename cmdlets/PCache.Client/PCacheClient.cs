using System.Buffers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace PCache.Client;

/// <summary>
/// Talks to the pcache daemon over its control socket: one connection per request, one request
/// line, optional progress lines, one answer line. Failures surface as <see cref="PCacheException"/>
/// with a stable code; socket errors are translated into what the user should do next.
/// Thread-safe: nothing is shared between calls.
/// </summary>
public sealed class PCacheClient
{
    private const int MaxResponseBytes = 16 << 20;
    private static readonly TimeSpan CancelAcknowledgement = TimeSpan.FromSeconds(10);

    public PCacheClient(string? socketPath = null)
        : this(SocketLocation.Resolve(socketPath))
    {
    }

    public PCacheClient(SocketLocation socket) => Socket = socket;

    public SocketLocation Socket { get; }

    /// <summary>How long to wait for the daemon to accept a connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Longest silence from the daemon while a request runs (progress lines reset it): a daemon
    /// that accepts but does not answer fails the call with <see cref="ErrorCodes.Timeout"/>.
    /// Defaults to $PCACHE_TIMEOUT seconds, else 60.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeoutFromEnvironment() ?? TimeSpan.FromSeconds(60);

    /// <summary>The same as <see cref="Timeout"/> (its earlier name).</summary>
    public TimeSpan RequestTimeout
    {
        get => Timeout;
        init => Timeout = value;
    }

    /// <summary>$PCACHE_TIMEOUT as a time span; null when unset; a value that is not 1..86400 seconds is an invalid_argument error.</summary>
    public static TimeSpan? TimeoutFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(ControlProtocol.TimeoutEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0 && s <= 86400)
            return TimeSpan.FromSeconds(s);
        throw new PCacheException(ErrorCodes.InvalidArgument,
            $"{ControlProtocol.TimeoutEnvironmentVariable}='{text}' is not a number of seconds from 1 to 86400", ControlProtocol.TimeoutEnvironmentVariable);
    }

    /// <summary>cache-start and backing-start replay logs; a large cache can take minutes.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(30);

    public async Task<DaemonStatus> PingAsync(CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.Ping, null, cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.DaemonStatus);

    public async Task<CacheStartResult> StartCacheAsync(CacheStartArgs args, CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.CacheStart, Serialize(args, ControlJsonContext.Default.CacheStartArgs),
            timeout: StartTimeout, cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.CacheStartResult);

    public async Task<CacheStopResult> StopCacheAsync(int cacheId, CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.CacheStop, Serialize(new CacheStopArgs { CacheId = cacheId }, ControlJsonContext.Default.CacheStopArgs),
            cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.CacheStopResult);

    public async Task<List<CacheEntry>> ListCachesAsync(CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.CacheList, null, cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.ListCacheEntry);

    public async Task<BackingEntry> StartBackingAsync(BackingStartArgs args, CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.BackingStart, Serialize(args, ControlJsonContext.Default.BackingStartArgs),
            timeout: StartTimeout, cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.BackingEntry);

    /// <summary>
    /// Writes back the backing's dirty data and forgets it. Cancelling asks the daemon to stop the
    /// drain; the backing then stays attached and consistent, and this throws
    /// <see cref="OperationCanceledException"/> (unless the drain had already finished).
    /// </summary>
    public async Task<BackingStopResult> StopBackingAsync(BackingStopArgs args, IProgress<DrainProgress>? progress = null, CancellationToken cancel = default)
    {
        Action<JsonElement>? onProgress = progress is null ? null
            : e => progress.Report(Deserialize(e, ControlJsonContext.Default.DrainProgress));
        var result = await SendAsync(ControlProtocol.Verbs.BackingStop, Serialize(args, ControlJsonContext.Default.BackingStopArgs),
            onProgress ?? (_ => { }), cancel: cancel).ConfigureAwait(false);
        return Deserialize(result, ControlJsonContext.Default.BackingStopResult);
    }

    public async Task<List<BackingEntry>> ListBackingsAsync(int? cacheId = null, CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.BackingList, Serialize(new BackingListArgs { CacheId = cacheId }, ControlJsonContext.Default.BackingListArgs),
            cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.ListBackingEntry);

    public async Task<BackingEntry> SetBackingAsync(BackingSetArgs args, CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.BackingSet, Serialize(args, ControlJsonContext.Default.BackingSetArgs),
            cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.BackingEntry);

    public async Task<StatResult> StatAsync(StatArgs? args = null, CancellationToken cancel = default) =>
        Deserialize(await SendAsync(ControlProtocol.Verbs.Stat, Serialize(args ?? new StatArgs(), ControlJsonContext.Default.StatArgs),
            cancel: cancel).ConfigureAwait(false), ControlJsonContext.Default.StatResult);

    /// <summary>Serialize verb arguments into the element <see cref="SendAsync"/> takes.</summary>
    public static JsonElement Serialize<T>(T args, JsonTypeInfo<T> type) => JsonSerializer.SerializeToElement(args, type);

    /// <summary>
    /// Send one request and return the "result" of its answer. With <paramref name="progress"/>
    /// the daemon is asked for progress lines, each handed to it as it arrives.
    /// </summary>
    public async Task<JsonElement> SendAsync(string verb, JsonElement? args, Action<JsonElement>? progress = null,
        TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        cancel.ThrowIfCancellationRequested();
        byte[] request = EncodeRequest(verb, args, progress is not null);
        using var socket = await ConnectAsync(cancel).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(request, SocketFlags.None, cancel).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
        {
            // The daemon may have refused us and closed at once; its reason is waiting to be read.
        }

        // Cancelling half-closes the socket: the daemon sees end of input, stops the operation and
        // answers "cancelled", which is how a Ctrl+C'd drain is confirmed rather than assumed.
        using var registration = cancel.Register(static s =>
        {
            try { ((Socket)s!).Shutdown(SocketShutdown.Send); } catch (Exception) { }
        }, socket);
        var reader = new LineReader(MaxResponseBytes);
        var silence = timeout ?? Timeout;
        bool acknowledging = false;
        while (true)
        {
            // Cancelled: a verb with progress (a drain) waits a little for the daemon to confirm
            // it stopped the operation; any other gives up at once, so a hung daemon never holds
            // a Ctrl+C'd or SIGTERM'd client.
            if (cancel.IsCancellationRequested && !acknowledging)
            {
                if (progress is null) cancel.ThrowIfCancellationRequested();
                acknowledging = true;
            }
            using var timer = acknowledging ? new CancellationTokenSource() : CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timer.CancelAfter(acknowledging && CancelAcknowledgement < silence ? CancelAcknowledgement : silence);
            (LineStatus Status, ReadOnlyMemory<byte> Line) read;
            try
            {
                read = await reader.ReadLineAsync(socket, timer.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (cancel.IsCancellationRequested && !acknowledging) continue;
                cancel.ThrowIfCancellationRequested();
                throw new PCacheException(ErrorCodes.Timeout,
                    $"the pcache daemon at {Socket.Path} accepted the connection but sent nothing for {silence.TotalSeconds:0} s in answer to '{verb}' " +
                    $"(is it hung? its log says more; --timeout or {ControlProtocol.TimeoutEnvironmentVariable} sets how long to wait)", Socket.Path)
                { RecommendedAction = "check the daemon's log (journalctl -u pcache) and restart it if it is hung" };
            }
            catch (SocketException e)
            {
                cancel.ThrowIfCancellationRequested();
                throw new PCacheException(ErrorCodes.DaemonUnavailable,
                    $"the connection to the pcache daemon at {Socket.Path} failed during '{verb}': {e.Message}", Socket.Path, e);
            }
            if (read.Status == LineStatus.TooLong)
                throw new PCacheException(ErrorCodes.ProtocolError, $"the daemon's answer to '{verb}' is longer than {MaxResponseBytes} bytes", Socket.Path);
            if (read.Status == LineStatus.End)
            {
                cancel.ThrowIfCancellationRequested();
                throw new PCacheException(ErrorCodes.ProtocolError,
                    $"the pcache daemon at {Socket.Path} closed the connection without answering '{verb}' (is it shutting down?)", Socket.Path);
            }
            if (read.Line.IsEmpty) continue;

            ResponseEnvelope envelope;
            try
            {
                envelope = JsonSerializer.Deserialize(read.Line.Span, ControlJsonContext.Default.ResponseEnvelope)
                    ?? throw new JsonException("null answer");
            }
            catch (JsonException e)
            {
                throw new PCacheException(ErrorCodes.ProtocolError, $"the daemon's answer to '{verb}' is not valid protocol: {e.Message}", Socket.Path, e);
            }
            if (envelope.Ok is null)
            {
                if (envelope.Progress is { } p) progress?.Invoke(p);
                continue;
            }
            if (envelope.Ok == true) return envelope.Result ?? default;
            var error = envelope.Error ?? new ControlError { Code = ErrorCodes.ProtocolError, Message = "the daemon reported an error without details" };
            if (error.Code == ErrorCodes.Cancelled && cancel.IsCancellationRequested)
                throw new OperationCanceledException(error.Message, cancel);
            throw new PCacheException(error.Code, error.Message, error.Target);
        }
    }

    private static byte[] EncodeRequest(string verb, JsonElement? args, bool progress)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("v", ControlProtocol.Version);
            writer.WriteString("verb", verb);
            if (args is { ValueKind: not JsonValueKind.Undefined } a)
            {
                writer.WritePropertyName("args");
                a.WriteTo(writer);
            }
            if (progress) writer.WriteBoolean("progress", true);
            writer.WriteEndObject();
        }
        var bytes = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private async Task<Socket> ConnectAsync(CancellationToken cancel)
    {
        UnixDomainSocketEndPoint endPoint;
        try
        {
            endPoint = new UnixDomainSocketEndPoint(Socket.Path);
        }
        catch (ArgumentException e)
        {
            throw new PCacheException(ErrorCodes.InvalidArgument,
                $"the socket path {Socket.Path} is too long for a Unix socket (at most 107 bytes)", Socket.Path, e);
        }
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timer.CancelAfter(ConnectTimeout);
            await socket.ConnectAsync(endPoint, timer.Token).ConfigureAwait(false);
            return socket;
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            socket.Dispose();
            throw new PCacheException(ErrorCodes.DaemonUnavailable,
                $"the pcache daemon at {Socket.Describe()} did not accept a connection within {ConnectTimeout.TotalSeconds:0} s", Socket.Path)
            { RecommendedAction = StartHint };
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw Translate(e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private const string StartHint = "start it with 'systemctl start pcache' or 'pcache daemon'";

    /// <summary>Socket errors in words: .NET reports a missing socket file as "Cannot assign requested address".</summary>
    private PCacheException Translate(SocketException e)
    {
        string where = Socket.Describe();
        string other = $"or point --socket or {ControlProtocol.SocketEnvironmentVariable} at another daemon's socket";
        return e.SocketErrorCode switch
        {
            SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported when !File.Exists(Socket.Path) =>
                new PCacheException(ErrorCodes.DaemonUnavailable,
                    $"the pcache daemon is not running: the socket {where} does not exist; {StartHint}, {other}", Socket.Path, e)
                { RecommendedAction = StartHint },
            SocketError.ConnectionRefused or SocketError.AddressNotAvailable =>
                new PCacheException(ErrorCodes.DaemonUnavailable,
                    $"the pcache daemon is not running: nothing listens on {where} (a socket left behind by a daemon that stopped?); {StartHint}, {other}", Socket.Path, e)
                { RecommendedAction = StartHint },
            SocketError.AccessDenied =>
                new PCacheException(ErrorCodes.PermissionDenied,
                    $"permission denied: cannot open the pcache socket {where}; run as root, as the daemon's user or as a member of the daemon's group (\"group\" in /etc/pcache/pcache.conf)", Socket.Path, e)
                { RecommendedAction = "run as root or join the daemon's group" },
            _ => new PCacheException(ErrorCodes.DaemonUnavailable,
                    $"cannot connect to the pcache daemon at {where}: {e.Message}", Socket.Path, e)
                { RecommendedAction = StartHint },
        };
    }

    private T Deserialize<T>(JsonElement element, JsonTypeInfo<T> type)
    {
        try
        {
            return element.Deserialize(type) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new PCacheException(ErrorCodes.ProtocolError, $"unexpected answer from the daemon at {Socket.Path}: {e.Message}", Socket.Path, e);
        }
    }

    /// <summary>UTF-8 text of a request line, for tools that write raw protocol (tests, debugging).</summary>
    public static string RequestLine(string verb, JsonElement? args = null, bool progress = false) =>
        Encoding.UTF8.GetString(EncodeRequest(verb, args, progress));
}
