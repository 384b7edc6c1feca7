using System.Globalization;
using System.Net;
using PCache.Client;

namespace PCache.Daemon;

/// <summary>
/// Everything `pcache daemon` needs, resolved from the command line, then the config file, then
/// the environment (PCACHE_SOCKET, shared with the clients) and the defaults.
/// </summary>
internal sealed class DaemonOptions
{
    public const UnixFileMode DefaultSocketMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    public required string SocketPath { get; init; }

    public required string NbdSocketPath { get; init; }

    public IPEndPoint? NbdListen { get; init; }

    public string? ConfigPath { get; init; }

    public DaemonConfig Config { get; init; } = new();

    public string? GroupName { get; init; }

    public uint? GroupId { get; init; }

    public UnixFileMode SocketMode { get; init; } = DefaultSocketMode;

    /// <summary>How long a stop waits for NBD clients, then for requests inside the engine, before failing them.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A request inside the engine for longer than this is logged once and counted as stuck.</summary>
    public TimeSpan StuckAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The OpenMetrics/Prometheus endpoint's address; null (the default) serves none.</summary>
    public Metrics.MetricsListen? MetricsListen { get; init; }

    public static DaemonOptions Resolve(string? socket, string? nbdSocket, string? nbdListen, string? configPath, string? group, string? socketMode,
        int? stopTimeout = null, int? stuckAfter = null, string? metricsListen = null)
    {
        var config = configPath is null ? new DaemonConfig() : DaemonConfig.Load(configPath);
        string socketPath = Path.GetFullPath(socket ?? config.Socket ?? SocketLocation.Resolve().Path);
        string nbdPath = Path.GetFullPath(nbdSocket ?? config.NbdSocket
            ?? Path.Combine(Path.GetDirectoryName(socketPath) ?? "/", ControlProtocol.DefaultNbdSocketName));
        foreach (var p in new[] { socketPath, nbdPath })
            if (System.Text.Encoding.UTF8.GetByteCount(p) > 107)
                throw new DaemonStartException($"the socket path {p} is longer than a Unix socket allows (107 bytes)");
        if (socketPath == nbdPath) throw new DaemonStartException($"the control and NBD sockets must differ (both are {socketPath})");

        string? groupName = group ?? config.Group;
        uint? groupId = null;
        if (groupName is not null)
        {
            groupId = uint.TryParse(groupName, NumberStyles.None, CultureInfo.InvariantCulture, out uint gid) ? gid : Native.GroupId(groupName);
            if (groupId is null) throw new DaemonStartException($"group '{groupName}' does not exist (create it with 'groupadd {groupName}')");
        }

        return new DaemonOptions
        {
            SocketPath = socketPath,
            NbdSocketPath = nbdPath,
            NbdListen = (nbdListen ?? config.NbdListen) is { } listen ? ParseListen(listen) : null,
            ConfigPath = configPath,
            Config = config,
            GroupName = groupName,
            GroupId = groupId,
            SocketMode = (socketMode ?? config.SocketMode) is { } mode ? ParseMode(mode) : DefaultSocketMode,
            StopTimeout = TimeSpan.FromSeconds(Seconds(stopTimeout ?? config.StopTimeout, "stop_timeout") ?? 30),
            StuckAfter = TimeSpan.FromSeconds(Seconds(stuckAfter ?? config.StuckAfter, "stuck_after") ?? 10),
            MetricsListen = (metricsListen ?? config.MetricsListen) is { } metrics ? Metrics.MetricsListen.Parse(metrics) : null,
        };
    }

    /// <summary>"127.0.0.1:10809", "[::1]:10809", "localhost:10809", ":10809" or "10809" (loopback).</summary>
    public static IPEndPoint ParseListen(string text, string option = "--nbd-listen", string example = "127.0.0.1:10809")
    {
        string s = text.Trim();
        int colon = s.LastIndexOf(':');
        string host = colon < 0 ? "" : s[..colon].Trim('[', ']');
        string port = colon < 0 ? s : s[(colon + 1)..];
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 0 or > 65535)
            throw new DaemonStartException($"{option} '{text}': expected HOST:PORT with a port from 0 to 65535 (e.g. {example})");
        if (host is "" or "localhost") return new IPEndPoint(IPAddress.Loopback, p);
        if (!IPAddress.TryParse(host, out var address))
            throw new DaemonStartException($"{option} '{text}': '{host}' is not an IP address (use 127.0.0.1, ::1, 0.0.0.0 or an interface address)");
        return new IPEndPoint(address, p);
    }

    private static int? Seconds(int? value, string name) => value is null or (>= 1 and <= 3600) ? value
        : throw new DaemonStartException($"{name} must be 1..3600 seconds, not {value}");

    private static UnixFileMode ParseMode(string text)
    {
        try
        {
            int mode = Convert.ToInt32(text, 8);
            if (mode is < 0 or > 0x1ff) throw new FormatException();
            return (UnixFileMode)mode;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new DaemonStartException($"socket mode '{text}' is not an octal file mode such as 0660");
        }
    }
}
