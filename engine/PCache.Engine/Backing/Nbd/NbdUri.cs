using System.Net;
using System.Net.Sockets;

namespace PCache.Engine.Backing.Nbd;

/// <summary>
/// A remote NBD export named the way libnbd names it: <c>nbd://host[:port]/export</c> or
/// <c>nbd+unix:///export?socket=PATH</c>. PCache adds one query parameter, <c>timeout=SECONDS</c>,
/// the longest any request may wait for the server (default 30 s).
/// </summary>
public sealed record NbdUri(string Text, string ExportName, string? Host, int Port, string? SocketPath, TimeSpan Timeout)
{
    public const int DefaultPort = 10809;
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static bool Looks(string text) =>
        text.StartsWith("nbd://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("nbd+", StringComparison.OrdinalIgnoreCase)
        || text.StartsWith("nbds", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parse; bad input throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static NbdUri Parse(string text)
    {
        int colon = text.IndexOf("://", StringComparison.Ordinal);
        if (colon < 0) throw new FormatException($"{text}: not an NBD URI (expected nbd://host[:port]/export or nbd+unix:///export?socket=PATH)");
        string scheme = text[..colon].ToLowerInvariant();
        if (scheme.StartsWith("nbds", StringComparison.Ordinal))
            throw new FormatException($"{text}: NBD over TLS ({scheme}://) is not supported; use nbd:// or nbd+unix://");
        bool unix = scheme switch
        {
            "nbd" or "nbd+tcp" => false,
            "nbd+unix" => true,
            _ => throw new FormatException($"{text}: unknown scheme {scheme}:// (expected nbd:// or nbd+unix://)"),
        };
        string rest = text[(colon + 3)..];
        string query = "";
        int q = rest.IndexOf('?');
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        int slash = rest.IndexOf('/');
        string authority = slash < 0 ? rest : rest[..slash];
        string export = slash < 0 ? "" : Uri.UnescapeDataString(rest[(slash + 1)..]);
        if (export.Length > 4096) throw new FormatException($"{text}: export name longer than 4096 bytes");
        int at = authority.LastIndexOf('@');
        if (at >= 0) authority = authority[(at + 1)..]; // a user name only matters to TLS

        string? socket = null;
        var timeout = DefaultTimeout;
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = eq < 0 ? pair : pair[..eq];
            string value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            switch (key)
            {
                case "socket":
                    socket = value;
                    break;
                case "timeout":
                    if (!double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double s) || s <= 0 || s > 3600)
                        throw new FormatException($"{text}: timeout={value} must be a number of seconds from 0 to 3600");
                    timeout = TimeSpan.FromSeconds(s);
                    break;
                case "tls" or "tls-certificates" or "tls-psk-file" or "tls-verify-peer":
                    throw new FormatException($"{text}: TLS ({key}=) is not supported");
                default:
                    break; // libnbd ignores parameters it does not know; so do we
            }
        }

        if (unix)
        {
            if (authority.Length > 0) throw new FormatException($"{text}: nbd+unix:// takes no host (write nbd+unix:///export?socket=PATH)");
            if (string.IsNullOrEmpty(socket)) throw new FormatException($"{text}: nbd+unix:// needs ?socket=PATH");
            if (!socket.StartsWith('/')) throw new FormatException($"{text}: socket={socket} must be an absolute path");
            return new NbdUri(text, export, null, 0, socket, timeout);
        }
        if (socket is not null) throw new FormatException($"{text}: socket= belongs to nbd+unix:// URIs");
        string host = authority;
        int port = DefaultPort;
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']');
            if (close < 0) throw new FormatException($"{text}: unterminated IPv6 address");
            string after = host[(close + 1)..];
            host = host[1..close];
            if (after.Length > 0)
            {
                if (after[0] != ':') throw new FormatException($"{text}: unexpected '{after}' after the IPv6 address");
                port = ParsePort(text, after[1..]);
            }
        }
        else
        {
            int c = host.LastIndexOf(':');
            if (c >= 0)
            {
                port = ParsePort(text, host[(c + 1)..]);
                host = host[..c];
            }
        }
        if (host.Length == 0) throw new FormatException($"{text}: nbd:// needs a host (nbd://host[:port]/export)");
        return new NbdUri(text, export, host, port, null, timeout);
    }

    private static int ParsePort(string text, string value) =>
        int.TryParse(value, out int port) && port is > 0 and < 65536 ? port : throw new FormatException($"{text}: port '{value}' is not 1..65535");

    /// <summary>Where to connect, for messages: "unix socket /run/x.sock" or "host:port".</summary>
    public string Server => SocketPath is not null ? $"unix socket {SocketPath}" : $"{Host}:{Port}";

    internal EndPoint EndPoint() => SocketPath is not null
        ? new UnixDomainSocketEndPoint(SocketPath)
        : IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new DnsEndPoint(Host!, Port);

    internal Socket NewSocket() => SocketPath is not null
        ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
}
