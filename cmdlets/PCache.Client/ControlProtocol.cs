namespace PCache.Client;

/// <summary>
/// Constants shared by the daemon and every client of the control socket. The wire format is one
/// JSON object per line each way; see docs/daemon.md for the full description.
/// </summary>
public static class ControlProtocol
{
    /// <summary>The protocol version this library speaks; requests carry it as "v".</summary>
    public const int Version = 1;

    /// <summary>Longest request line the daemon reads; real requests are a few hundred bytes.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>Where the daemon listens when nothing else is said (systemd's RuntimeDirectory=pcache).</summary>
    public const string DefaultSocketPath = "/run/pcache/pcache.sock";

    /// <summary>Environment variable naming the control socket, like DOCKER_HOST for docker.</summary>
    public const string SocketEnvironmentVariable = "PCACHE_SOCKET";

    /// <summary>Seconds a client waits for the daemon to send anything before it gives up (default 60).</summary>
    public const string TimeoutEnvironmentVariable = "PCACHE_TIMEOUT";

    /// <summary>Name of the NBD socket the daemon creates next to its control socket by default.</summary>
    public const string DefaultNbdSocketName = "nbd.sock";

    /// <summary>Backing slots per cache device: backing id = cache id × this + slot.</summary>
    public const int BackingsPerCache = 64;

    /// <summary>The verbs a daemon of this protocol version understands.</summary>
    public static class Verbs
    {
        public const string Ping = "ping";
        public const string CacheStart = "cache-start";
        public const string CacheStop = "cache-stop";
        public const string CacheList = "cache-list";
        public const string BackingStart = "backing-start";
        public const string BackingStop = "backing-stop";
        public const string BackingList = "backing-list";
        public const string BackingSet = "backing-set";
        public const string Stat = "stat";

        public static readonly IReadOnlyList<string> All =
            [Ping, CacheStart, CacheStop, CacheList, BackingStart, BackingStop, BackingList, BackingSet, Stat];
    }
}
