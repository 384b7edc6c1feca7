using System.Net;

namespace PCache.Nbd;

/// <summary>Where the server listens and the per-connection limits that keep one client from hurting others.</summary>
public sealed class NbdServerOptions
{
    /// <summary>Path of the Unix socket to create; null serves TCP only.</summary>
    public string? UnixSocketPath { get; init; }

    /// <summary>Permissions for the socket file (access control is by file mode); null keeps the umask's.</summary>
    public UnixFileMode? UnixSocketMode { get; init; }

    /// <summary>Optional TCP endpoint. Use <see cref="LoopbackTcp"/> unless the user named an address.</summary>
    public IPEndPoint? TcpEndPoint { get; init; }

    /// <summary>Options a client may send before it must have chosen an export.</summary>
    public int MaxOptionsPerConnection { get; init; } = 256;

    /// <summary>Largest option payload accepted; anything bigger is abuse, not a real request.</summary>
    public int MaxOptionLength { get; init; } = 64 * 1024;

    /// <summary>A client that has not finished option haggling in this time is dropped.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Payload bytes (write data and read buffers) one connection may hold in flight; more requests wait unread.</summary>
    public long MaxInFlightBytesPerConnection { get; init; } = 128L * 1024 * 1024;

    /// <summary>Requests one connection may have in flight; more requests wait unread in the socket.</summary>
    public int MaxInFlightRequestsPerConnection { get; init; } = 512;

    /// <summary>
    /// Most threads that run one connection's requests concurrently. Fast requests run on the reading thread;
    /// workers take over while requests are slow (I/O-bound), started on demand.
    /// </summary>
    public int WorkersPerConnection { get; init; } = 16;

    /// <summary>Workers that run slow requests at first; more join while queued requests wait over 1 ms, up to <see cref="WorkersPerConnection"/>.</summary>
    public int ActiveWorkersPerConnection { get; init; } = 1;

    /// <summary>A rejected WRITE whose payload is larger than this is not drained: the connection is dropped.</summary>
    public long MaxDrainBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>During a graceful stop, how long clients keep getting ESHUTDOWN answers (time to disconnect cleanly) before their sockets are closed.</summary>
    public TimeSpan ShutdownGracePeriod { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>After the grace period, how long connections get to finish their in-flight requests before their sockets are cut.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bound on simultaneous connections (each costs a reader thread).</summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>Receives one line per notable event (connection errors, protocol violations); null is silent.</summary>
    public Action<string>? Log { get; init; }

    public static IPEndPoint LoopbackTcp(int port = 10809) => new(IPAddress.Loopback, port);
}
