using System.Net;
using System.Net.Sockets;

namespace PCache.Daemon.Metrics;

/// <summary>Where the metrics endpoint listens: a TCP address (HOST:PORT) or a Unix socket ("unix:/path").</summary>
internal sealed record MetricsListen(IPEndPoint? Tcp, string? UnixPath)
{
    public const string UnixPrefix = "unix:";

    public EndPoint EndPoint => Tcp is not null ? Tcp : new UnixDomainSocketEndPoint(UnixPath!);

    public override string ToString() => Tcp?.ToString() ?? UnixPrefix + UnixPath;

    /// <summary>"127.0.0.1:9479", "[::1]:9479", "0.0.0.0:9479", ":9479" (loopback) or "unix:/run/pcache/metrics.sock".</summary>
    public static MetricsListen Parse(string text)
    {
        string s = text.Trim();
        if (!s.StartsWith(UnixPrefix, StringComparison.Ordinal))
            return new MetricsListen(DaemonOptions.ParseListen(s, "--metrics-listen", "127.0.0.1:9479"), null);
        string path = s[UnixPrefix.Length..];
        if (!path.StartsWith('/'))
            throw new DaemonStartException($"--metrics-listen '{text}': a Unix socket needs an absolute path (e.g. unix:/run/pcache/metrics.sock)");
        if (System.Text.Encoding.UTF8.GetByteCount(path) > 107)
            throw new DaemonStartException($"--metrics-listen '{text}': the path is longer than a Unix socket allows (107 bytes)");
        return new MetricsListen(null, Path.GetFullPath(path));
    }
}
