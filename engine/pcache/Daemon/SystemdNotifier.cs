using System.Net.Sockets;
using System.Text;

namespace PCache.Daemon;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET ("@name" is the abstract
/// namespace). With Type=notify, systemd considers the service started at READY=1, which the
/// daemon sends only once the caches of its config file are up and both sockets listen.
/// </summary>
internal static class SystemdNotifier
{
    public static bool Enabled => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    public static void Ready(string status) => Send($"READY=1\nSTATUS={status}\nMAINPID={Environment.ProcessId}");

    public static void Stopping(string status) => Send($"STOPPING=1\nSTATUS={status}");

    public static void Status(string status) => Send($"STATUS={status}");

    private static void Send(string message)
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return;
        if (path[0] == '@') path = "\0" + path[1..];
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(message));
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            Log.Warning($"cannot notify systemd at {Environment.GetEnvironmentVariable("NOTIFY_SOCKET")}: {e.Message}");
        }
    }
}
