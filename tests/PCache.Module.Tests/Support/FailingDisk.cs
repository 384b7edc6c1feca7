using System.Diagnostics;

namespace PCache.Module.Tests;

/// <summary>
/// A backing file whose writes fail while <see cref="Failing"/> is on: an nbdkit memory disk
/// behind its error filter, shown as a regular file by nbdfuse. While it fails, write-back cannot
/// clean anything, so dirty data stays in the cache exactly as long as a test wants: the tests
/// that need dirty data never race the write-back.
/// </summary>
internal sealed class FailingDisk : IDisposable
{
    private readonly Process _nbdkit;
    private readonly Process _nbdfuse;
    private readonly string _trigger;
    private readonly string _mount;

    public FailingDisk(string dir, string size = "64M")
    {
        _mount = Path.Combine(dir, $"fuse-{Guid.NewGuid().ToString("N")[..6]}");
        Directory.CreateDirectory(_mount);
        DiskPath = Path.Combine(_mount, "disk");
        _trigger = Path.Combine(dir, $"fail-{Guid.NewGuid().ToString("N")[..6]}");
        string socket = Path.Combine(dir, $"kit-{Guid.NewGuid().ToString("N")[..6]}.sock");
        string[] ops = ["pwrite", "zero", "trim"];
        _nbdkit = Tools.Start("nbdkit", ["-f", "-U", socket, "--filter=error", "memory", size, "error=EIO",
            .. ops.Select(o => $"error-{o}-rate=100%"), .. ops.Select(o => $"error-{o}-file={_trigger}")]);
        WaitFor(() => File.Exists(socket), _nbdkit, "nbdkit");
        _nbdfuse = Tools.Start("nbdfuse", DiskPath, $"nbd+unix:///?socket={socket}");
        WaitFor(() => File.Exists(DiskPath), _nbdfuse, "nbdfuse");
    }

    public string DiskPath { get; }

    public bool Failing
    {
        set
        {
            if (value) File.WriteAllText(_trigger, "");
            else File.Delete(_trigger);
        }
    }

    private static void WaitFor(Func<bool> ready, Process process, string name)
    {
        var clock = Stopwatch.StartNew();
        while (!ready())
        {
            if (process.HasExited) throw new InvalidOperationException($"{name} exited with code {process.ExitCode}");
            if (clock.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{name} did not start");
            Thread.Sleep(50);
        }
    }

    public void Dispose()
    {
        Failing = false;
        Tools.Run("fusermount3", "-u", "-z", _mount);
        if (!_nbdfuse.WaitForExit(TimeSpan.FromSeconds(30))) _nbdfuse.Kill();
        if (!_nbdkit.HasExited) _nbdkit.Kill();
        _nbdkit.WaitForExit();
        _nbdfuse.Dispose();
        _nbdkit.Dispose();
    }
}
