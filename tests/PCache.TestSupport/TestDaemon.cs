using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using PCache.Client;

namespace PCache.TestSupport;

/// <summary>
/// `pcache daemon` as a child process on a sandbox's sockets. Readiness is systemd's: the test
/// binds a NOTIFY_SOCKET and waits for READY=1, the same signal Type=notify units rely on.
/// </summary>
public sealed class TestDaemon : IDisposable
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Socket _notify;
    private readonly string _notifyPath;
    private readonly List<string> _notifications = [];

    public TestDaemon(Sandbox box, params string[] extraArgs)
        : this(box, extraArgs, null)
    {
    }

    public TestDaemon(Sandbox box, string[] extraArgs, IDictionary<string, string?>? env, bool waitReady = true)
    {
        Box = box;
        _notifyPath = Path.Combine(box.Dir, $"notify-{Guid.NewGuid().ToString("N")[..6]}.sock");
        _notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _notify.Bind(new UnixDomainSocketEndPoint(_notifyPath));
        var environment = new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = _notifyPath };
        if (env is not null)
            foreach (var (k, v) in env) environment[k] = v;
        string[] args = extraArgs.Contains("--socket") ? ["daemon", .. extraArgs] : ["daemon", "--socket", box.SocketPath, .. extraArgs];
        _process = Process.Start(Tools.StartInfo(PcacheBinary.Path, args, environment))!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (waitReady) WaitFor("READY=1");
    }

    public Sandbox Box { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Log
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    /// <summary>Wait for a systemd notification line (READY=1, STOPPING=1).</summary>
    public void WaitFor(string notification)
    {
        var deadline = DateTime.UtcNow + StartLimit;
        var buffer = new byte[4096];
        while (!_notifications.Any(n => n.Split('\n').Contains(notification)))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the daemon sent no {notification} within {StartLimit.TotalSeconds} s\n{Log}");
            if (_notify.Poll(100_000, SelectMode.SelectRead))
            {
                int n = _notify.Receive(buffer);
                _notifications.Add(Encoding.UTF8.GetString(buffer, 0, n));
            }
            else if (_process.HasExited && !_notify.Poll(0, SelectMode.SelectRead))
            {
                _process.WaitForExit();
                throw new InvalidOperationException($"the daemon exited with code {_process.ExitCode} before {notification}:\n{Log}");
            }
        }
    }

    public IReadOnlyList<string> Notifications => _notifications;

    /// <summary>Wait until the daemon's log shows <paramref name="text"/> (stderr arrives apart from notifications).</summary>
    public void WaitForLog(string text)
    {
        var deadline = DateTime.UtcNow + StartLimit;
        while (!Log.Contains(text))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the daemon never logged '{text}':\n{Log}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Wait for the process to end on its own; its exit code.</summary>
    public int WaitForExit()
    {
        if (!_process.WaitForExit(TimeSpan.FromMinutes(2))) throw new TimeoutException($"the daemon did not exit\n{Log}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as systemctl stop sends; the exit code.</summary>
    public int Terminate()
    {
        Tools.Signal(_process.Id, Tools.SIGTERM);
        return WaitForExit();
    }

    /// <summary>SIGKILL: a crash, nothing persisted beyond what was flushed.</summary>
    public void Kill()
    {
        Tools.Signal(_process.Id, Tools.SIGKILL);
        _process.WaitForExit();
    }

    /// <summary>Run a client verb against this daemon's socket (through PCACHE_SOCKET, as users do).</summary>
    public Result Cli(params string[] args) =>
        Tools.Run(PcacheBinary.Path, args, new Dictionary<string, string?> { ["PCACHE_SOCKET"] = Box.SocketPath });

    /// <summary>Run a client verb that must succeed; its JSON output.</summary>
    public JsonElement Json(params string[] args)
    {
        var r = Cli(args);
        Assert.True(r.ExitCode == 0, $"pcache {string.Join(' ', args)} failed: {r}\n--- daemon log:\n{Log}");
        return JsonDocument.Parse(r.Stdout).RootElement.Clone();
    }

    public List<BackingEntry> Backings() =>
        Json("backing-list").Deserialize(ControlJsonContext.Default.ListBackingEntry)!;

    public BackingStatistics Stat(int backingId) =>
        Json("stat", "--backing-id", backingId.ToString()).Deserialize(ControlJsonContext.Default.StatResult)!.Backings.Single();

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }
            _process.WaitForExit();
        }
        _process.Dispose();
        _notify.Dispose();
    }
}
