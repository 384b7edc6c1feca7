using System.Text;

namespace PCache.Daemon.Metrics;

/// <summary>
/// The head of one HTTP/1.x request (request line and headers), parsed only as far as a metrics
/// endpoint needs: method, path and Accept. Anything malformed is a 400, never an exception.
/// </summary>
internal readonly record struct HttpRequestHead(string Method, string Path, string Accept)
{
    /// <summary>Offset just past the blank line that ends the head, or -1 while it is incomplete.</summary>
    public static int EndOfHead(ReadOnlySpan<byte> buffer)
    {
        int crlf = buffer.IndexOf("\r\n\r\n"u8);
        int lf = buffer.IndexOf("\n\n"u8);
        if (crlf < 0) return lf < 0 ? -1 : lf + 2;
        return lf >= 0 && lf < crlf ? lf + 2 : crlf + 4;
    }

    /// <summary>Parses a complete head; null when it is not a well-formed HTTP/1.x request.</summary>
    public static HttpRequestHead? Parse(ReadOnlySpan<byte> head)
    {
        // Headers are ASCII; a byte outside it (or a control character) is a malformed request.
        foreach (byte b in head)
            if (b > 0x7e || (b < 0x20 && b is not (byte)'\r' and not (byte)'\n' and not (byte)'\t')) return null;
        var lines = Encoding.ASCII.GetString(head).Split('\n');
        var requestLine = lines[0].TrimEnd('\r').Split(' ');
        if (requestLine.Length != 3) return null;
        string method = requestLine[0], target = requestLine[1], version = requestLine[2];
        if (method.Length == 0 || !method.All(char.IsAsciiLetterUpper)) return null;
        if (version is not ("HTTP/1.1" or "HTTP/1.0")) return null;
        if (!target.StartsWith('/')) return null;
        int query = target.IndexOf('?');
        string path = query < 0 ? target : target[..query];
        string accept = "";
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0) break;
            int colon = line.IndexOf(':');
            if (colon <= 0 || line[..colon].Any(c => c is ' ' or '\t')) return null;
            if (line.AsSpan(0, colon).Equals("Accept", StringComparison.OrdinalIgnoreCase))
                accept += (accept.Length > 0 ? "," : "") + line[(colon + 1)..].Trim();
        }
        return new HttpRequestHead(method, path, accept);
    }

    /// <summary>Whether the client asked for OpenMetrics (as Prometheus does when it scrapes).</summary>
    public bool WantsOpenMetrics => Accept.Contains("application/openmetrics-text", StringComparison.OrdinalIgnoreCase);
}
