using System.Diagnostics;
using System.Runtime.InteropServices;
using PCache.Client;

namespace PCache.Core;

/// <summary>
/// Start-PCacheDaemon and Stop-PCacheDaemon (PCache.psm1) for interactive use without systemd:
/// run the module's engine as `pcache daemon` in its own session, so Ctrl+C in the shell and the
/// shell's exit do not reach it, with its log in a file next to its socket.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static class DaemonLauncher
{
    public const string LogFileName = "pcache-daemon.log";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A private socket for a daemon started by hand: $XDG_RUNTIME_DIR/pcache/pcache.sock (the
    /// per-user runtime directory systemd --user would use), else /tmp/pcache-UID/pcache.sock.
    /// Never /run/pcache, which belongs to the system service.
    /// </summary>
    public static string PrivateSocketPath(string? xdgRuntimeDir, uint uid) =>
        !string.IsNullOrEmpty(xdgRuntimeDir) && Path.IsPathRooted(xdgRuntimeDir)
            ? Path.Combine(xdgRuntimeDir, "pcache", "pcache.sock")
            : Path.Combine(Path.GetTempPath(), $"pcache-{uid}", "pcache.sock");

    public static string PrivateSocketPath() =>
        PrivateSocketPath(Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"), geteuid());

    /// <summary>The daemon answering on <paramref name="socketPath"/>, or null when none does.</summary>
    public static DaemonInfo? Find(string socketPath)
    {
        var client = new PCacheClient(new SocketLocation(socketPath, SocketLocation.FromParameter)) { ConnectTimeout = TimeSpan.FromSeconds(2), RequestTimeout = TimeSpan.FromSeconds(5) };
        try
        {
            return DaemonInfo.From(client.PingAsync().GetAwaiter().GetResult());
        }
        catch (PCacheException)
        {
            return null;
        }
    }

    /// <summary>
    /// Start `ENGINE daemon --socket SOCKET [extra arguments]` detached, wait until it answers, and
    /// return it. Its output goes to <see cref="LogFileName"/> next to the socket. A daemon that
    /// exits or stays silent is a terminating error that quotes its log.
    /// </summary>
    public static DaemonInfo Start(string enginePath, string socketPath, IReadOnlyList<string> extraArguments, TimeSpan timeout, CancellationToken cancel = default)
    {
        if (!File.Exists(enginePath))
            throw Failed($"The PCache engine was not found at {enginePath}; the module folder is incomplete (rebuild it with ./build.sh).", enginePath);
        socketPath = Path.GetFullPath(socketPath);
        if (Find(socketPath) is { } running)
            throw Failed($"A PCache daemon (pid {running.Pid}) already answers on {socketPath}.", socketPath);
        string dir = Path.GetDirectoryName(socketPath)!;
        if (!Directory.Exists(dir))
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string log = Path.Combine(dir, LogFileName);

        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // setsid: a session of its own, so the terminal's Ctrl+C and hang-up never reach the daemon;
        // exec keeps one pid from sh to the engine, so the pid here is the daemon's.
        string setsid = File.Exists("/usr/bin/setsid") ? "setsid " : "";
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec {setsid}\"$@\" </dev/null >>\"$PCACHE_DAEMON_LOG\" 2>&1");
        start.ArgumentList.Add("pcache-daemon");
        start.ArgumentList.Add(enginePath);
        start.ArgumentList.Add("daemon");
        start.ArgumentList.Add("--socket");
        start.ArgumentList.Add(socketPath);
        foreach (string a in extraArguments) start.ArgumentList.Add(a);
        start.Environment["PCACHE_DAEMON_LOG"] = log;
        // A shell running under a systemd unit must not make the daemon report to that unit.
        start.Environment.Remove("NOTIFY_SOCKET");
        start.Environment.Remove("LISTEN_FDS");
        start.Environment.Remove("LISTEN_PID");

        long logStart = File.Exists(log) ? new FileInfo(log).Length : 0;
        using var process = Process.Start(start) ?? throw Failed($"Could not start {enginePath}.", enginePath);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (Find(socketPath) is { } daemon)
                return With(daemon, log);
            // Exit code 0 is setsid handing over to a forked child; anything else is the daemon failing.
            if (process.HasExited && process.ExitCode != 0)
                throw Failed($"The PCache daemon exited with code {process.ExitCode} before it answered on {socketPath}:\n{Tail(log, logStart)}", socketPath);
            if (clock.Elapsed > timeout)
                throw Failed($"The PCache daemon (pid {process.Id}) did not answer on {socketPath} within {timeout.TotalSeconds:0} s; its log {log} says:\n{Tail(log, logStart)}", socketPath);
            Task.Delay(PollInterval, cancel).GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// SIGTERM the daemon (it persists ksets and closes exports, keeping dirty data in pmem) and
    /// wait until the process is gone. Refuses a pid that is not a pcache process: a daemon in
    /// another pid namespace reports a pid that means something else here.
    /// </summary>
    public static void Stop(int pid, TimeSpan timeout, CancellationToken cancel = default)
    {
        string? comm = ReadProc(pid, "comm")?.Trim();
        if (comm is null) return;
        if (!comm.StartsWith("pcache", StringComparison.Ordinal))
            throw Failed($"Process {pid} is '{comm}', not the pcache daemon (is the daemon in another pid namespace?); stop it where it runs.", pid);
        if (kill(pid, SIGTERM) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ESRCH) return;
            throw Failed(errno == EPERM
                ? $"Not allowed to stop the pcache daemon (pid {pid}): it runs as another user; use 'sudo systemctl stop pcache' or sudo kill {pid}."
                : $"kill({pid}, SIGTERM) failed with errno {errno}.", pid);
        }
        var clock = Stopwatch.StartNew();
        while (IsAlive(pid))
        {
            if (clock.Elapsed > timeout)
                throw Failed($"The pcache daemon (pid {pid}) did not exit within {timeout.TotalSeconds:0} s of SIGTERM.", pid);
            Task.Delay(PollInterval, cancel).GetAwaiter().GetResult();
        }
    }

    /// <summary>Alive means present and not a zombie waiting for its parent.</summary>
    public static bool IsAlive(int pid)
    {
        string? stat = ReadProc(pid, "stat");
        if (stat is null) return false;
        int close = stat.LastIndexOf(')');
        return close < 0 || close + 2 >= stat.Length || stat[close + 2] != 'Z';
    }

    private static DaemonInfo With(DaemonInfo d, string log) => new()
    {
        Version = d.Version, Protocol = d.Protocol, Pid = d.Pid, Uid = d.Uid, SocketPath = d.SocketPath,
        NbdSocketPath = d.NbdSocketPath, NbdTcp = d.NbdTcp, StartedAt = d.StartedAt, UptimeSeconds = d.UptimeSeconds,
        CacheCount = d.CacheCount, BackingCount = d.BackingCount, NbdConnections = d.NbdConnections,
        ControlConnections = d.ControlConnections, LogPath = log,
    };

    private static string Tail(string log, long from)
    {
        try
        {
            using var f = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            f.Position = Math.Min(from, f.Length);
            string text = new StreamReader(f).ReadToEnd().Trim();
            var lines = text.Split('\n');
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 20)));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private static string? ReadProc(int pid, string file)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/{file}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static PCacheCommandException Failed(string message, object target) =>
        new(ErrorTranslator.Module(ErrorTranslator.DaemonStartFailedId, message, target));

    private const int SIGTERM = 15, ESRCH = 3, EPERM = 1;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [DllImport("libc")]
    private static extern uint geteuid();
}
