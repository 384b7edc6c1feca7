using PCache.Client;

namespace PCache;

/// <summary>
/// The daemon answering on a control socket (Get-PCacheDaemon, Start-PCacheDaemon). Not named
/// PCache.Daemon because the engine's executable uses that name as a namespace.
/// </summary>
public sealed class DaemonInfo
{
    public string Version { get; init; } = "";

    /// <summary>Control protocol version the daemon speaks.</summary>
    public int Protocol { get; init; }

    public int Pid { get; init; }

    /// <summary>User id the daemon runs as.</summary>
    public int Uid { get; init; }

    public string SocketPath { get; init; } = "";

    public string NbdSocketPath { get; init; } = "";

    /// <summary>TCP address of the NBD listener, when there is one.</summary>
    public string? NbdTcp { get; init; }

    /// <summary>UTC.</summary>
    public DateTime StartedAt { get; init; }

    public double UptimeSeconds { get; init; }

    public int CacheCount { get; init; }

    public int BackingCount { get; init; }

    public int NbdConnections { get; init; }

    public int ControlConnections { get; init; }

    /// <summary>Where Start-PCacheDaemon sends the daemon's log; null for a daemon it did not start.</summary>
    public string? LogPath { get; init; }

    public override string ToString() => $"pcache daemon {Version} (pid {Pid}) at {SocketPath}";

    internal static DaemonInfo From(DaemonStatus s, string? logPath = null) => new()
    {
        Version = s.Version,
        Protocol = s.Protocol,
        Pid = s.Pid,
        Uid = s.Uid,
        SocketPath = s.Socket,
        NbdSocketPath = s.NbdSocket,
        NbdTcp = s.NbdTcp,
        StartedAt = s.StartedAt.UtcDateTime,
        UptimeSeconds = s.UptimeSeconds,
        CacheCount = s.Caches,
        BackingCount = s.Backings,
        NbdConnections = s.NbdConnections,
        ControlConnections = s.ControlConnections,
        LogPath = logPath,
    };
}
