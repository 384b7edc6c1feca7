using System.Net.Sockets;
using System.Reflection;
using PCache.Client;
using PCache.Daemon.Control;
using PCache.Daemon.Glue;
using PCache.Nbd;

namespace PCache.Daemon;

/// <summary>
/// The daemon's life: claim the control socket, serve NBD and the control protocol, bring up the
/// caches of the config file, tell systemd it is ready, and on a stop signal shut down in the
/// order that loses nothing — control requests refused, NBD exports closed (in-flight requests
/// finish), every backing stopped with its ksets persisted — before exiting 0.
/// </summary>
internal sealed class DaemonHost(DaemonOptions options)
{
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private NbdServer? _nbd;
    private ControlServer? _control;
    private Metrics.MetricsServer? _metrics;

    public static string Version { get; } =
        typeof(DaemonHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public DaemonOptions Options { get; } = options;

    public CacheHost? Caches { get; private set; }

    /// <summary>Runs until <paramref name="stop"/> fires; 0 after a clean stop, 1 when the daemon could not start.</summary>
    public async Task<int> RunAsync(CancellationToken stop, Action? onReady = null)
    {
        InstanceLock? instance = null;
        int exitCode = 0;
        try
        {
            Log.Info($"pcache {Version} daemon starting (pid {Environment.ProcessId}, control socket {Options.SocketPath}, NBD socket {Options.NbdSocketPath}" +
                (Options.NbdListen is { } l ? $", NBD TCP {l}" : "") + (Options.ConfigPath is { } c ? $", config {c}" : "") + ")");
            EnsureDirectory(Path.GetDirectoryName(Options.SocketPath)!);
            EnsureDirectory(Path.GetDirectoryName(Options.NbdSocketPath)!);
            instance = InstanceLock.Acquire(Options.SocketPath);

            var catalog = new ExportCatalog();
            _nbd = new NbdServer(catalog, new NbdServerOptions
            {
                UnixSocketPath = Options.NbdSocketPath,
                UnixSocketMode = Options.SocketMode,
                TcpEndPoint = Options.NbdListen,
                ShutdownTimeout = Options.StopTimeout,
                Log = line => Log.Info(line),
            });
            try
            {
                _nbd.Start();
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw new DaemonStartException($"cannot serve NBD on {Options.NbdSocketPath}{(Options.NbdListen is { } ep ? $" and {ep}" : "")}: {e.Message}");
            }
            if (Options.GroupId is { } gid) Native.chown(Options.NbdSocketPath, uint.MaxValue, gid);

            var caches = Caches = new CacheHost(new NbdExports(catalog, _nbd, Options.NbdSocketPath, Options.StopTimeout), Options.StuckAfter);
            var dispatcher = new RequestDispatcher(caches, Status);
            _control = new ControlServer(
                new ControlServerOptions { Path = Options.SocketPath, Mode = Options.SocketMode, GroupId = Options.GroupId },
                new AccessPolicy(PCache.Engine.Platform.Libc.geteuid(), Options.GroupId, Options.GroupName),
                dispatcher);
            try
            {
                _control.Start();
            }
            catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
            {
                throw new DaemonStartException($"cannot listen on {Options.SocketPath}: {e.Message}");
            }

            if (Options.MetricsListen is { } metricsAt) _metrics = StartMetrics(metricsAt, caches);

            await BringUpAsync(caches, stop).ConfigureAwait(false);
            string summary = $"{caches.CacheCount} cache(s), {caches.BackingCount} backing(s); control {Options.SocketPath}, NBD {Options.NbdSocketPath}";
            SystemdNotifier.Ready(summary);
            Log.Notice($"ready: {summary}");
            onReady?.Invoke();
            try
            {
                // Look for stuck requests a few times per threshold, so each is logged soon after it becomes one.
                using var watch = new PeriodicTimer(TimeSpan.FromSeconds(Math.Clamp(Options.StuckAfter.TotalSeconds / 4, 0.25, 5)));
                while (await watch.WaitForNextTickAsync(stop).ConfigureAwait(false)) caches.ReportStuckRequests();
            }
            catch (OperationCanceledException)
            {
            }
        }
        catch (DaemonStartException e)
        {
            Log.Error($"pcache daemon: {e.Message}");
            exitCode = 1;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // stopped while bringing caches up
        }
        finally
        {
            await ShutdownAsync().ConfigureAwait(false);
            instance?.Dispose();
        }
        return exitCode;
    }

    /// <summary>Start the config file's caches; a cache another daemon holds means this daemon is the second one, and stops.</summary>
    private async Task BringUpAsync(CacheHost caches, CancellationToken stop)
    {
        foreach (var cache in Options.Config.Caches)
        {
            CacheStartResult started;
            try
            {
                started = await caches.StartCacheAsync(new CacheStartArgs
                {
                    Path = cache.Path,
                    Size = cache.Size,
                    DataCrc = cache.DataCrc,
                    SegmentSize = cache.SegmentSize,
                    Format = cache.FormatIfBlank && IsBlank(cache.Path),
                }, stop).ConfigureAwait(false);
            }
            catch (ControlException e) when (e.Code == ErrorCodes.Conflict && e.Message.Contains("another pcache daemon", StringComparison.Ordinal))
            {
                throw new DaemonStartException(e.Message);
            }
            catch (ControlException e)
            {
                Log.Error($"config: cache {cache.Path} not started: {e.Message}");
                continue;
            }
            foreach (var backing in cache.Backings)
            {
                string path = BackingPath.Normalize(backing.Path);
                if (started.Backings.FirstOrDefault(b => b.BackingPath == path) is { } recorded)
                {
                    // Re-attached (or refused) above; the policy the config names applies to it too.
                    if (recorded.State == BackingStates.Running && (backing.Mode ?? (object?)backing.SequentialCutoff ?? backing.ReadAdmission) is not null)
                    {
                        try
                        {
                            await caches.SetBackingAsync(new BackingSetArgs
                            {
                                BackingId = recorded.BackingId,
                                Mode = backing.Mode,
                                SequentialCutoff = backing.SequentialCutoff,
                                ReadAdmission = backing.ReadAdmission,
                            }, stop).ConfigureAwait(false);
                        }
                        catch (ControlException e)
                        {
                            Log.Error($"config: backing {path}: {e.Message}");
                        }
                    }
                    continue;
                }
                try
                {
                    await caches.StartBackingAsync(new BackingStartArgs
                    {
                        Path = path,
                        CacheSize = backing.CacheSize ?? 0,
                        CacheId = started.Cache.CacheId,
                        GcPercent = backing.GcPercent,
                        Queues = backing.Queues,
                        PersistOnWrite = backing.PersistOnWrite,
                        WritebackWatermark = backing.WritebackWatermark,
                        WritebackMaxAge = backing.WritebackMaxAge,
                        WritebackRate = backing.WritebackRate,
                        Mode = backing.Mode,
                        SequentialCutoff = backing.SequentialCutoff,
                        ReadAdmission = backing.ReadAdmission,
                    }, stop).ConfigureAwait(false);
                }
                catch (ControlException e)
                {
                    Log.Error($"config: backing {path} not started on cache {started.Cache.CacheId}: {e.Message}");
                }
            }
        }
    }

    /// <summary>format_if_blank: only a device that holds nothing at all (or a file that does not exist yet).</summary>
    private static bool IsBlank(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using var pmem = PCache.Engine.Pmem.MappedPmem.Open(path);
            return DeviceContents.Describe(pmem) is null;
        }
        catch (IOException)
        {
            return false; // cache-start reports the real problem
        }
    }

    private async Task ShutdownAsync()
    {
        if (_control is null && _nbd is null) return;
        SystemdNotifier.Stopping("stopping: closing exports and persisting caches");
        Log.Info("stopping: refusing control requests, closing NBD exports");
        if (_metrics is not null) await _metrics.StopAsync().ConfigureAwait(false);
        _metrics = null;
        if (_control is not null) await _control.StopAsync().ConfigureAwait(false);
        Log.Debug("control socket closed");
        if (_nbd is not null)
        {
            using var limit = new CancellationTokenSource(Options.StopTimeout);
            try
            {
                await _nbd.StopAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Log.Warning($"NBD clients did not finish within {Options.StopTimeout.TotalSeconds:0} s; their connections were cut");
            }
        }
        Log.Debug("NBD server stopped");
        if (Caches is not null) await Caches.StopAllAsync().ConfigureAwait(false);
        Log.Notice("stopped");
        _control = null;
        _nbd = null;
    }

    /// <summary>The OpenMetrics/Prometheus endpoint (off unless --metrics-listen or metrics_listen says where).</summary>
    private Metrics.MetricsServer StartMetrics(Metrics.MetricsListen at, CacheHost caches)
    {
        var server = new Metrics.MetricsServer(at, openMetrics => Metrics.MetricsText.Render(caches.Census(),
            new Metrics.DaemonFigures(_started.ToUnixTimeMilliseconds() / 1000.0, _nbd?.ConnectionCount ?? 0, _control?.ConnectionCount ?? 0), openMetrics),
            Options.SocketMode, Options.GroupId);
        try
        {
            server.Start();
        }
        catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
        {
            throw new DaemonStartException($"cannot serve metrics on {at}: {e.Message}");
        }
        Log.Info($"metrics: serving GET /metrics on {server.BoundAddress}");
        return server;
    }

    private DaemonStatus Status() => new()
    {
        Version = Version,
        Protocol = ControlProtocol.Version,
        Pid = Environment.ProcessId,
        Uid = (int)PCache.Engine.Platform.Libc.geteuid(),
        Socket = Options.SocketPath,
        NbdSocket = Options.NbdSocketPath,
        NbdTcp = _nbd?.TcpEndPoint?.ToString(),
        StartedAt = _started,
        UptimeSeconds = (DateTimeOffset.UtcNow - _started).TotalSeconds,
        Caches = Caches?.CacheCount ?? 0,
        Backings = Caches?.BackingCount ?? 0,
        NbdConnections = _nbd?.ConnectionCount ?? 0,
        ControlConnections = _control?.ConnectionCount ?? 0,
        AllocatedBytes = GC.GetTotalAllocatedBytes(precise: true),
        GcCollections = GC.CollectionCount(0),   // every collection includes generation 0
    };

    /// <summary>systemd's RuntimeDirectory= makes /run/pcache; run by hand, the daemon makes it (0755: the sockets' own modes guard them).</summary>
    private static void EnsureDirectory(string directory)
    {
        if (Directory.Exists(directory)) return;
        try
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartException($"cannot create the runtime directory {directory}: {e.Message}");
        }
    }
}
