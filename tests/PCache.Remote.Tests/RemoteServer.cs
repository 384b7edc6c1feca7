using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PCache.Remote.Tests;

/// <summary>
/// A real NBD server (nbdkit or qemu-nbd) as a child process, on a Unix socket in the sandbox or on
/// a loopback TCP port. It can be killed and started again on the same address, as a remote volume
/// that goes away and comes back.
/// </summary>
internal sealed class RemoteServer : IDisposable
{
    private readonly string _program;
    private readonly string[] _args;
    private readonly string? _socket;
    private readonly int _port;
    private Process? _process;

    private RemoteServer(string program, string[] args, string? socket, int port)
    {
        _program = program;
        _args = args;
        _socket = socket;
        _port = port;
        Start();
    }

    /// <summary>nbdkit in the foreground on a Unix socket: <c>nbdkit -f -U SOCK [args]</c>.</summary>
    public static RemoteServer Nbdkit(Sandbox box, string name, params string[] args)
    {
        string socket = Path.Combine(box.Dir, name + ".sock");
        return new RemoteServer("nbdkit", ["-f", "-U", socket, .. args], socket, 0);
    }

    /// <summary>nbdkit on 127.0.0.1 and a free port outside the ephemeral range.</summary>
    public static RemoteServer NbdkitTcp(params string[] args) => NbdkitTcpOn(FreePort(), args);

    public static RemoteServer NbdkitTcpOn(int port, params string[] args) =>
        new("nbdkit", ["-f", "-i", "127.0.0.1", "-p", port.ToString(), .. args], null, port);

    /// <summary>qemu-nbd serving a raw file on a Unix socket to several clients.</summary>
    public static RemoteServer QemuNbd(Sandbox box, string name, string file)
    {
        string socket = Path.Combine(box.Dir, name + ".sock");
        return new RemoteServer("qemu-nbd", ["-f", "raw", "--socket", socket, "--persistent", "--shared=8", file], socket, 0);
    }

    public string Uri(string export = "") =>
        _socket is not null ? $"nbd+unix:///{export}?socket={_socket}" : $"nbd://127.0.0.1:{_port}/{export}";

    public void Start()
    {
        if (_socket is not null) File.Delete(_socket);
        _process = Process.Start(Tools.StartInfo(_program, _args))!;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Listening())
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{_program} exited with code {_process.ExitCode}: {_process.StandardError.ReadToEnd()}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{_program} {string.Join(' ', _args)} did not start listening");
            Thread.Sleep(50);
        }
    }

    private bool Listening()
    {
        if (_socket is not null) return File.Exists(_socket);
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Connect(IPAddress.Loopback, _port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL: the server vanishes without a word, as on a crash or a network cut.</summary>
    public void Kill()
    {
        if (_process is null) return;
        if (!_process.HasExited) Tools.Signal(_process.Id, Tools.SIGKILL);
        _process.WaitForExit();
        _process.Dispose();
        _process = null;
    }

    private static int FreePort()
    {
        // Out of the ephemeral range (32768-60999), so no client connection can be holding it.
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int port = Random.Shared.Next(20000, 30000);
            using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no free TCP port in 20000-30000");
    }

    public void Dispose() => Kill();
}
