using System.Net.Sockets;

namespace PCache.Daemon.Control;

/// <summary>Where and how the control socket listens, and the limits that keep one client from hurting others.</summary>
internal sealed class ControlServerOptions
{
    public required string Path { get; init; }

    /// <summary>0660 by default: root and the socket's group may connect; peer credentials are checked as well.</summary>
    public UnixFileMode Mode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>Group that owns the socket (the configured group), or null to keep the daemon's.</summary>
    public uint? GroupId { get; init; }

    /// <summary>
    /// Connections served at once. Beyond this the accept loop waits for one to end, so a flood
    /// queues in the kernel's backlog (and then is refused by the kernel) instead of costing
    /// the daemon memory and threads; clients in the queue are served in turn.
    /// </summary>
    public int MaxConnections { get; init; } = 256;

    /// <summary>A client must send each complete request line within this time.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A client that does not read its answers for this long is dropped.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The control socket: accepts connections and hands each to a <see cref="ControlConnection"/>.
/// The accept loop only counts and starts; credentials, limits and parsing happen per connection,
/// so a flood of connections cannot stall accepting.
/// </summary>
internal sealed class ControlServer(ControlServerOptions options, AccessPolicy policy, RequestDispatcher dispatcher)
{
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly HashSet<Task> _connections = [];
    private SemaphoreSlim? _slots;
    private Socket? _listener;
    private Task? _acceptLoop;
    private int _active;

    public ControlServerOptions Options { get; } = options;

    public AccessPolicy Policy { get; } = policy;

    public RequestDispatcher Dispatcher { get; } = dispatcher;

    public CancellationToken Stopping => _stop.Token;

    public int ConnectionCount => Volatile.Read(ref _active);

    /// <summary>Bind and listen. The caller has made sure no live daemon owns the path (see <see cref="InstanceLock"/>).</summary>
    public void Start()
    {
        if (File.Exists(Options.Path)) File.Delete(Options.Path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(Options.Path));
            File.SetUnixFileMode(Options.Path, Options.Mode);
            if (Options.GroupId is { } gid && Native.chown(Options.Path, uint.MaxValue, gid) != 0)
                throw new IOException($"cannot give {Options.Path} to group {gid}: {System.Runtime.InteropServices.Marshal.GetLastPInvokeErrorMessage()}");
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        _slots = new SemaphoreSlim(Options.MaxConnections, Options.MaxConnections);
        _acceptLoop = AcceptLoopAsync(listener, _slots);
    }

    private async Task AcceptLoopAsync(Socket listener, SemaphoreSlim slots)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                await slots.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                slots.Release();
                if (_stop.IsCancellationRequested) return;
                Log.Warning($"control: accept failed: {e.Message}");
                await Task.Delay(100).ConfigureAwait(false); // EMFILE and friends: do not spin
                continue;
            }
            Interlocked.Increment(ref _active);
            var task = Task.Run(async () =>
            {
                try
                {
                    await new ControlConnection(socket, this).RunAsync().ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Decrement(ref _active);
                    slots.Release();
                }
            });
            lock (_gate) _connections.Add(task);
            _ = task.ContinueWith(t => { lock (_gate) _connections.Remove(t); }, TaskScheduler.Default);
        }
    }

    /// <summary>Stop accepting, cancel what runs (drains unwind, new requests are refused) and remove the socket.</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        _listener?.Dispose();
        try { File.Delete(Options.Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
        Task[] running;
        lock (_gate) running = _connections.ToArray();
        await Task.WhenAny(Task.WhenAll(running), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
    }
}
