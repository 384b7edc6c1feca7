using System.Net.Sockets;
using System.Text;
using Microsoft.Win32.SafeHandles;
using PCache.Engine.Platform;

namespace PCache.Daemon;

/// <summary>The daemon cannot start: the message says why, for the admin (and systemd's journal).</summary>
internal sealed class DaemonStartException(string message) : Exception(message);

/// <summary>
/// One daemon per control socket: an flock on "SOCKET.lock" held for the daemon's life (the
/// kernel drops it if the daemon dies, so a crash never leaves a stale lock), plus a probe of the
/// socket itself for a daemon that does not use the lock. The lock file keeps the holder's pid
/// for the message. It is never deleted: unlinking a lock file races with the next daemon.
/// </summary>
internal sealed class InstanceLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private InstanceLock(SafeFileHandle handle, string path)
    {
        _handle = handle;
        Path = path;
    }

    public string Path { get; }

    public static InstanceLock Acquire(string socketPath)
    {
        string path = socketPath + ".lock";
        int fd = Libc.open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x1a4);
        if (fd < 0) throw new DaemonStartException($"cannot create the lock file {path}: {Libc.LastError()}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            string holder = ReadPid(handle) is { } pid ? $" (pid {pid})" : "";
            handle.Dispose();
            throw new DaemonStartException(
                $"another pcache daemon{holder} is already running with the control socket {socketPath}; stop it first, or give this one another --socket");
        }
        if (Probe(socketPath))
        {
            handle.Dispose();
            throw new DaemonStartException(
                $"another program is already listening on {socketPath}; stop it first, or give this daemon another --socket");
        }
        Libc.ftruncate(fd, 0);
        RandomAccess.Write(handle, Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"), 0);
        return new InstanceLock(handle, path);
    }

    /// <summary>True when something accepts connections on the socket; a leftover file from a crash does not.</summary>
    public static bool Probe(string socketPath)
    {
        if (!File.Exists(socketPath)) return false;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string? ReadPid(SafeFileHandle handle)
    {
        var buffer = new byte[32];
        try
        {
            int n = RandomAccess.Read(handle, buffer, 0);
            string text = Encoding.ASCII.GetString(buffer, 0, n).Trim();
            return text.Length > 0 && text.All(char.IsAsciiDigit) ? text : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => _handle.Dispose();
}
