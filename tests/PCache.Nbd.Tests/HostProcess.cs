using System.Diagnostics;

namespace PCache.Nbd.Tests;

/// <summary>
/// The NBD host (tests/PCache.NbdHost) as a child process: the real cache engine on a pmem file
/// in /dev/shm (the stand-in for pmem) in front of a backing file in its own temp directory, on
/// its own socket, so tests can run in parallel and can stop, kill and restart it (the engine
/// replays its log on every restart).
/// </summary>
internal sealed class HostProcess : IDisposable
{
    private readonly string[] exportArgs;
    private readonly bool tcp;
    private Process? process;

    public HostProcess(string exportName = "pcache0", string size = "64M", bool tcp = false, string cacheSize = "48M")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("pcache-nbd-").FullName;
        ExportName = exportName;
        BackingFile = Path.Combine(Directory, "backing.img");
        SocketPath = Path.Combine(Directory, "nbd.sock");
        PmemFile = $"/dev/shm/{Path.GetFileName(Directory)}.pmem";
        exportArgs = ["--export", $"{exportName}={BackingFile}:{size}", "--pmem", $"{PmemFile}:160M",
            "--cache-size", cacheSize, "--segment-mb", "1"];
        this.tcp = tcp;
        Start();
    }

    public string Directory { get; }
    public string ExportName { get; }
    public string BackingFile { get; }
    public string SocketPath { get; }
    public string PmemFile { get; }
    public string? TcpEndPoint { get; private set; }

    public string Uri => $"nbd+unix:///{ExportName}?socket={SocketPath}";

    public void Start()
    {
        var host = Path.Combine(AppContext.BaseDirectory, "PCache.NbdHost.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(host);
        start.ArgumentList.Add("--socket");
        start.ArgumentList.Add(SocketPath);
        if (tcp)
        {
            start.ArgumentList.Add("--tcp");
            start.ArgumentList.Add(TcpEndPoint is null ? "0" : TcpEndPoint.Split(':')[^1]);
        }
        foreach (var arg in exportArgs)
            start.ArgumentList.Add(arg);
        process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var ready = process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        if (ready is null || !ready.StartsWith("READY ", StringComparison.Ordinal))
            throw new InvalidOperationException($"NbdHost did not become ready: '{ready}'");
        var tcpField = ready.Split(' ').First(f => f.StartsWith("tcp=", StringComparison.Ordinal))[4..];
        if (tcpField != "-")
            TcpEndPoint = tcpField;
    }

    /// <summary>SIGTERM and wait: the host stops gracefully and must exit 0.</summary>
    public void Stop()
    {
        if (process is null)
            return;
        Tools.Run("kill", "-TERM", process.Id.ToString());
        Assert.True(process.WaitForExit(30_000), "NbdHost did not stop after SIGTERM");
        Assert.Equal(0, process.ExitCode);
        process.Dispose();
        process = null;
    }

    /// <summary>SIGKILL: no chance to clean up (the socket file stays behind, as after a crash).</summary>
    public void Kill()
    {
        if (process is null)
            return;
        process.Kill();
        process.WaitForExit();
        process.Dispose();
        process = null;
    }

    public void Dispose()
    {
        Kill();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        File.Delete(PmemFile);
    }
}
