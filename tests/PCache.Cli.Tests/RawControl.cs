using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace PCache.Cli.Tests;

/// <summary>A hand-driven connection to the control socket, for feeding it whatever a test likes.</summary>
internal sealed class RawControl : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly MemoryStream _pending = new();

    public RawControl(string path)
    {
        _socket.Connect(new UnixDomainSocketEndPoint(path));
        _socket.ReceiveTimeout = 30_000;
        _socket.SendTimeout = 30_000;
    }

    public Socket Socket => _socket;

    public void Send(string text) => Send(Encoding.UTF8.GetBytes(text));

    public void Send(byte[] bytes)
    {
        int sent = 0;
        while (sent < bytes.Length) sent += _socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
    }

    /// <summary>The next line, or null when the daemon closed the connection (or reset it) first.</summary>
    public string? ReadLine()
    {
        var buffer = new byte[4096];
        while (true)
        {
            var bytes = _pending.ToArray();
            int nl = Array.IndexOf(bytes, (byte)'\n');
            if (nl >= 0)
            {
                _pending.SetLength(0);
                _pending.Write(bytes, nl + 1, bytes.Length - nl - 1);
                return Encoding.UTF8.GetString(bytes, 0, nl);
            }
            int n;
            try
            {
                n = _socket.Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
            {
                return null;
            }
            if (n == 0) return null;
            _pending.Write(buffer, 0, n);
        }
    }

    /// <summary>Send one request line and read the answer as JSON.</summary>
    public JsonElement Request(string line)
    {
        Send(line + "\n");
        string? answer = ReadLine();
        Assert.NotNull(answer);
        return JsonDocument.Parse(answer).RootElement.Clone();
    }

    public static string ErrorCode(JsonElement answer)
    {
        Assert.False(answer.GetProperty("ok").GetBoolean(), $"expected an error, got {answer}");
        Assert.Equal(1, answer.GetProperty("v").GetInt32());
        Assert.False(string.IsNullOrEmpty(answer.GetProperty("error").GetProperty("message").GetString()));
        return answer.GetProperty("error").GetProperty("code").GetString()!;
    }

    public void Dispose() => _socket.Dispose();
}
